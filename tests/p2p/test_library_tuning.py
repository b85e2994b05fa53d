"""Per-message library work cut for a validator network (p2p/libp2p_transport/transport.py): the
signed peer record every pubsub RPC carries is verified once per peer, built once per host."""
from __future__ import annotations

import pytest

import p2p.libp2p_transport.transport as lt
from libp2p_net import addr, free_port, node_config, receive_within, until
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


def test_the_library_hooks_are_ours():
    import libp2p.pubsub.gossipsub as g
    import libp2p.pubsub.pubsub as p
    assert g.maybe_consume_signed_record is p.maybe_consume_signed_record is lt._consume_record_once


@pytest.mark.xdist_group("p2p")
async def test_yamux_returns_receive_credit_at_half_the_window_not_per_message():
    """The library sent a WINDOW_UPDATE frame for every gossip message read (as many frames
    again as messages); credit now goes back once half the window is read (go-yamux), and
    data well past the window still flows both ways."""
    import struct

    import trio
    from libp2p.stream_muxer.yamux import yamux

    from libp2p_net import addr, free_port, node_config, receive_within, until
    from p2p.ids import BLOCKS, ChainTopics
    from p2p.libp2p_transport import open_libp2p_transport
    from p2p.messages import TxBatch

    topics = ChainTopics("unit")
    updates = []
    library_write = yamux.Yamux._write_frame

    async def counting(self, data: bytes, *args, **kw):
        if struct.unpack(yamux.YAMUX_HEADER_FORMAT, data[:yamux.HEADER_SIZE])[1] == yamux.TYPE_WINDOW_UPDATE:
            updates.append(len(data))
        return await library_write(self, data, *args, **kw)

    seeds, ports = [b"w" * 32, b"x" * 32], [free_port(), free_port()]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(yamux.Yamux, "_write_frame", counting)
        async with open_libp2p_transport(node_config(seeds[0], ports[0], (addr(seeds[1], ports[1]),))) as a, \
                open_libp2p_transport(node_config(seeds[1], ports[1], (addr(seeds[0], ports[0]),))) as b:
            inbox = await b.subscribe(topics.txs)
            await a.subscribe(topics.txs)
            await until(lambda: a.subscribed_peers(topics.txs) == [b.local_peer])
            await trio.sleep(1.5)  # past the first heartbeats' control traffic
            updates.clear()
            for i in range(200):
                await a.publish(topics.txs, TxBatch((b"tx %d " % i + b"x" * 200,)).encode())
                await receive_within(inbox)
            per_200_messages = len(updates)

            async def blob(peer, request):
                return b"y" * 900_000

            b.set_request_handler(topics.protocol(BLOCKS), blob)
            # 3.6 MB over one connection: credit must keep coming back
            sizes = [len(await a.request(b.local_peer, topics.protocol(BLOCKS), b"?", timeout=20)) for _ in range(4)]
    assert per_200_messages < 20, f"{per_200_messages} WINDOW_UPDATE frames for 200 messages"
    assert sizes == [900_000] * 4


