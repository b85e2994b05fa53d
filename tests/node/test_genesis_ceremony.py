"""The genesis ceremony (`attrchain genesis ...`, node/cli/gentx.py) as three operators and a
coordinator run it, and every way a gentx from someone else can be wrong."""
from __future__ import annotations

import hashlib
import json
import shutil

import msgpack
import pytest
from click.testing import CliRunner
from nacl.signing import SigningKey

from node.cli import cli
from node.cli.genesis_draft import GenesisError, genesis_hash
from node.cli.gentx import (
    MAX_GENTX_FILE_BYTES, Gentx, collect, make_gentx, node_info_bytes, read_gentx_dir, verify_final,
)
from node.home import Home
from node.keys import KeyPair
from state.genesis import Genesis
from state.tx import encode_signed, sign_tx

STAKE = 100_000_000
FUNDS = 5_000_000_000


def run(*args: str, code: int = 0) -> str:
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == code, r.output
    return r.output


@pytest.fixture
def ceremony(tmp_path):
    """A coordinator's draft with three funded operators, each with a gentx in the
    coordinator's gentx dir."""
    coord = tmp_path / "coord"
    run("genesis", "init", "--home", str(coord), "--chain-id", "cer-1", "--moniker", "coord")
    ops = []
    for i in range(3):
        home = tmp_path / f"op{i}"
        run("genesis", "init", "--home", str(home), "--chain-id", "cer-1", "--moniker", f"op{i}")
        addr = json.loads(run("keys", "add", f"op{i}", "--home", str(home)))["address"]
        run("genesis", "add-account", addr, str(FUNDS), "--home", str(coord))
        ops.append(home)
    run("genesis", "add-account", "open1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqk6e5vq", "1", "--home", str(coord),
        code=1)  # a bad bech32 checksum is refused, not guessed at
    gentx_dir = Home(coord).config_dir / "gentx"
    gentx_dir.mkdir()
    for i, home in enumerate(ops):
        shutil.copy(Home(coord).genesis_file, Home(home).genesis_file)
        out = json.loads(run("genesis", "gentx", "--home", str(home), "--from", f"op{i}", "--stake", str(STAKE),
                             "--p2p-address", f"/ip4/10.0.0.{i + 1}/tcp/26656"))
        shutil.copy(out["gentx"], gentx_dir)
    return coord, ops, gentx_dir


def test_operators_collect_one_genesis_and_every_one_gets_the_same_hash(ceremony, tmp_path):
    coord, ops, gentx_dir = ceremony
    draft = Home(coord).genesis_file.read_text()
    collected = json.loads(run("genesis", "collect-gentxs", "--home", str(coord)))
    assert collected["validators"] == 3 and len(collected["persistent_peers"]) == 3
    g = Genesis.load(Home(coord).genesis_file)
    assert sorted(v.stake for v in g.validators) == [STAKE] * 3
    # each bond came out of its operator's balance: the supply is what the draft funded
    assert sorted(dict(g.balances).values()) == [FUNDS - STAKE] * 3
    assert g.total_supply() == 3 * FUNDS
    # an operator who collects the same gentxs (in another order) onto the same draft gets
    # the same genesis; one who receives the coordinator's file checks the same hash
    other = Home(tmp_path / "other")
    run("genesis", "init", "--home", str(other.root), "--chain-id", "cer-1")
    other.genesis_file.write_text(draft)
    reversed_dir = tmp_path / "reversed"
    reversed_dir.mkdir()
    for i, f in enumerate(sorted(gentx_dir.iterdir(), reverse=True)):
        shutil.copy(f, reversed_dir / f"{i}.json")
    run("genesis", "collect-gentxs", "--home", str(other.root), "--gentx-dir", str(reversed_dir))
    hashes = {json.loads(run("genesis", "hash", "--home", str(other.root)))["genesis_hash"]}
    for home in ops:
        shutil.copy(Home(coord).genesis_file, Home(home).genesis_file)
        hashes.add(json.loads(run("genesis", "hash", "--home", str(home)))["genesis_hash"])
        peers = json.loads(run("genesis", "peers", "--home", str(home), "--write"))["persistent_peers"]
        assert Home(home).load_config().p2p.persistent_peers == peers and len(peers) == 2
    assert hashes == {collected["genesis_hash"]}


