"""Key files and the directories created for them are private to their owner (issue 9)."""
import stat

from click.testing import CliRunner

from node.cli import cli
from node.keys import Keyring


def mode(p) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_a_new_keyring_dir_is_0700_and_its_key_files_0600(tmp_path):
    ring = Keyring(tmp_path / "deep" / "ring")
    ring.add("alice")
    assert mode(tmp_path / "deep" / "ring") == 0o700
    assert mode(tmp_path / "deep") == 0o700
    assert mode(tmp_path / "deep" / "ring" / "alice.json") == 0o600


def test_keys_add_creates_the_home_keyring_private(tmp_path):
    r = CliRunner().invoke(cli, ["keys", "add", "bob", "--home", str(tmp_path / "home")])
    assert r.exit_code == 0, r.output
    assert mode(tmp_path / "home" / "keyring") == 0o700
    assert mode(tmp_path / "home" / "keyring" / "bob.json") == 0o600
