"""The in-memory transport (faults) and batched tx gossip over it."""
from __future__ import annotations

import pytest
import trio
import trio.testing

from p2p.messages import TxBatch, decode_message
from p2p.memory import open_memory_network
from p2p.transport import MessageTooLarge, PeerEvent, RequestError, Transport
from p2p.tx_gossip import open_tx_gossip
from state.tx import tx_id

TOPIC = "/attrchain/mem/txs/1"
RAW = "/test/raw"  # outside the chain's topic ids: bytes pass unchecked, size aside


async def receive_n(channel, n, within=5.0):
    with trio.fail_after(within):
        return [await channel.receive() for _ in range(n)]


async def receive_txs(gossip, n, within=5.0):
    """Collect n delivered txs (one per item, or a tuple per batch with batched=True)."""
    got = []
    with trio.fail_after(within):
        while len(got) < n:
            item = await gossip.received.receive()
            got.extend(item) if gossip.batched else got.append(item)
    assert len(got) == n
    return got


async def test_memory_transport_implements_the_interface_and_gossips():
    async with open_memory_network() as net:
        async with net.open_transport("a") as a, net.open_transport("b") as b, net.open_transport("c") as c:
            assert isinstance(a, Transport)
            channels = {t.local_peer: await t.subscribe(RAW) for t in (b, c)}
            assert await a.publish(RAW, b"hello")
            for channel in channels.values():
                (gossip,) = await receive_n(channel, 1)
                assert (gossip.topic, gossip.source, gossip.payload) == (RAW, "a", b"hello")
            assert a.peers() == ["b", "c"]
            assert a.subscribed_peers(RAW) == ["b", "c"] and b.subscribed_peers(RAW) == ["c"]
            assert a.counters.messages_out == 1 and b.counters.messages_in == 1


async def test_publish_over_the_limit_raises_a_clear_error():
    async with open_memory_network() as net, net.open_transport("a", max_gossip_size=100) as a:
        with pytest.raises(MessageTooLarge, match="too_large.*101 bytes.*100"):
            await a.publish(TOPIC, b"x" * 101)


async def test_partition_cuts_gossip_and_emits_peer_events_until_healed():
    async with open_memory_network() as net:
        async with net.open_transport("a") as a, net.open_transport("b") as b:
            events = a.peer_events()
            inbox = await b.subscribe(RAW)
            net.partition({"a"}, {"b"})
            assert await receive_n(events, 1) == [PeerEvent("b", False)]
            assert a.peers() == []
            await a.publish(RAW, b"lost")
            with pytest.raises(RequestError) as err:
                await a.request("b", "/p", b"", timeout=1)
            assert err.value.code == "unreachable"
            net.heal()
            assert await receive_n(events, 1) == [PeerEvent("b", True)]
            await a.publish(RAW, b"after")
            (gossip,) = await receive_n(inbox, 1)
            assert gossip.payload == b"after"  # the message sent during the partition is gone


async def test_loss_duplication_and_delay_are_seeded_and_observable():
    async with open_memory_network(seed=7, loss=0.3, duplicate=0.3, delay=lambda rng: rng.uniform(0, 0.01)) as net:
        async with net.open_transport("a") as a, net.open_transport("b") as b:
            inbox = await b.subscribe(RAW)
            for i in range(200):
                await a.publish(RAW, b"%d" % i)
            got = []
            with trio.move_on_after(0.5):  # all deliveries are due within 10 ms
                async for gossip in inbox:
                    got.append(gossip.payload)
            assert 0 < len(set(got)) < 200  # some lost
            assert len(got) > len(set(got))  # some duplicated


async def test_requests_answer_errors_with_codes():
    async with open_memory_network(delay=0.001) as net:
        async with net.open_transport("a") as a, net.open_transport("b") as b:
            async def echo(peer, payload):
                return peer.encode() + b":" + payload

            async def broken(peer, payload):
                raise KeyError("boom")

            async def slow(peer, payload):
                await trio.sleep_forever()

            b.set_request_handler("/echo", echo)
            b.set_request_handler("/broken", broken)
            b.set_request_handler("/slow", slow)
            assert await a.request("b", "/echo", b"hi") == b"a:hi"
            for protocol, code in (("/broken", "internal"), ("/none", "no_handler"), ("/slow", "timeout")):
                with pytest.raises(RequestError) as err:
                    await a.request("b", protocol, b"", timeout=0.2)
                assert err.value.code == code


