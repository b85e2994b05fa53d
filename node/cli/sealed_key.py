"""A 32-byte key seed sealed under a passphrase (the `file` keyring backend's format).

argon2id (libsodium's pwhash) stretches the passphrase with a fresh 16-byte salt into a
SecretBox key; XSalsa20-Poly1305 encrypts the seed, so a wrong passphrase or any changed
byte fails authentication instead of yielding another key. The KDF costs are stored with
each sealed key so they can be raised later.
"""
from __future__ import annotations

import os

from nacl.exceptions import CryptoError
from nacl.pwhash import argon2id
from nacl.secret import SecretBox

from node.keys import KeyError_

KDF = "argon2id"
CIPHER = "xsalsa20-poly1305"
# libsodium's "interactive" costs (2 passes over 64 MiB), paid once per command that unlocks
OPSLIMIT = argon2id.OPSLIMIT_INTERACTIVE
MEMLIMIT = argon2id.MEMLIMIT_INTERACTIVE
SEED_BYTES = 32
MIN_PASSPHRASE = 8


class PassphraseError(KeyError_):
    """No passphrase could be had, or it is not the right one: no key of the keyring opens."""


class WrongPassphrase(PassphraseError):
    """The passphrase does not open the sealed key (or the file was altered)."""


def _box(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> SecretBox:
    key = argon2id.kdf(SecretBox.KEY_SIZE, passphrase.encode(), salt,
                       opslimit=opslimit, memlimit=memlimit)
    return SecretBox(key)


def seal(seed: bytes, passphrase: str) -> dict:
    """The JSON-able `crypto` object holding `seed` encrypted under `passphrase`."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeyError_(f"passphrase too short: use at least {MIN_PASSPHRASE} characters")
    salt = os.urandom(argon2id.SALTBYTES)
    sealed = _box(passphrase, salt, OPSLIMIT, MEMLIMIT).encrypt(seed)
    return {"kdf": KDF, "opslimit": OPSLIMIT, "memlimit": MEMLIMIT, "salt": salt.hex(),
            "cipher": CIPHER, "nonce": sealed.nonce.hex(), "ciphertext": sealed.ciphertext.hex()}


def _int_field(crypto: dict, name: str, lo: int, hi: int) -> int:
    value = crypto.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise KeyError_(f"sealed key: {name} must be an integer in [{lo}, {hi}]")
    return value


def _hex_field(crypto: dict, name: str, size: int) -> bytes:
    value = crypto.get(name)
    try:
        if isinstance(value, str) and len(value) == 2 * size:
            return bytes.fromhex(value)
    except ValueError:
        pass
    raise KeyError_(f"sealed key: {name} must be {size} bytes of hex")


def unseal(crypto: object, passphrase: str) -> bytes:
    """The seed inside a `seal` object; WrongPassphrase if it does not open."""
    if not isinstance(crypto, dict) or crypto.get("kdf") != KDF or crypto.get("cipher") != CIPHER:
        raise KeyError_(f"sealed key: expected kdf {KDF} and cipher {CIPHER}")
    # bounded before the KDF runs: a crafted file must not make us allocate gigabytes
    opslimit = _int_field(crypto, "opslimit", argon2id.OPSLIMIT_MIN, argon2id.OPSLIMIT_SENSITIVE)
    memlimit = _int_field(crypto, "memlimit", argon2id.MEMLIMIT_MIN, argon2id.MEMLIMIT_SENSITIVE)
    salt = _hex_field(crypto, "salt", argon2id.SALTBYTES)
    nonce = _hex_field(crypto, "nonce", SecretBox.NONCE_SIZE)
    ciphertext = _hex_field(crypto, "ciphertext", SEED_BYTES + SecretBox.MACBYTES)
    try:
        return _box(passphrase, salt, opslimit, memlimit).decrypt(ciphertext, nonce)
    except CryptoError:
        raise WrongPassphrase("wrong passphrase (or the key file was altered)") from None
