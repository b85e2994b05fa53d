"""The libp2p transport in one process (two hosts over 127.0.0.1), plus a raw TCP client
that speaks multistream-select by hand to check which security protocols are offered."""
from __future__ import annotations

import pytest
import trio

from libp2p_net import LOADED, receive_within, until
from p2p.config import P2PConfig
from p2p.ids import BLOCKS, STATUS, ChainTopics
from p2p.libp2p_transport import open_libp2p_transport, peer_id_from_seed
from p2p.messages import TxBatch
from p2p.transport import MessageTooLarge, PeerEvent, RequestError, Transport

pytestmark = pytest.mark.xdist_group("p2p")
CHAIN = "unit"
TOPICS = ChainTopics(CHAIN)


def config(seed: bytes, **kw) -> P2PConfig:
    return P2PConfig(chain_id=CHAIN, identity_seed=seed, **kw)


def test_identity_is_a_stable_function_of_the_seed():
    assert peer_id_from_seed(b"a" * 32) == peer_id_from_seed(b"a" * 32)
    assert peer_id_from_seed(b"a" * 32) != peer_id_from_seed(b"b" * 32)
    assert peer_id_from_seed(b"a" * 32).startswith("12D3KooW")
    with pytest.raises(ValueError):
        config(b"short")
    with pytest.raises(ValueError, match="1 MiB"):
        config(b"a" * 32, max_gossip_size=2 * 1024 * 1024)


async def test_gossip_requests_and_limits_between_two_hosts():
    async with open_libp2p_transport(config(b"a" * 32, max_gossip_size=4096, max_response_size=10_000)) as a:
        assert isinstance(a, Transport)
        assert a.local_peer == peer_id_from_seed(b"a" * 32)
        b_config = config(b"b" * 32, persistent_peers=tuple(a.listen_addrs()), max_request_size=1000)
        async with open_libp2p_transport(b_config) as b:
            inbox = await a.subscribe(TOPICS.txs)
            await b.subscribe(TOPICS.txs)
            await until(lambda: b.subscribed_peers(TOPICS.txs) == [a.local_peer])
            assert b.peers() == [a.local_peer]

            batch = TxBatch((b"tx-1", b"tx-2")).encode()
            assert await b.publish(TOPICS.txs, batch)
            gossip = await receive_within(inbox)
            assert (gossip.topic, gossip.source, gossip.payload) == (TOPICS.txs, b.local_peer, batch)
            with pytest.raises(MessageTooLarge, match="too_large"):
                await a.publish(TOPICS.txs, b"x" * 4097)
            with pytest.raises(ValueError, match="unknown topic"):
                await a.publish("/attrchain/other-chain/txs/1", batch)

            async def status(peer, request):
                return b"status of " + peer.encode()

            async def broken(peer, request):
                raise ZeroDivisionError

            async def huge(peer, request):
                return b"x" * 20_000

            a.set_request_handler(TOPICS.protocol(STATUS), status)
            a.set_request_handler(TOPICS.protocol(BLOCKS), broken)
            assert await b.request(a.local_peer, TOPICS.protocol(STATUS), b"?") == b"status of " + b.local_peer.encode()
            with pytest.raises(RequestError) as err:
                await b.request(a.local_peer, TOPICS.protocol(BLOCKS), b"?")
            assert err.value.code == "internal"
            a.set_request_handler(TOPICS.protocol(BLOCKS), huge)
            with pytest.raises(RequestError) as err:
                await b.request(a.local_peer, TOPICS.protocol(BLOCKS), b"?")
            assert err.value.code == "too_large"
            with pytest.raises(RequestError) as err:
                await b.request(a.local_peer, TOPICS.protocol("proof"), b"?", timeout=2)
            assert err.value.code == "no_handler"
            with pytest.raises(MessageTooLarge):
                await b.request(a.local_peer, TOPICS.protocol(STATUS), b"x" * 1001)

            snapshot = a.counters.snapshot()
            assert snapshot["messages_in"] == 1 and snapshot["requests_in"] >= 3
            assert all(type(v) is int for v in snapshot.values())