async def test_a_flooding_peer_is_rate_limited_and_penalised_as_on_libp2p():
    async with open_memory_network() as net:
        async with net.open_transport("a") as a, net.open_transport("b", inbound_msgs_per_s=5) as b:
            inbox = await b.subscribe(TOPIC)
            for i in range(12):  # a burst of 2 s x 5 msgs/s = 10 passes, the rest is refused
                await a.publish(TOPIC, TxBatch((b"%d" % i,)).encode())
            got = await receive_n(inbox, 10)
            with trio.move_on_after(0.1):
                pytest.fail(f"a message over the rate delivered: {await inbox.receive()}")
            assert [TxBatch.decode(g.payload, 100).txs for g in got] == [(b"%d" % i,) for i in range(10)]
            assert b.counters.drops["rate_limited"] == 2 and b.counters.penalties["rate_limited"] == 2


async def test_a_request_that_does_not_decode_is_answered_and_penalised_as_on_libp2p():
    async with open_memory_network() as net:
        async with net.open_transport("a") as a, net.open_transport("b", max_request_size=50) as b:
            async def decode(peer, payload):
                decode_message(payload, 1000)  # raises MessageError on garbage
                return b"ok"

            b.set_request_handler("/decode", decode)
            for payload, code in ((b"\xc1garbage", "malformed"), (b"x" * 51, "too_large")):
                with pytest.raises(RequestError) as err:
                    await a.request("b", "/decode", payload, timeout=1)
                assert err.value.code == code
            assert dict(b.counters.penalties) == {"malformed": 1, "too_large": 1}
            assert b.counters.drops["malformed"] == 1 and b.counters.drops["too_large"] == 1


async def test_penalised_peer_is_banned_after_enough_points():
    async with open_memory_network() as net:
        async with net.open_transport("a", validators=["v"]) as a, net.open_transport("b"), net.open_transport("v"):
            for _ in range(4):
                a.penalise("b", "malformed")
                a.penalise("v", "malformed")
            assert a.peers() == ["b", "v"]
            a.penalise("b", "malformed")  # 5 x 20 points reaches the threshold of 100
            a.penalise("v", "malformed")
            assert a.peers() == ["v"]  # validators are counted, never banned
            assert a.counters.penalties["malformed"] == 10 and a.counters.penalties["banned"] == 1


async def test_tx_gossip_delivers_each_tx_once_despite_duplicates_and_relays():
    async with open_memory_network(seed=3, duplicate=0.5, delay=0.002) as net:
        async with net.open_transport("a") as ta, net.open_transport("b") as tb, net.open_transport("c") as tc:
            async with open_tx_gossip(ta, TOPIC, tx_id=tx_id) as a, open_tx_gossip(tb, TOPIC, tx_id=tx_id) as b, \
                    open_tx_gossip(tc, TOPIC, tx_id=tx_id, batched=True) as c:
                txs_a = [b"a-%d" % i for i in range(500)]
                txs_b = [b"b-%d" % i for i in range(500)]
                for tx in txs_a:
                    assert a.submit(tx)
                assert not a.submit(txs_a[0])  # already seen
                for tx in txs_b:
                    b.submit(tx)
                got_c = await receive_txs(c, 1000)
                assert sorted(r.tx for r in got_c) == sorted(txs_a + txs_b)
                assert all(r.tx_id == tx_id(r.tx) for r in got_c)
                got_a = await receive_txs(a, 500)
                assert sorted(r.tx for r in got_a) == sorted(txs_b)
                # Re-gossiping the same txs (a relay) delivers nothing new.
                c.submit(b"c-0")
                await c.flush()
                await receive_txs(a, 1)
                for tx in txs_b[:10]:
                    tb_batch = TxBatch((tx,)).encode()
                    await tb.publish(TOPIC, tb_batch)
                await c.flush()
                with trio.move_on_after(0.2):
                    extra = await a.received.receive()
                    pytest.fail(f"duplicate delivered: {extra}")
                assert a.counters.drops["duplicate_tx"] > 0
                # Far fewer gossip messages than transactions: batching.
                assert ta.counters.messages_out < 50


async def test_tx_gossip_flushes_at_the_size_limit_without_waiting():
    async with open_memory_network() as net:
        async with net.open_transport("a") as ta, net.open_transport("b") as tb:
            async with open_tx_gossip(ta, TOPIC, tx_id=tx_id, flush_interval=3600, max_batch_bytes=1000) as a, \
                    open_tx_gossip(tb, TOPIC, tx_id=tx_id) as b:
                for i in range(10):
                    a.submit(b"%03d" % i + b"x" * 97)  # 10 x 100 bytes fills a batch
                got = await receive_txs(b, 9, within=2)  # long before the hour
                assert len(got) == 9


