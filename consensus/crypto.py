"""ed25519 keys and signatures (PyNaCl) and the address of a consensus key."""
from __future__ import annotations

import hashlib

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

PUBKEY_SIZE = 32
SIGNATURE_SIZE = 64
ADDRESS_SIZE = 20


def address_from_pubkey(pub: bytes) -> bytes:
    """The first 20 bytes of sha256(pubkey) (docs/interfaces.md)."""
    if not isinstance(pub, bytes) or len(pub) != PUBKEY_SIZE:
        raise ValueError("public key must be 32 bytes")
    return hashlib.sha256(pub).digest()[:ADDRESS_SIZE]


def verify_signature(pub: bytes, msg: bytes, sig: bytes) -> bool:
    """True iff `sig` is pub's ed25519 signature of `msg`. Never raises."""
    try:
        if len(pub) != PUBKEY_SIZE or len(sig) != SIGNATURE_SIZE:
            return False
        VerifyKey(bytes(pub)).verify(bytes(msg), bytes(sig))
        return True
    except (BadSignatureError, TypeError, ValueError, Exception):  # noqa: BLE001 -- never raise
        return False


class Ed25519Key:
    """A private ed25519 key from a 32-byte seed. Signatures are deterministic (RFC 8032)."""

    __slots__ = ("_sk", "pub_key", "address")

    def __init__(self, seed: bytes):
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise ValueError("ed25519 seed must be 32 bytes")
        self._sk = SigningKey(seed)
        self.pub_key: bytes = bytes(self._sk.verify_key)
        self.address: bytes = address_from_pubkey(self.pub_key)

    @classmethod
    def generate(cls) -> "Ed25519Key":
        return cls(bytes(SigningKey.generate()))

    def sign(self, msg: bytes) -> bytes:
        return self._sk.sign(msg).signature