async def test_garbage_is_refused_by_the_validator_and_its_sender_banned():
    async with open_libp2p_transport(config(b"c" * 32)) as a:
        async with open_libp2p_transport(config(b"d" * 32, persistent_peers=tuple(a.listen_addrs()))) as bad:
            inbox = await a.subscribe(TOPICS.votes)
            events = a.peer_events()
            await until(lambda: bad.subscribed_peers(TOPICS.votes) == [a.local_peer])
            for i in range(5):  # 5 x 20 points reaches the ban threshold of 100
                # (distinct bytes: ids are content hashes, a repeat would be deduplicated)
                await bad.publish_unchecked(TOPICS.votes, b"\xc1 not msgpack %d" % i)
            await until(lambda: a.peers() == [])
            print(a.counters.snapshot())
            assert a.counters.penalties["malformed"] == 5
            assert a.counters.penalties["banned"] == 1
            assert inbox.statistics().current_buffer_used == 0  # nothing was delivered
            with trio.move_on_after(LOADED) as waiting:  # the ban was announced as a disconnect
                while await events.receive() != PeerEvent(bad.local_peer, False):  # (as it banned)
                    pass
            if waiting.cancelled_caught:
                print("no disconnect event for the ban", flush=True)  # (see until(): printed)
                raise AssertionError("no disconnect event for the ban")
            # `bad` keeps redialling (it lists `a` as persistent) and is refused.
            await until(lambda: a.counters.drops["banned_peer_connection"] >= 2, state=lambda: {
                "a": a.counters.snapshot(), "bad's peers": bad.peers(), "bad": bad.counters.snapshot(),
                "bad's connections to a": len(bad.host.get_network().get_connections(bad.persistent[0].peer_id))})
            assert a.peers() == []


async def multistream_propose(port: int, protocol: str) -> str:
    """Open TCP, do multistream-select, propose one protocol; return the answer line."""

    def frame(text: str) -> bytes:
        data = text.encode() + b"\n"
        return bytes([len(data)]) + data  # lengths < 128 fit in a 1-byte varint

    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(frame("/multistream/1.0.0") + frame(protocol))
        buffer = b""
        answers = []
        with trio.fail_after(LOADED):
            while len(answers) < 2:
                chunk = await stream.receive_some(1024)
                if not chunk:
                    break
                buffer += chunk
                while buffer and len(buffer) > buffer[0]:
                    answers.append(buffer[1 : 1 + buffer[0]].decode().strip())
                    buffer = buffer[1 + buffer[0]:]
        return answers[-1] if len(answers) == 2 else "<closed>"


async def test_only_noise_is_offered_plaintext_tls_and_secio_are_refused():
    async with open_libp2p_transport(config(b"e" * 32)) as a:
        port = int(a.listen_addrs()[0].split("/tcp/")[1].split("/")[0])
        assert await multistream_propose(port, "/noise") == "/noise"
        for refused in ("/plaintext/2.0.0", "/plaintext/1.0.0", "/tls/1.0.0", "/secio/1.0.0"):
            assert await multistream_propose(port, refused) in ("na", "<closed>"), refused
        assert a.peers() == []


async def test_persistent_peer_is_redialled_within_2s_after_a_restart():
    from testnet.gossip_peer import free_port

    port = free_port()
    b_addr = f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id_from_seed(b'g' * 32)}"
    b_config = config(b"g" * 32, listen_addrs=(f"/ip4/127.0.0.1/tcp/{port}",))  # dials nobody
    async with open_libp2p_transport(config(b"f" * 32, persistent_peers=(b_addr,))) as a:
        async with open_libp2p_transport(b_config) as b:
            await until(lambda: a.peers() == [b.local_peer])
        await until(lambda: a.peers() == [])
        await until(lambda: a.counters.dials_failed >= 2)  # it keeps trying while b is down
        async with open_libp2p_transport(b_config) as b:
            # Only a's supervisor can bring b back; it must within 2 s of b listening.
            await until(lambda: b.local_peer in a.peers(), within=2.0)
            # the supervisor's redial did it (a second redial can follow if the first
            # connection of the restarted host is torn down by a simultaneous dial)
            assert a.counters.reconnects >= 1


