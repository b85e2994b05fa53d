import os
import stat
import tomllib

import pytest

from node.config import Config, ConfigError, config_from_dict, load_config, save_config
from node.runtime.run import p2p_config
from p2p.config import P2PConfig
from node.runtime.durable import FileLastSignStore, Wal, read_wal
from node.keys import KeyError_, KeyPair, Keyring, decode_address, encode_address, load_key


def test_rendered_config_round_trips_and_is_commented(tmp_path):
    cfg = Config()
    cfg.p2p.persistent_peers = ["/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGzBTydtGFKjpbB5czJEq4ssQi3zvrrV2J2dPWrpozVNq"]
    p = tmp_path / "config.toml"
    save_config(p, cfg)
    text = p.read_text()
    assert "# pause after a commit" in text and "[mempool]" in text
    assert load_config(p) == cfg
    assert tomllib.loads(text)["consensus"]["timeout_commit_ms"] == 1000


@pytest.mark.parametrize("data,needle", [
    ({"nodes": {}}, "unknown section [nodes]"),
    ({"node": {"monikr": "x"}}, "unknown key node.monikr"),
    ({"consensus": {"timeout_commit_ms": "1s"}}, "consensus.timeout_commit_ms: expected int"),
    ({"consensus": {"timeout_commit_ms": -1}}, "must be >= 0"),
    ({"node": {"log_level": "loud"}}, "node.log_level"),
    ({"rpc": {"listen": "nowhere"}}, "rpc.listen"),
    ({"p2p": {"listen": "tcp://x"}}, "p2p.listen"),
    ({"p2p": {"persistent_peers": ["/ip4/1.2.3.4/tcp/5"]}}, "no /p2p/"),
    ({"mempool": {"max_txs": 0}}, "mempool.max_txs"),
    ({"mempool": {"signature_threads": 65}}, "mempool.signature_threads: must be 0..64"),
    ({"p2p": {"seeds": ["/ip4/1.2.3.4/tcp/5"]}}, "p2p.seeds: '/ip4/1.2.3.4/tcp/5' has no /p2p/"),
    ({"p2p": {"private_peer_ids": ["not a peer id"]}}, "p2p.private_peer_ids"),
    ({"p2p": {"pex": "yes"}}, "p2p.pex: expected bool"),
    ({"p2p": {"max_peers": 0}}, "p2p.max_peers"),
    ({"p2p": {"dial_timeout_ms": 0}}, "p2p.dial_timeout_ms: must be > 0, got 0"),
    ({"p2p": {"max_dial_timeout_ms": -5}}, "p2p.max_dial_timeout_ms: must be > 0, got -5"),
    ({"p2p": {"dial_timeout_ms": 2.5}}, "p2p.dial_timeout_ms: expected int"),
    ({"p2p": {"dial_timeout_ms": 5000, "max_dial_timeout_ms": 2000}},
     "p2p.dial_timeout_ms: 5000 is above p2p.max_dial_timeout_ms 2000"),
    ({"p2p": {"dial_timeout_ms": 20_000}}, "p2p.dial_timeout_ms: 20000 is above p2p.max_dial_timeout_ms 10000"),
])
def test_bad_config_names_the_key(data, needle):
    with pytest.raises(ConfigError) as e:
        config_from_dict(data)
    assert needle in str(e.value)


def test_dial_timeout_keys_reach_the_transport_config(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text("[p2p]\ndial_timeout_ms = 1500\nmax_dial_timeout_ms = 30000\n")
    p2p = p2p_config(load_config(p).p2p, "test-chain", bytes(32))
    assert (p2p.dial_timeout, p2p.max_dial_timeout) == (1.5, 30.0)
    save_config(p, load_config(p))
    assert "# the cap a peer's doubled dial timeout" in p.read_text()
    assert tomllib.loads(p.read_text())["p2p"]["max_dial_timeout_ms"] == 30000


def test_an_older_config_without_dial_timeouts_gets_the_transport_defaults(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text("[p2p]\nmax_peers = 7\n")  # written before the dial timeout keys existed
    p2p = p2p_config(load_config(p).p2p, "test-chain", bytes(32))
    assert (p2p.dial_timeout, p2p.max_dial_timeout) == (P2PConfig.dial_timeout, P2PConfig.max_dial_timeout)
    assert p2p.max_peers == 7


def test_a_retired_key_of_an_older_home_still_loads_and_is_written_no_more(tmp_path):
    assert config_from_dict({"consensus": {"create_empty_blocks": True, "timeout_commit_ms": 7},
                             "mempool": {"gossip_batch_max_txs": 500}}) == \
        config_from_dict({"consensus": {"timeout_commit_ms": 7}})
    save_config(tmp_path / "config.toml", Config())
    text = (tmp_path / "config.toml").read_text()
    assert "create_empty_blocks" not in text and "gossip_batch_max_txs" not in text


def test_missing_and_unparsable_config(tmp_path):
    with pytest.raises(ConfigError, match="attrchain init"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[node\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_address_bech32_round_trip_and_errors():
    k = KeyPair.generate()
    text = encode_address(k.address)
    assert text.startswith("open1") and decode_address(text) == k.address
    assert decode_address(k.address.hex()) == k.address
    with pytest.raises(KeyError_):
        decode_address(text[:-1] + ("q" if text[-1] != "q" else "p"))
    with pytest.raises(KeyError_):
        decode_address("cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq")


def test_keyring_files_are_private_and_reload(tmp_path):
    ring = Keyring(tmp_path / "keyring")
    k = ring.add("alice")
    p = ring.path("alice")
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert ring.get("alice") == k and ring.names() == ["alice"]
    with pytest.raises(KeyError_, match="already exists"):
        ring.add("alice")
    with pytest.raises(KeyError_, match="bad key name"):
        ring.add("../evil")
    os.chmod(p, 0o644)
    with pytest.raises(KeyError_, match="readable by others"):
        load_key(p)


def test_wal_survives_torn_tail(tmp_path):
    p = tmp_path / "cs.wal"
    w = Wal(p)
    w.append(b"one")
    w.append(b"two" * 100)
    w.close()
    with open(p, "ab") as f:
        f.write(b"\x00\x00\x01\x00garbage")  # a torn record
    assert read_wal(p) == [b"one", b"two" * 100]
    w = Wal(p)
    w.append(b"three")
    w.close()
    assert read_wal(p) == [b"one", b"two" * 100, b"three"]
    w = Wal(p)
    w.truncate()
    w.close()
    assert read_wal(p) == []


def test_wal_crc_mismatch_stops(tmp_path):
    p = tmp_path / "cs.wal"
    w = Wal(p)
    w.append(b"aaaa")
    w.append(b"bbbb")
    w.close()
    data = bytearray(p.read_bytes())
    data[-1] ^= 1
    p.write_bytes(bytes(data))
    assert read_wal(p) == [b"aaaa"]


def test_last_sign_store_atomic(tmp_path):
    s = FileLastSignStore(tmp_path / "priv_validator_state.json")
    assert s.load() is None
    s.save({"height": 3, "round": 1, "step": 2, "signature": "ab"})
    assert s.load()["height"] == 3
    assert not (tmp_path / "priv_validator_state.json.tmp").exists()
    (tmp_path / "priv_validator_state.json").write_text("{")
    with pytest.raises(ValueError, match="refusing to sign"):
        s.load()
