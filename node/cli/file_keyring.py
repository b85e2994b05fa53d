"""The `file` keyring backend: account keys sealed under one passphrase (as the Cosmos SDK's).

Each key is `<dir>/<name>.json` (mode 0600, directories created 0700) holding its public key
and address in the clear (so the file says what it holds) and its seed sealed by
node/cli/sealed_key.py. Unsealing checks the seed against the stated public key. One keyring
has one passphrase: adding a key first proves the passphrase opens an existing key, so a
mistyped one cannot leave keys under different passphrases.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from node.keys import (KeyError_, KeyPair, Keyring, checked_key, encode_address,
                       read_private_json, write_private_file)
from node.cli.sealed_key import WrongPassphrase, seal, unseal

# Asked at most once per keyring object; the argument is True when the keyring holds no
# key yet, so the passphrase is being chosen (an interactive source asks for it twice).
PassphraseSource = Callable[[bool], str]


class FileKeyring(Keyring):
    def __init__(self, directory: Path, passphrase: PassphraseSource):
        super().__init__(directory)
        self._source = passphrase
        self._passphrase: str | None = None

    def passphrase(self) -> str:
        if self._passphrase is None:
            self._passphrase = self._source(not self.names())
        return self._passphrase

    def _save(self, path: Path, key: KeyPair, name: str) -> None:
        others = [n for n in self.names() if n != name]
        if others:
            self.get(others[0])  # one keyring, one passphrase
        doc = {"type": "ed25519", "kind": "account", "name": name, "pub_key": key.pub_key.hex(),
               "address": encode_address(key.address), "crypto": seal(key.seed, self.passphrase())}
        write_private_file(path, (json.dumps(doc, indent=2) + "\n").encode())

    def _load(self, path: Path) -> KeyPair:
        doc = read_private_json(path)
        if "crypto" not in doc:
            raise KeyError_(f"{path}: not encrypted (a `test` keyring key): "
                            "use --keyring-backend test")
        try:
            seed = unseal(doc["crypto"], self.passphrase())
        except WrongPassphrase as e:
            raise WrongPassphrase(f"{path}: {e}") from None
        except KeyError_ as e:
            raise KeyError_(f"{path}: {e}") from None
        return checked_key(path, doc, seed)
