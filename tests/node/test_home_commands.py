import json
import stat

from click.testing import CliRunner

from node.cli import cli
from node.home import Home
from node.keys import decode_address


def test_init_writes_cometbft_style_home(tmp_path):
    r = CliRunner().invoke(cli, ["init", "--home", str(tmp_path / "h"), "--moniker", "alice",
                                 "--chain-id", "test-1"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    home = Home(tmp_path / "h")
    for f in (home.node_key_file, home.validator_key_file, home.keyring.path("alice")):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert home.data_dir.is_dir()
    cfg = home.load_config()
    assert cfg.node.moniker == "alice"
    gen = home.load_genesis_doc()
    assert gen["chain_id"] == "test-1"
    assert gen["validators"][0]["consensus_pubkey"] == out["validator_pubkey"]
    assert decode_address(gen["balances"][0]["address"]) == home.keyring.get("alice").address
    # a second init refuses to clobber the home
    r2 = CliRunner().invoke(cli, ["init", "--home", str(tmp_path / "h"), "--moniker", "alice"])
    assert r2.exit_code == 1 and "exists" in r2.output
    assert json.loads(home.validator_key_file.read_text())["pub_key"] == out["validator_pubkey"]


def test_keys_add_list_show(tmp_path):
    run = CliRunner().invoke
    r = run(cli, ["keys", "add", "bob", "--home", str(tmp_path)])
    addr = json.loads(r.output)["address"]
    assert addr.startswith("open1")
    assert run(cli, ["keys", "list", "--home", str(tmp_path)]).output.strip() == f"bob\t{addr}"
    shown = json.loads(run(cli, ["keys", "show", "bob", "--home", str(tmp_path)]).output)
    assert shown["address"] == addr and "priv" not in json.dumps(shown)
    r = run(cli, ["keys", "show", "carol", "--home", str(tmp_path)])
    assert r.exit_code == 1 and "no key named 'carol'" in r.output
    r = run(cli, ["keys", "add", "bob", "--home", str(tmp_path)])
    assert r.exit_code == 1 and "already exists" in r.output
