"""Per-message library work cut for a validator network (p2p/libp2p_transport.py): the
signed peer record every pubsub RPC carries is verified once per peer, built once per host."""
from __future__ import annotations

import os

import p2p.libp2p_transport as lt
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2


def rpc_with_record(record: bytes) -> rpc_pb2.RPC:
    rpc = rpc_pb2.RPC()
    rpc.senderRecord = record
    return rpc


def test_a_peer_record_is_verified_once_and_a_bad_one_every_time(monkeypatch):
    calls = []
    monkeypatch.setattr(lt, "_library_consume_record", lambda rpc, host, peer: calls.append(rpc.senderRecord)
                        or rpc.senderRecord != b"bad")
    monkeypatch.setattr(lt, "_records_seen", {})
    peer, other = ID(b"\x00\x01peer-a"), ID(b"\x00\x01peer-b")
    for _ in range(5):
        assert lt._consume_record_once(rpc_with_record(b"good"), None, peer) is True
    assert lt._consume_record_once(rpc_with_record(b"good"), None, other) is True  # per peer
    for _ in range(2):
        assert lt._consume_record_once(rpc_with_record(b"bad"), None, peer) is False  # never cached
    assert lt._consume_record_once(rpc_pb2.RPC(), None, peer) is True  # no record: nothing to check
    assert calls == [b"good", b"good", b"bad", b"bad"]


def test_the_envelope_is_built_once_per_host(monkeypatch):
    built = []
    monkeypatch.setattr(lt, "_library_env_to_send", lambda host: built.append(host) or (b"env-%d" % len(built), True))

    class Host:
        pass
    a, b = Host(), Host()
    assert [lt._envelope_once(a)[0] for _ in range(3)] == [b"env-1"] * 3
    assert lt._envelope_once(b)[0] == b"env-2"
    assert built == [a, b]


def test_yamux_window_updates_are_batched():
    assert os.environ["PY_YAMUX_RELEASE_ON_READ"] == "0"
    import libp2p.pubsub.gossipsub as g
    import libp2p.pubsub.pubsub as p
    assert g.maybe_consume_signed_record is p.maybe_consume_signed_record is lt._consume_record_once
