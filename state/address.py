"""Account addresses: 20 bytes derived from an ed25519 public key, shown as bech32 `open1...`.

Address = first 20 bytes of sha256(pubkey) (CometBFT's convention). The text form is
bech32 (BIP-173) with human-readable part `open`, so a mistyped address fails its checksum
instead of sending funds to a stranger.
"""
from __future__ import annotations

import hashlib

import bech32

from state.errors import Code, TxError

HRP = "open"
ADDRESS_LEN = 20
PUBKEY_LEN = 32
_CHARSET = set("qpzry9x8gf2tvdw0s3jn54khce6mua7l")


def address_from_pubkey(pubkey: bytes) -> bytes:
    """The 20-byte account address of an ed25519 public key."""
    if len(pubkey) != PUBKEY_LEN:
        raise TxError(Code.BAD_PUBKEY, f"public key must be {PUBKEY_LEN} bytes, got {len(pubkey)}")
    return hashlib.sha256(pubkey).digest()[:ADDRESS_LEN]


def encode_address(address: bytes) -> str:
    """bech32 text form of a 20-byte address, e.g. `open1qy...`."""
    if len(address) != ADDRESS_LEN:
        raise TxError(Code.BAD_ADDRESS, f"address must be {ADDRESS_LEN} bytes, got {len(address)}")
    return bech32.bech32_encode(HRP, bech32.convertbits(address, 8, 5))


def decode_address(text: str) -> bytes:
    """Parse `open1...`; raises TxError(BAD_ADDRESS) naming what is wrong (prefix, characters,
    checksum, length)."""
    if not isinstance(text, str):
        raise TxError(Code.BAD_ADDRESS, "address must be a string")
    if text.lower() != text and text.upper() != text:
        raise TxError(Code.BAD_ADDRESS, "address mixes upper and lower case")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or text[:sep] != HRP:
        raise TxError(Code.BAD_ADDRESS, f"address must start with '{HRP}1'")
    data_part = text[sep + 1:]
    if len(data_part) < 6:
        raise TxError(Code.BAD_ADDRESS, "address too short")
    bad = sorted(set(data_part) - _CHARSET)
    if bad:
        raise TxError(Code.BAD_ADDRESS, f"address has characters outside bech32: {''.join(bad)!r}")
    data = [bech32.CHARSET.find(c) for c in data_part]
    if not bech32.bech32_verify_checksum(HRP, data):
        raise TxError(Code.BAD_ADDRESS, "address checksum does not match (mistyped?)")
    raw = bech32.convertbits(data[:-6], 5, 8, False)
    if raw is None or len(raw) != ADDRESS_LEN:
        raise TxError(Code.BAD_ADDRESS, f"address must encode {ADDRESS_LEN} bytes")
    return bytes(raw)