def _tamper(gentx_file, **changes) -> None:
    doc = json.loads(gentx_file.read_text())
    doc.update(changes)
    gentx_file.write_text(json.dumps(doc))


def _resigned_tx(gentx_file, **fields) -> str:
    """The gentx's tx with fields changed, keeping the original signature."""
    raw = bytes.fromhex(json.loads(gentx_file.read_text())["tx"])
    body_bytes, sig = msgpack.unpackb(raw)
    body = msgpack.unpackb(body_bytes)
    body[5][1] = fields.get("amount", body[5][1])
    return encode_signed(msgpack.packb(body, use_bin_type=True), sig).hex()


@pytest.mark.parametrize("attack, error", [
    (lambda f: _tamper(f, tx=_resigned_tx(f, amount=2 * STAKE)), "signature"),
    (lambda f: _tamper(f, p2p="/ip4/6.6.6.6/tcp/26656"), "node_signature"),
    (lambda f: _tamper(f, moniker="someone else"), "node_signature"),
    (lambda f: _tamper(f, peer_id="12D3KooWnotapeerid"), "peer id"),
    (lambda f: _tamper(f, p2p="/ip4/10.0.0.1/udp/1"), "p2p address"),
    (lambda f: _tamper(f, extra=1), "exactly"),
    (lambda f: _tamper(f, tx="zz"), "not hex"),
    (lambda f: _tamper(f, tx="00" * 5000), "longer than"),
    (lambda f: f.write_text("{not json"), "not JSON"),
    (lambda f: f.write_text(" " * (MAX_GENTX_FILE_BYTES + 1)), "over"),
    (lambda f: f.with_name("dir.json").mkdir(), "not a regular file"),
    (lambda f: shutil.copy(f, f.with_name("copy.json")), "share one operator"),
])
def test_a_bad_gentx_is_refused_by_name_and_changes_nothing(ceremony, attack, error):
    coord, _, gentx_dir = ceremony
    before = Home(coord).genesis_file.read_bytes()
    config_before = Home(coord).config_file.read_bytes()
    attack(sorted(gentx_dir.iterdir())[0])
    out = run("genesis", "collect-gentxs", "--home", str(coord), code=1)
    assert error in out
    assert Home(coord).genesis_file.read_bytes() == before
    assert Home(coord).config_file.read_bytes() == config_before


def _draft(balances: dict[bytes, int]) -> dict:
    from node.cli.genesis_draft import add_account, draft_genesis
    d = draft_genesis("cer-1", 0)
    for addr, n in balances.items():
        d = add_account(d, addr, n)
    return d


PEER = "12D3KooWHyGBk9msdg2gHy78TSxMpVKLHtMiERLRfPvjE28LbWsG"