@pytest.mark.xdist_group("p2p")
@pytest.mark.parametrize("full_mesh", [True, False])
async def test_validators_in_a_full_mesh_do_not_relay_each_others_messages(full_mesh):
    """A, B, C list each other (direct peers). With validator_full_mesh, B and C get A's
    message from A only; without it, each also relays it to the other."""
    from p2p.config import P2PConfig
    from p2p.ids import ChainTopics
    from p2p.libp2p_transport import open_libp2p_transport, peer_id_from_seed
    from p2p.messages import TxBatch
    from testnet.network import free_ports

    topics = ChainTopics("unit")
    seeds = [bytes([65 + i]) * 32 for i in range(3)]
    ports = free_ports(3)
    addrs = [f"/ip4/127.0.0.1/tcp/{p}/p2p/{peer_id_from_seed(s)}" for p, s in zip(ports, seeds)]

    def cfg(i):
        return P2PConfig(chain_id="unit", identity_seed=seeds[i], listen_addrs=(f"/ip4/127.0.0.1/tcp/{ports[i]}",),
                         persistent_peers=tuple(a for j, a in enumerate(addrs) if j != i),
                         validator_full_mesh=full_mesh)
    async with open_libp2p_transport(cfg(0)) as a, open_libp2p_transport(cfg(1)) as b, \
            open_libp2p_transport(cfg(2)) as c:
        inboxes = [await t.subscribe(topics.txs) for t in (a, b, c)]
        await until(lambda: all(len(t.subscribed_peers(topics.txs)) == 2 for t in (a, b, c)))
        relayed, handled = [], []
        for t in (b, c):
            real = t.router.send_rpc
            def counting(peer, rpc, *args, real=real, t=t, **kw):
                if rpc.publish:
                    relayed.append(t.local_peer)
                return real(peer, rpc, *args, **kw)
            t.router.send_rpc = counting
            real_push = t.pubsub.push_msg

            async def push(forwarder, msg, real=real_push, t=t):  # checks, delivers, relays
                await real(forwarder, msg)
                handled.append(t.local_peer)
            t.pubsub.push_msg = push
        await a.publish(topics.txs, TxBatch((b"tx-from-a",)).encode())
        for inbox in inboxes[1:]:
            assert TxBatch.decode((await receive_within(inbox)).payload, 1000).txs == (b"tx-from-a",)
        # B and C have each handled A's message: any relay has been sent by then
        await until(lambda: {b.local_peer, c.local_peer} <= set(handled))
        direct = [len(t.router.direct_peers) for t in (a, b, c)]
        assert (relayed == []) is full_mesh
        assert direct == [2, 2, 2]  # nobody GRAFTed a direct peer and had it demoted


@pytest.mark.xdist_group("p2p")
async def test_validators_that_list_each_other_never_graft_each_other_and_stay_direct_peers():
    """py-libp2p 0.8.1 picks GRAFT targets (on subscribe and at each heartbeat's mesh upkeep)
    from every subscribed peer, direct peers included; go-libp2p never grafts a direct peer.
    Our transport takes a GRAFT from a direct peer as proof that the peer does not list us
    (a full node's validator) and demotes it, so two validators that list each other
    demoted each other within a heartbeat -- and validator_full_mesh relayed anyway."""
    from p2p.ids import ChainTopics
    from p2p.libp2p_transport import open_libp2p_transport

    topic = ChainTopics("unit").txs
    seeds, ports = (b"V" * 32, b"W" * 32), (free_port(), free_port())

    def cfg(i):
        return node_config(seeds[i], ports[i], (addr(seeds[1 - i], ports[1 - i]),), heartbeat_interval=0.1)
    async with open_libp2p_transport(cfg(0)) as a, open_libp2p_transport(cfg(1)) as b:
        grafts, heartbeats = [], {a.local_peer: 0, b.local_peer: 0}
        for t in (a, b):
            real_graft, real_upkeep = t.router.handle_graft, t.router.mesh_heartbeat

            async def graft(msg, sender, t=t, real=real_graft):
                grafts.append((str(sender), t.local_peer))
                await real(msg, sender)

            def upkeep(t=t, real=real_upkeep):
                heartbeats[t.local_peer] += 1
                return real()
            t.router.handle_graft, t.router.mesh_heartbeat = graft, upkeep
        await a.subscribe(topic)
        await until(lambda: b.subscribed_peers(topic) == [a.local_peer])
        await b.subscribe(topic)  # b joins knowing a's subscription: the library's join grafted a
        await until(lambda: a.subscribed_peers(topic) == [b.local_peer])
        seen = dict(heartbeats)
        await until(lambda: all(heartbeats[p] >= seen[p] + 3 for p in seen))  # mesh upkeep ran
        assert grafts == []
        assert [str(p) for p in a.router.direct_peers] == [b.local_peer]
        assert [str(p) for p in b.router.direct_peers] == [a.local_peer]