async def test_tx_gossip_keeps_flushing_on_its_interval_after_an_explicit_flush():
    """A proposer's explicit flush (node/runtime/consensus_net.py) while the flusher idles
    must not strand the flusher: txs submitted afterwards still go out within the
    interval, not only at the node's next explicit flush (its next proposal)."""
    async with open_memory_network() as net:
        async with net.open_transport("a") as ta, net.open_transport("b") as tb:
            async with open_tx_gossip(ta, TOPIC, tx_id=tx_id, flush_interval=0.05) as a, \
                    open_tx_gossip(tb, TOPIC, tx_id=tx_id) as b:
                for round in range(3):
                    await trio.testing.wait_all_tasks_blocked()  # the flusher waits for a tx
                    await a.flush()  # nothing pending
                    a.submit(b"after-flush-%d" % round)
                    got = await receive_txs(b, 1, within=2)  # within the interval, not never
                    assert got[0].tx == b"after-flush-%d" % round
                    a.submit(b"pending-%d" % round)
                    await a.flush()  # something pending: out now, the flusher finds nothing
                    assert (await receive_txs(b, 1, within=2))[0].tx == b"pending-%d" % round


async def test_bad_batch_penalises_its_source_and_delivers_nothing():
    async with open_memory_network() as net:
        async with net.open_transport("a") as ta, net.open_transport("b") as tb:
            async with open_tx_gossip(tb, TOPIC, tx_id=tx_id) as b:
                await ta.publish(TOPIC, b"\xc1garbage")
                await ta.publish(TOPIC, TxBatch((b"ok",)).encode())
                (got,) = await receive_txs(b, 1)
                assert got.tx == b"ok"
                # refused by the transport's envelope check, as on libp2p, before TxGossip
                assert tb.counters.penalties["malformed"] == 1
                assert tb.counters.drops["malformed"] == 1


async def test_topic_check_refuses_before_delivery_and_blames_only_when_asked():
    from p2p.transport import IGNORE

    def check(peer, batch):
        return {b"bad": "invalid", b"later": IGNORE}.get(batch.txs[0])

    async with open_memory_network() as net:
        async with net.open_transport("a") as ta, net.open_transport("b") as tb:
            inbox = await tb.subscribe(TOPIC, check=check)
            for tx in (b"bad", b"later", b"good"):
                await ta.publish(TOPIC, TxBatch((tx,)).encode())
            await ta.publish(TOPIC, b"\xc1garbage")
            (got,) = await receive_n(inbox, 1)
            assert TxBatch.decode(got.payload, 1000).txs == (b"good",)
            with trio.move_on_after(0.1):
                pytest.fail(f"refused message delivered: {await inbox.receive()}")
            assert dict(tb.counters.penalties) == {"invalid": 1, "malformed": 1}
            assert tb.counters.drops["ignored"] == 1 and tb.counters.drops["refused.invalid"] == 1


async def test_tx_gossip_with_a_tx_check_refuses_a_batch_holding_one_invalid_tx():
    async with open_memory_network() as net:
        async with net.open_transport("a") as ta, net.open_transport("b") as tb:
            async with open_tx_gossip(tb, TOPIC, tx_id=tx_id, check_tx=lambda tx: not tx.startswith(b"forged")) as b:
                await ta.publish(TOPIC, TxBatch((b"ok-1", b"forged")).encode())
                await ta.publish(TOPIC, TxBatch((b"ok-2",)).encode())
                (got,) = await receive_txs(b, 1)
                assert got.tx == b"ok-2"
                assert tb.counters.penalties["invalid"] == 1


async def test_a_refused_message_coming_back_from_its_peer_is_dropped_unchecked_and_penalised_once():
    """gossipsub marks only valid messages seen, so a refused one comes back (IHAVE/IWANT)."""
    from p2p.transport import IGNORE

    checked = []

    def check(peer, batch):
        checked.append((peer, batch.txs[0]))
        return {b"bad": "invalid", b"later": IGNORE}.get(batch.txs[0])

    async with open_memory_network() as net:
        async with net.open_transport("b") as tb:
            await tb.subscribe(TOPIC, check=check)
            policy = tb.policy
            bad, later = TxBatch((b"bad",)).encode(), TxBatch((b"later",)).encode()
            for _ in range(3):
                assert not policy.admit_gossip("a", "txs", bad, check, b"id-bad")
                assert not policy.admit_gossip("a", "txs", later, check, b"id-later")
                assert not policy.admit_gossip("a", "txs", b"\xc1", check, b"id-garbage")
            assert tb.counters.penalties["invalid"] == 1 and tb.counters.penalties["malformed"] == 1
            assert tb.counters.drops["refused_again"] == 4
            # an IGNOREd message says nothing of itself: checked again every time
            assert checked == [("a", b"bad")] + [("a", b"later")] * 3
            # another peer relaying the same invalid message is checked and penalised itself
            assert not policy.admit_gossip("c", "txs", bad, check, b"id-bad")
            assert tb.counters.penalties["invalid"] == 2 and checked[-1] == ("c", b"bad")
            # without an id (a transport that has none) nothing is remembered
            assert not policy.admit_gossip("a", "txs", bad, check)
            assert tb.counters.penalties["invalid"] == 3