async def test_a_dial_slower_than_the_first_timeout_is_retried_longer_and_connects(monkeypatch):
    """A loaded host: a's handshake with restarted b takes 1.5 s, longer than the first 1 s
    dial timeout. Redials wait longer until one connects; a peer whose dials hang (a listener
    that accepts TCP and never answers) does not hold that back. (At start the library's
    auto-connector dials once with its own timeout; after a loss only our redials do.)"""
    from testnet.gossip_peer import free_port

    hung = await trio.open_tcp_listeners(0, host="127.0.0.1")
    held = []

    async def hold(stream):
        held.append(stream)
        await trio.sleep_forever()

    port = free_port()
    b_config = config(b"h" * 32, listen_addrs=(f"/ip4/127.0.0.1/tcp/{port}",))  # dials nobody
    b_addr = f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id_from_seed(b'h' * 32)}"
    hung_peer = peer_id_from_seed(b"i" * 32)
    hung_addr = f"/ip4/127.0.0.1/tcp/{hung[0].socket.getsockname()[1]}/p2p/{hung_peer}"
    a_config = config(b"j" * 32, persistent_peers=(hung_addr, b_addr))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, hold, hung)
        async with open_libp2p_transport(a_config) as a:
            async with open_libp2p_transport(b_config) as b:
                await until(lambda: a.peers() == [b.local_peer])
            await until(lambda: a.peers() == [])
            network = a.host.get_network()
            library_upgrade = network.upgrade_outbound_raw_conn

            async def slow_upgrade(raw_conn, peer_id, pre_scope=None):
                await trio.sleep(1.5)  # a loaded host: Noise + Yamux take longer than 1 s
                return await library_upgrade(raw_conn, peer_id, pre_scope)

            monkeypatch.setattr(network, "upgrade_outbound_raw_conn", slow_upgrade)
            async with open_libp2p_transport(b_config) as b:
                await until(lambda: b.local_peer in a.peers(), within=15.0)  # before the fix: never
                assert a.dial_backoff.timeout(b.local_peer) == a_config.dial_timeout  # reset on success
            assert held  # the hung peer was dialled meanwhile, and its dials wait longer too
            assert a.dial_backoff.timeout(hung_peer) > a_config.dial_timeout
        nursery.cancel_scope.cancel()


async def test_a_message_the_topic_check_refuses_is_never_relayed_and_its_forwarder_is_penalised():
    """bad -> mid -> far over gossipsub: mid's check refuses, far never sees it."""
    def check(peer, batch):
        return "invalid" if batch.txs[0].startswith(b"forged") else None

    async with open_libp2p_transport(config(b"m" * 32)) as mid:
        # validator_peer_ids without us: mesh peering, no direct peering (that must be mutual)
        far_config = config(b"n" * 32, persistent_peers=tuple(mid.listen_addrs()), validator_peer_ids=("none",))
        bad_config = config(b"o" * 32, persistent_peers=tuple(mid.listen_addrs()), validator_peer_ids=("none",))
        async with open_libp2p_transport(far_config) as far, open_libp2p_transport(bad_config) as bad:
            mid_inbox = await mid.subscribe(TOPICS.txs, check=check)
            far_inbox = await far.subscribe(TOPICS.txs)
            await until(lambda: sorted(bad.subscribed_peers(TOPICS.txs) + far.subscribed_peers(TOPICS.txs))
                        == [mid.local_peer] * 2)
            await until(lambda: far.local_peer in {str(p) for p in mid.router.mesh.get(TOPICS.txs, ())})
            await bad.publish_unchecked(TOPICS.txs, TxBatch((b"forged-1",)).encode())
            await bad.publish_unchecked(TOPICS.txs, TxBatch((b"honest",)).encode())
            got = await receive_within(far_inbox)  # the honest one is relayed...
            assert TxBatch.decode(got.payload, 1000).txs == (b"honest",)
            assert TxBatch.decode((await receive_within(mid_inbox)).payload, 1000).txs == (b"honest",)
            assert mid.counters.penalties["invalid"] == 1  # ...the forged one penalised, not relayed
            with trio.move_on_after(0.3):
                pytest.fail(f"forged batch relayed: {await far_inbox.receive()}")


async def test_the_request_that_gets_a_peer_banned_still_gets_its_error_answer():
    from p2p.messages import MessageError

    async def strict(peer, request):
        raise MessageError("malformed", "no such request")

    async with open_libp2p_transport(config(b"p" * 32, ban_threshold=40)) as server:
        async with open_libp2p_transport(config(b"q" * 32, persistent_peers=tuple(server.listen_addrs()))) as asker:
            server.set_request_handler(TOPICS.protocol(STATUS), strict)
            await until(lambda: server.peers() == [asker.local_peer])
            for _ in range(2):  # 2 x 20 points: the second one bans
                with pytest.raises(RequestError) as err:
                    await asker.request(server.local_peer, TOPICS.protocol(STATUS), b"?")
                assert err.value.code == "malformed"
            assert server.counters.penalties["banned"] == 1
            await until(lambda: server.peers() == [])
