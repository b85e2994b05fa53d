"""How a command picks its keyring (the options of `init`, `keys`, `tx` and `light tx`).

The backend is `--keyring-backend`, else the home config's `[keyring] backend`, else `test`.
The directory is `--keyring-dir`, else the home's one for that backend. The `file`
backend's passphrase comes from `--keyring-passphrase-file`, else $ATTRCHAIN_KEYRING_PASSPHRASE,
else a prompt on the terminal; with none of them a command fails before it reads a key.
"""
from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import click

from node.config import KEYRING_BACKENDS, Config
from node.cli.file_keyring import FileKeyring, PassphraseSource
from node.home import Home
from node.keys import KeyError_, Keyring
from node.cli.sealed_key import PassphraseError

PASSPHRASE_ENV = "ATTRCHAIN_KEYRING_PASSPHRASE"
MAX_PASSPHRASE_FILE = 4096  # bytes read from --keyring-passphrase-file


# (declarations, attributes) of each option, for click.option and click.Option alike
_OPTIONS: list[tuple[list[str], dict[str, Any]]] = [
    (["--keyring-backend"], dict(
        type=click.Choice(KEYRING_BACKENDS), default=None,
        help="file: encrypted under a passphrase; test: plaintext "
             "(default: the home config's keyring.backend, else test)")),
    (["--keyring-dir"], dict(
        type=click.Path(path_type=Path), default=None,
        help="keyring directory (default: <home>/keyring, or <home>/keyring-file)")),
    (["--keyring-passphrase-file"], dict(
        type=click.Path(path_type=Path), default=None,
        help=f"file backend: the passphrase is this file's first line (else ${PASSPHRASE_ENV}, "
             "else a prompt)")),
]


def keyring_params() -> list[click.Option]:
    """The keyring options for a command built from a list of params."""
    return [click.Option(decls, **attrs) for decls, attrs in _OPTIONS]


@dataclass(frozen=True)
class KeyringChoice:
    backend: str | None
    directory: Path | None
    passphrase_file: Path | None

    @classmethod
    def pop_from(cls, kw: dict[str, Any]) -> "KeyringChoice":
        """Take the keyring options out of a click callback's keyword arguments."""
        return cls(kw.pop("keyring_backend"), kw.pop("keyring_dir"), kw.pop("keyring_passphrase_file"))

    def backend_for(self, home: Home) -> str:
        if self.backend:
            return self.backend
        if home.config_file.exists():
            return home.load_config().keyring.backend
        return Config().keyring.backend

    def open(self, home_dir: Path) -> Keyring:
        """The chosen keyring (raises ConfigError for a bad home config)."""
        home = Home(home_dir)
        backend = self.backend_for(home)
        directory = self.directory or home.keyring_dir(backend)
        if backend == "test":
            return Keyring(directory)
        return FileKeyring(directory, passphrase_source(self.passphrase_file))


def passphrase_source(passphrase_file: Path | None) -> PassphraseSource:
    def source(choosing: bool) -> str:
        if passphrase_file is not None:
            try:
                with open(passphrase_file, "rb") as f:
                    lines = f.read(MAX_PASSPHRASE_FILE).decode().splitlines()
            except (OSError, UnicodeDecodeError) as e:
                raise KeyError_(f"--keyring-passphrase-file {passphrase_file}: {e}") from None
            return lines[0] if lines else ""
        if PASSPHRASE_ENV in os.environ:
            return os.environ[PASSPHRASE_ENV]
        if not sys.stdin.isatty():
            raise PassphraseError(f"the file keyring needs its passphrase: set ${PASSPHRASE_ENV}, "
                            "give --keyring-passphrase-file, or run on a terminal")
        prompt = "Choose the keyring passphrase" if choosing else "Keyring passphrase"
        return click.prompt(prompt, hide_input=True, confirmation_prompt=choosing, err=True)
    return source


def keyring_options(f: Callable) -> Callable:
    """Decorator: the keyring options, handed to `f` as one `keyring: KeyringChoice`."""
    @functools.wraps(f)
    def wrapper(*args: Any, **kw: Any) -> Any:
        return f(*args, keyring=KeyringChoice.pop_from(kw), **kw)
    for decls, attrs in reversed(_OPTIONS):
        wrapper = click.option(*decls, **attrs)(wrapper)
    return wrapper