def test_funds_chain_and_kind_are_checked_against_the_draft():
    op, cons = KeyPair(b"\x01" * 32), KeyPair(b"\x02" * 32)
    node = dict(moniker="op", peer_id=PEER, p2p="/ip4/10.0.0.1/tcp/26656")
    with pytest.raises(GenesisError, match="no genesis account"):
        make_gentx(_draft({}), op, cons.pub_key, STAKE, **node)
    with pytest.raises(GenesisError, match="stake must be"):
        make_gentx(_draft({op.address: STAKE - 1}), op, cons.pub_key, STAKE, **node)
    g = make_gentx(_draft({op.address: STAKE}), op, cons.pub_key, STAKE, **node)
    # the coordinator's draft must fund it too, at collection time
    with pytest.raises(GenesisError, match="bonds"):
        collect(_draft({op.address: STAKE - 1}), [("a", g)])
    with pytest.raises(GenesisError, match="not 'other-1'"):
        collect({**_draft({op.address: STAKE}), "chain_id": "other-1"}, [("a", g)])
    # a transfer signed by the operator is no gentx, even with a valid node signature
    tx = sign_tx(SigningKey(op.seed), "cer-1", 0, 0, "transfer", [cons.address, 1])
    sig = op.sign(node_info_bytes("cer-1", hashlib.sha256(tx).digest(), "op", PEER, node["p2p"]))
    with pytest.raises(GenesisError, match="not a create_validator"):
        collect(_draft({op.address: STAKE}), [("t", Gentx(tx, "op", PEER, node["p2p"], sig))])
    with pytest.raises(GenesisError, match="no chain_id"):
        make_gentx({"balances": []}, op, cons.pub_key, STAKE, **node)
    # collected once, a genesis takes no more accounts or gentxs
    final = collect(_draft({op.address: STAKE}), [("a", g)])
    with pytest.raises(GenesisError, match="already has validators"):
        collect(final, [("a", g)])


def test_hash_refuses_a_genesis_whose_validators_differ_from_their_gentxs(ceremony):
    coord, _, _ = ceremony
    run("genesis", "collect-gentxs", "--home", str(coord))
    doc = Home(coord).load_genesis_doc()
    assert len(verify_final(doc)) == 3
    doc["validators"][0]["stake"] += 1_000_000
    Home(coord).genesis_file.write_text(json.dumps(doc))
    assert "differ from its gentxs" in run("genesis", "hash", "--home", str(coord), code=1)


def test_hash_ignores_formatting_but_not_content(ceremony):
    coord, _, _ = ceremony
    run("genesis", "collect-gentxs", "--home", str(coord))
    doc = Home(coord).load_genesis_doc()
    assert genesis_hash(doc) == genesis_hash(json.loads(json.dumps(doc, indent=7)))
    assert genesis_hash(doc) != genesis_hash({**doc, "genesis_time_ms": doc["genesis_time_ms"] + 1})


def test_empty_or_crowded_gentx_dir_is_refused(tmp_path, monkeypatch):
    with pytest.raises(GenesisError, match="no gentx files"):
        read_gentx_dir(tmp_path)
    monkeypatch.setattr("node.cli.gentx.MAX_GENTXS", 2)
    for i in range(3):
        (tmp_path / f"{i}.json").write_text("{}")
    with pytest.raises(GenesisError, match="at most 2"):
        read_gentx_dir(tmp_path)


def test_gentx_signs_with_a_key_from_the_encrypted_file_keyring(tmp_path):
    home = tmp_path / "op"
    run("genesis", "init", "--home", str(home), "--chain-id", "cer-1", "--moniker", "op")
    good, bad = tmp_path / "pass", tmp_path / "wrong"
    good.write_text("correct horse battery\n")
    bad.write_text("not the passphrase\n")
    ring = ["--keyring-backend", "file", "--keyring-passphrase-file"]
    addr = json.loads(run("keys", "add", "op", "--home", str(home), *ring, str(good)))["address"]
    assert not Home(home).keyring.names()  # nothing in the plaintext keyring
    run("genesis", "add-account", addr, str(FUNDS), "--home", str(home))
    gentx = ["genesis", "gentx", "--home", str(home), "--from", "op", "--stake", str(STAKE),
             "--p2p-address", "/ip4/10.0.0.1/tcp/26656"]
    assert "wrong passphrase" in run(*gentx, *ring, str(bad), code=1)
    assert not (Home(home).config_dir / "gentx").exists()
    out = json.loads(run(*gentx, *ring, str(good)))
    assert out["operator"] == addr
    doc = collect(Home(home).load_genesis_doc(), read_gentx_dir(Home(home).config_dir / "gentx"))
    assert [v["operator"] for v in doc["validators"]] == [addr]
