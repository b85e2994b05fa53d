"""`attrchain testnet generate`: homes for nodes on many machines (testnet/generate.py)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from node.cli import cli
from node.cli.gentx import verify_final
from node.home import Home
from testnet.network import TestnetInfo

HOSTS = "10.9.0.1,10.9.0.2,10.9.0.2"


def generate(out, *extra: str):
    return CliRunner().invoke(cli, ["testnet", "generate", "-n", "3", "--hosts", HOSTS,
                                    "--full-hosts", "10.9.0.7", "--out", str(out), *extra])


def test_each_node_listens_on_its_host_and_dials_the_validators_there(tmp_path):
    r = generate(tmp_path / "net")
    assert r.exit_code == 0, r.output
    info = TestnetInfo.load(tmp_path / "net")
    cfgs = [Home(n.home).load_config() for n in info.nodes]
    # the second node on 10.9.0.2 steps its ports by 10
    assert [c.p2p.listen for c in cfgs] == ["/ip4/10.9.0.1/tcp/26656", "/ip4/10.9.0.2/tcp/26656",
                                            "/ip4/10.9.0.2/tcp/26666", "/ip4/10.9.0.7/tcp/26656"]
    assert [c.rpc.listen for c in cfgs] == ["10.9.0.1:26657", "10.9.0.2:26657", "10.9.0.2:26667", "10.9.0.7:26657"]
    validators = [n.multiaddr for n in info.nodes if n.validator]
    for node, cfg in zip(info.nodes, cfgs):
        assert sorted(cfg.p2p.persistent_peers) == sorted(m for m in validators if m != node.multiaddr)
    # one genesis, made by the gentx ceremony: every validator is its signed gentx
    docs = [Home(n.home).load_genesis_doc() for n in info.nodes]
    assert all(d == docs[0] for d in docs)
    checked = verify_final(docs[0])
    assert sorted(c.gentx.multiaddr for c in checked) == sorted(validators)
    assert not [p for p in (tmp_path / "net").rglob("*") if p.is_file() and b"127.0.0.1" in p.read_bytes()]


def test_listen_any_binds_all_interfaces_but_peers_dial_the_host(tmp_path):
    assert generate(tmp_path / "net", "--listen-any").exit_code == 0
    info = TestnetInfo.load(tmp_path / "net")
    assert Home(info.nodes[0].home).load_config().p2p.listen == "/ip4/0.0.0.0/tcp/26656"
    assert Home(info.nodes[1].home).load_config().p2p.persistent_peers[0].startswith("/ip4/10.9.0.1/tcp/26656/p2p/")


def test_bad_arguments_are_refused_and_an_existing_testnet_kept(tmp_path):
    out = tmp_path / "net"
    assert generate(out).exit_code == 0
    before = (out / "testnet.json").read_text()
    r = generate(out)
    assert r.exit_code == 1 and "already holds a testnet" in r.output
    assert (out / "testnet.json").read_text() == before
    r = CliRunner().invoke(cli, ["testnet", "generate", "-n", "2", "--hosts", "10.0.0.1", "--out", str(tmp_path / "x")])
    assert r.exit_code != 0 and "one per validator" in r.output
    r = CliRunner().invoke(cli, ["testnet", "generate", "-n", "1", "--hosts", "node1.example", "--out", str(tmp_path / "y")])
    assert r.exit_code != 0 and "not an IPv4 address" in r.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    assert json.loads(before)["chain_id"] == "attrchain-testnet"
