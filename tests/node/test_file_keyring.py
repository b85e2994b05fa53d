"""The encrypted (`file`) keyring backend, its passphrase sources and how a backend is chosen."""
import json
import os
import stat

import pytest
from click.testing import CliRunner

from node.cli import cli
from node.config import ConfigError
from node.cli.file_keyring import FileKeyring
from node.home import Home
from node.cli.keyring_options import PASSPHRASE_ENV, KeyringChoice
from node.keys import KeyError_, Keyring
from node.cli.sealed_key import PassphraseError, WrongPassphrase

PASS = "correct horse battery"


def fixed(passphrase):
    return lambda choosing: passphrase


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The widest umask, so 0700/0600 can only come from the code, not the environment."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_round_trip_seals_the_seed_in_private_files(tmp_path, open_umask):
    ring = FileKeyring(tmp_path / "ring", fixed(PASS))
    key = ring.add("alice")
    text = ring.path("alice").read_text()
    assert key.seed.hex() not in text and json.loads(text)["crypto"]["kdf"] == "argon2id"
    assert mode(tmp_path / "ring") == 0o700 and mode(ring.path("alice")) == 0o600
    assert FileKeyring(tmp_path / "ring", fixed(PASS)).get("alice") == key
    assert ring.names() == ["alice"]


def test_test_backend_directory_is_private_too(tmp_path, open_umask):
    Keyring(tmp_path / "plain").add("bob")
    assert mode(tmp_path / "plain") == 0o700


def test_wrong_passphrase_is_refused_and_changes_nothing(tmp_path):
    FileKeyring(tmp_path, fixed(PASS)).add("alice")
    before = sorted(p.read_bytes() for p in tmp_path.iterdir())
    wrong = FileKeyring(tmp_path, fixed("not the passphrase"))
    with pytest.raises(WrongPassphrase, match=r"alice\.json: wrong passphrase"):
        wrong.get("alice")
    # adding under another passphrase would split the keyring: refused before writing
    with pytest.raises(WrongPassphrase):
        wrong.add("bob")
    assert sorted(p.read_bytes() for p in tmp_path.iterdir()) == before


def test_altered_or_crafted_files_are_refused(tmp_path):
    ring = FileKeyring(tmp_path, fixed(PASS))
    ring.add("alice")
    doc = json.loads(ring.path("alice").read_text())

    def rewrite(**crypto):
        ring.path("alice").write_text(json.dumps({**doc, "crypto": {**doc["crypto"], **crypto}}))

    flipped = bytes.fromhex(doc["crypto"]["ciphertext"])
    rewrite(ciphertext=(bytes([flipped[0] ^ 1]) + flipped[1:]).hex())
    with pytest.raises(WrongPassphrase):
        ring.get("alice")
    # KDF costs are bounded before the KDF runs (no 4 TiB allocation from a crafted file)
    rewrite(memlimit=1 << 42)
    with pytest.raises(KeyError_, match="memlimit must be an integer in"):
        ring.get("alice")
    rewrite(salt="00")
    with pytest.raises(KeyError_, match="salt must be 16 bytes"):
        ring.get("alice")
    ring.path("alice").write_text(json.dumps({**doc, "pub_key": "00" * 32}))
    with pytest.raises(KeyError_, match="pub_key does not match"):
        ring.get("alice")


def test_short_passphrase_and_backend_mixups_are_clear(tmp_path):
    with pytest.raises(KeyError_, match="at least 8 characters"):
        FileKeyring(tmp_path / "f", fixed("short")).add("alice")
    Keyring(tmp_path / "t").add("bob")
    with pytest.raises(KeyError_, match="not encrypted"):
        FileKeyring(tmp_path / "t", fixed(PASS)).get("bob")
    FileKeyring(tmp_path / "f", fixed(PASS)).add("carol")
    with pytest.raises(KeyError_, match="an encrypted key: use --keyring-backend file"):
        Keyring(tmp_path / "f").get("carol")


def test_backend_is_chosen_by_flag_then_config_then_test(tmp_path):
    home = Home(tmp_path / "h")
    none = KeyringChoice(None, None, None)
    ring = none.open(home.root)
    assert type(ring) is Keyring and ring.directory == home.root / "keyring"
    r = CliRunner().invoke(cli, ["init", "--home", str(home.root), "--moniker", "val",
                                 "--keyring-backend", "file"], env={PASSPHRASE_ENV: PASS})
    assert r.exit_code == 0, r.output
    assert home.load_config().keyring.backend == "file"
    ring = none.open(home.root)
    assert type(ring) is FileKeyring and ring.directory == home.root / "keyring-file"
    assert type(KeyringChoice("test", None, None).open(home.root)) is Keyring
    home.config_file.write_text(home.config_file.read_text().replace('backend = "file"', 'backend = "os"'))
    with pytest.raises(ConfigError, match="keyring.backend: must be one of file, test"):
        none.open(home.root)


def test_cli_passphrase_from_env_file_or_nothing(tmp_path, monkeypatch):
    run = CliRunner().invoke
    home = str(tmp_path / "h")
    r = run(cli, ["init", "--home", home, "--moniker", "val", "--keyring-backend", "file"],
            env={PASSPHRASE_ENV: PASS})
    operator = json.loads(r.output)["operator"]
    (tmp_path / "pass").write_text(PASS + "\nignored second line\n")
    # the config now says `file`: no flag needed, the passphrase comes from the file
    r = run(cli, ["keys", "show", "val", "--home", home,
                  "--keyring-passphrase-file", str(tmp_path / "pass")])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["address"] == operator
    r = run(cli, ["keys", "list", "--home", home], env={PASSPHRASE_ENV: "wrong passphrase"})
    assert r.exit_code == 1 and "wrong passphrase" in r.output
    # no env var, no file, stdin not a terminal: a clear error, not a hang
    r = run(cli, ["keys", "show", "val", "--home", home], env={PASSPHRASE_ENV: None})
    assert r.exit_code == 1 and PASSPHRASE_ENV in r.output
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    with pytest.raises(PassphraseError):
        KeyringChoice(None, None, None).open(Home(home).root).passphrase()
