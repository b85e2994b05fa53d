"""Key files and addresses.

Three kinds of ed25519 key live on disk, each a JSON file written with mode 0600:
the node key (libp2p identity), the validator consensus key, and account keys in a keyring
directory (created 0700). Addresses are sha256(pubkey)[:20] shown as bech32 with the `open` prefix.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import bech32
from nacl.signing import SigningKey

HRP = "open"
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class KeyError_(ValueError):
    """A key file or name is missing, malformed or unsafe (message names the reason)."""


def address_from_pubkey(pub: bytes) -> bytes:
    return hashlib.sha256(pub).digest()[:20]


def encode_address(addr: bytes) -> str:
    if len(addr) != 20:
        raise KeyError_(f"address must be 20 bytes, got {len(addr)}")
    return bech32.bech32_encode(HRP, bech32.convertbits(addr, 8, 5))


def decode_address(text: str) -> bytes:
    """`open1...` -> 20 bytes; also accepts 40 hex characters."""
    text = text.strip()
    if re.fullmatch(r"(0x)?[0-9a-fA-F]{40}", text):
        return bytes.fromhex(text.removeprefix("0x"))
    hrp, data = bech32.bech32_decode(text)
    if hrp != HRP or data is None:
        raise KeyError_(f"not an {HRP}1... address: {text!r}")
    raw = bech32.convertbits(data, 5, 8, False)
    if raw is None or len(raw) != 20:
        raise KeyError_(f"bad address payload length: {text!r}")
    return bytes(raw)


@dataclass(frozen=True)
class KeyPair:
    seed: bytes  # 32-byte ed25519 seed

    @classmethod
    def generate(cls) -> "KeyPair":
        return cls(os.urandom(32))

    @property
    def signing_key(self) -> SigningKey:
        return SigningKey(self.seed)

    @property
    def pub_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @property
    def address(self) -> bytes:
        return address_from_pubkey(self.pub_key)

    def sign(self, msg: bytes) -> bytes:
        return self.signing_key.sign(msg).signature


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and any missing parent with mode 0700 (a keyring's file names
    are account names; nobody else lists them). Existing directories are left as they are."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)  # mkdir's mode is filtered by the umask


def write_private_file(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 (never world-readable, even briefly), fsynced; missing
    directories above it are created 0700."""
    make_private_dirs(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def save_key(path: Path, key: KeyPair, kind: str, name: str = "") -> None:
    doc = {"type": "ed25519", "kind": kind, "pub_key": key.pub_key.hex(),
           "address": encode_address(key.address), "priv_seed": key.seed.hex()}
    if name:
        doc["name"] = name
    write_private_file(path, (json.dumps(doc, indent=2) + "\n").encode())


def read_private_json(path: Path) -> dict:
    """A key file's JSON object; refused when group or others have any access to it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyError_(f"{path}: no such key file") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyError_(f"{path}: readable by others (mode {oct(mode & 0o777)}); chmod 600 it")
    try:
        doc = json.loads(path.read_text())
    except ValueError as e:
        raise KeyError_(f"{path}: malformed key file ({e})") from None
    if not isinstance(doc, dict):
        raise KeyError_(f"{path}: malformed key file (not a JSON object)")
    return doc


def checked_key(path: Path, doc: dict, seed: bytes) -> KeyPair:
    """The key of `seed`, which must match the public key the file states."""
    if len(seed) != 32:
        raise KeyError_(f"{path}: seed must be 32 bytes")
    key = KeyPair(seed)
    if doc.get("pub_key") and doc["pub_key"] != key.pub_key.hex():
        raise KeyError_(f"{path}: pub_key does not match the private key")
    return key


def load_key(path: Path) -> KeyPair:
    doc = read_private_json(path)
    if "crypto" in doc:
        raise KeyError_(f"{path}: an encrypted key: use --keyring-backend file")
    try:
        seed = bytes.fromhex(doc["priv_seed"])
    except (ValueError, KeyError, TypeError) as e:
        raise KeyError_(f"{path}: malformed key file ({e})") from None
    return checked_key(path, doc, seed)


class Keyring:
    """The `test` keyring backend: account keys in plaintext, one file per name in a
    directory (node/cli/file_keyring.py holds the encrypted one)."""

    def __init__(self, directory: Path):
        self.directory = directory

    def path(self, name: str) -> Path:
        if not NAME_RE.match(name):
            raise KeyError_(f"bad key name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
        return self.directory / f"{name}.json"

    def add(self, name: str, key: KeyPair | None = None) -> KeyPair:
        p = self.path(name)
        if p.exists():
            raise KeyError_(f"key {name!r} already exists in {self.directory}")
        key = key or KeyPair.generate()
        self._save(p, key, name)
        return key

    def get(self, name: str) -> KeyPair:
        p = self.path(name)
        if not p.exists():
            raise KeyError_(f"no key named {name!r} in {self.directory}")
        return self._load(p)

    # how a backend stores a key: here in plaintext
    def _save(self, path: Path, key: KeyPair, name: str) -> None:
        save_key(path, key, "account", name)

    def _load(self, path: Path) -> KeyPair:
        return load_key(path)

    def names(self) -> list[str]:
        if not self.directory.exists():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json"))
