"""Peer exchange: the answer codec's bounds, the address book, and real hosts learning
peers, refusing garbage answers, and keeping a sentry's validator private."""
from __future__ import annotations

from contextlib import asynccontextmanager

import msgpack
import pytest

from libp2p_net import CHAIN, LOADED, addr, free_port, node_config, receive_within, until
from p2p.ids import PEX, ChainTopics
from p2p.libp2p_transport import open_libp2p_transport, peer_id_from_seed
from p2p.messages import MessageError, TxBatch
from p2p.pex import (
    MAX_ANSWER, MAX_BOOK, PeerBook, PexPacer, check_peer_address, decode_answer, encode_answer,
)
from p2p.transport import RequestError

pytestmark = pytest.mark.xdist_group("p2p")
TOPICS = ChainTopics(CHAIN)
PEX_PROTOCOL = TOPICS.protocol(PEX)
A, B = peer_id_from_seed(b"a" * 32), peer_id_from_seed(b"b" * 32)


def test_an_answer_round_trips_with_peer_ids_appended():
    entries = [(A, "/ip4/10.0.0.1/tcp/26656"), (B, "/dns4/node.example/tcp/1")]
    assert decode_answer(encode_answer(entries)) == [(A, f"/ip4/10.0.0.1/tcp/26656/p2p/{A}"),
                                                     (B, f"/dns4/node.example/tcp/1/p2p/{B}")]
    assert check_peer_address(A, f"/ip4/10.0.0.1/tcp/5/p2p/{A}") == f"/ip4/10.0.0.1/tcp/5/p2p/{A}"


@pytest.mark.parametrize("peer, address", [
    ("not base58 0OIl", "/ip4/10.0.0.1/tcp/1"),
    (7, "/ip4/10.0.0.1/tcp/1"),
    (A, "/ip4/10.0.0.1/udp/1"),  # not tcp
    (A, "/ip4/0.0.0.0/tcp/1"),  # unspecified host
    (A, "/ip6/::/tcp/1"),
    (A, "/ip4/10.0.0.1/tcp/0"),
    (A, "/tcp/1"),
    (A, "/ip4/999.0.0.1/tcp/1"),  # does not parse
    (A, "ip4/10.0.0.1/tcp/1"),
    (A, f"/ip4/10.0.0.1/tcp/1/p2p/{B}"),  # someone else's id
    (A, "/ip4/10.0.0.1/tcp/1/ws"),
    (A, "/ip4/10.0.0.1/tcp/1" + "/" * 300),  # over the length bound
])
def test_a_bad_pair_is_refused(peer, address):
    with pytest.raises(MessageError) as err:
        decode_answer(msgpack.packb([[peer, address]]))
    assert err.value.code in ("bad_field", "malformed")


@pytest.mark.parametrize("data, code", [
    (b"\xc1", "malformed"),
    (msgpack.packb({"a": 1}), "malformed"),
    (msgpack.packb([[A]]), "malformed"),
    (msgpack.packb([[A, "/ip4/10.0.0.1/tcp/1", "extra"]]), "malformed"),
    (msgpack.packb([[A, "/ip4/10.0.0.1/tcp/1"]] * (MAX_ANSWER + 1)), "malformed"),  # over the count
    (msgpack.packb([[A, b"/ip4/10.0.0.1/tcp/1"]]), "malformed"),  # bytes, not text
    (b"\x90" + b"x" * 20_000, "too_large"),
])
def test_a_bad_answer_is_refused_before_work(data, code):
    with pytest.raises(MessageError) as err:
        decode_answer(data)
    assert err.value.code == code


def test_the_book_answers_only_good_public_peers_and_stays_bounded():
    private = peer_id_from_seed(b"p" * 32)
    book = PeerBook(A, frozenset({private}))
    assert not book.add(A, "/ip4/1.1.1.1/tcp/1/p2p/x")  # ourselves
    assert not book.add(private, "/ip4/1.1.1.2/tcp/1")
    book.dialled(private, f"/ip4/1.1.1.2/tcp/1/p2p/{private}", True)  # connected, still never answered
    assert book.add(B, f"/ip4/1.1.1.3/tcp/1/p2p/{B}")
    assert book.answer("asker") == []  # heard of, never dialled
    book.dialled(B, f"/ip4/1.1.1.3/tcp/1/p2p/{B}", True)
    assert book.answer("asker") == [(B, "/ip4/1.1.1.3/tcp/1")]
    assert book.answer(B) == []  # not the asker's own address
    for _ in range(3):
        book.dialled(B, f"/ip4/1.1.1.3/tcp/1/p2p/{B}", False)
    assert B not in book.addrs and book.answer("asker") == []  # forgotten after 3 failures
    for i in range(MAX_BOOK + 10):
        book.add(f"peer{i}", "/ip4/1.1.1.1/tcp/1")
    assert len(book.addrs) == MAX_BOOK
    assert len(book.to_dial(connected=[], dialling=[], room=5)) == 5


def test_a_settled_node_asks_less_and_less_and_a_lost_peer_brings_it_back():
    pacer = PexPacer(5.0, 60.0)
    assert [pacer.after_round(0, 0) for _ in range(6)] == [10.0, 20.0, 40.0, 60.0, 60.0, 60.0]
    assert pacer.after_round(1, 0) == 5.0  # learned an address
    assert pacer.after_round(0, 0) == 10.0
    assert pacer.after_round(0, 2) == 5.0  # dialled some
    pacer.after_round(0, 0)
    assert pacer.peer_lost() == 5.0 and pacer.after_round(0, 0) == 10.0


FAST = dict(pex=True, pex_interval=0.2, pex_max_interval=0.4, pex_min_interval=0.1)


@asynccontextmanager
async def hub_and_newcomer(**newcomer):
    """b and c; hub, which dialled both; a newcomer whose one seed is hub."""
    seeds = [bytes([i]) * 32 for i in range(1, 4)]
    ports = [free_port() for _ in seeds]
    async with open_libp2p_transport(node_config(seeds[1], ports[1], **FAST)) as b, \
            open_libp2p_transport(node_config(seeds[2], ports[2], **FAST)) as c, \
            open_libp2p_transport(node_config(seeds[0], ports[0], (addr(seeds[1], ports[1]),
                                                                   addr(seeds[2], ports[2])), **FAST)) as hub, \
            open_libp2p_transport(node_config(b"n" * 32, 0, seeds=(addr(seeds[0], ports[0]),),
                                              **FAST, **newcomer)) as new:
        yield hub, b, c, new


async def test_a_node_that_knows_one_peer_learns_the_others_and_connects_to_them():
    async with hub_and_newcomer() as (hub, b, c, new):
        await until(lambda: new.peers() == sorted([hub.local_peer, b.local_peer, c.local_peer]))
        assert new.counters.pex_learned >= 2


async def test_asking_too_often_or_with_a_body_is_refused_and_penalised():
    async with open_libp2p_transport(node_config(b"h" * 32, pex=True, pex_min_interval=60.0)) as hub, \
            open_libp2p_transport(node_config(b"q" * 32)) as asker:
        await asker.connect(hub.listen_addrs()[0], timeout=LOADED)
        assert decode_answer(await asker.request(hub.local_peer, PEX_PROTOCOL, b"", timeout=LOADED)) == []
        for body, code in ((b"", "rate_limited"), (b"x", "bad_request")):
            with pytest.raises(RequestError) as err:
                await asker.request(hub.local_peer, PEX_PROTOCOL, body, timeout=LOADED)
            assert err.value.code == code
            assert hub.counters.penalties[code] == 1


async def test_a_bounded_node_dials_no_more_than_max_peers():
    async with hub_and_newcomer(max_peers=2) as (hub, b, c, new):
        await until(lambda: new.counters.pex_learned >= 2 and len(new.peers()) == 2)
        asked = hub.counters.requests_in  # b and c keep asking hub: a clock of PEX rounds
        await until(lambda: hub.counters.requests_in >= asked + 6)
        assert len(new.peers()) == 2
        assert {b.local_peer, c.local_peer} & set(new.peers())


async def test_the_library_dials_no_peer_of_its_peerstore_on_its_own():
    """py-libp2p's connection manager (AutoConnector) dialled, every 10 s and after each
    disconnect, every peer of the peerstore while below 200 connections: past max_peers,
    bans and PEX. It is parked: a peer the library merely stored is never dialled."""
    from libp2p.peer.id import ID
    from multiaddr import Multiaddr

    seeds, ports = [b"k" * 32, b"m" * 32], [free_port(), free_port()]
    async with open_libp2p_transport(node_config(seeds[0], ports[0])) as kept, \
            open_libp2p_transport(node_config(seeds[1], ports[1])) as stored, \
            open_libp2p_transport(node_config(b"o" * 32, 0, (addr(seeds[0], ports[0]),), **FAST,
                                              max_peers=1)) as bounded:
        await until(lambda: bounded.peers() == [kept.local_peer])
        # an address the library learnt (an inbound peer, a peer record in a pubsub RPC)
        bounded.host.get_peerstore().add_addrs(ID.from_base58(stored.local_peer),
                                               [Multiaddr(f"/ip4/127.0.0.1/tcp/{ports[1]}")], 3600)
        library_dialer = bounded.host.get_network().auto_connector
        await until(lambda: not library_dialer._is_connecting)  # its start-up cycle is over
        await library_dialer.maybe_connect()  # one whole cycle, its dials done
        peers, kept_peer, stored_peers = bounded.peers(), kept.local_peer, stored.peers()
    assert peers == [kept_peer] and stored_peers == []


async def test_a_garbage_answer_is_penalised_and_nothing_is_learned():
    async with open_libp2p_transport(node_config(b"g" * 32)) as liar:
        async def garbage(peer, request):
            return msgpack.packb([[A, "/ip4/0.0.0.0/tcp/1"]])

        liar.set_request_handler(PEX_PROTOCOL, garbage)
        cfg = node_config(b"n" * 32, seeds=(liar.listen_addrs()[0],), pex=True, pex_interval=0.1)
        async with open_libp2p_transport(cfg) as new:
            await until(lambda: new.counters.penalties["bad_field"] >= 2)
            assert new.counters.drops["pex_bad_field"] >= 2
            assert set(new.book.addrs) == {liar.local_peer} and new.counters.pex_learned == 0


async def test_an_oversized_answer_is_cut_off_at_its_cap_and_penalised():
    async with open_libp2p_transport(node_config(b"g" * 32)) as liar:
        async def huge(peer, request):
            return b"\x90" + b"x" * 1_000_000  # far over an answer's cap, under the 8 MiB response cap

        liar.set_request_handler(PEX_PROTOCOL, huge)
        cfg = node_config(b"n" * 32, seeds=(liar.listen_addrs()[0],), pex=True, pex_interval=0.1)
        async with open_libp2p_transport(cfg) as new:
            await until(lambda: new.counters.penalties["too_large"] >= 2)
            assert new.counters.drops["pex_too_large"] >= 2
            assert set(new.book.addrs) == {liar.local_peer} and new.counters.pex_learned == 0


async def test_a_validator_behind_a_sentry_is_in_the_gossip_but_never_in_pex_answers():
    val, sentry, other = b"v" * 32, b"s" * 32, b"o" * 32
    pv, ps, po = free_port(), free_port(), free_port()
    val_id = peer_id_from_seed(val)
    # CometBFT's layout: the validator has PEX off and only its sentry as a peer; the
    # sentry lists it (and another node) and keeps it private.
    async with open_libp2p_transport(node_config(val, pv, (addr(sentry, ps),))) as v, \
            open_libp2p_transport(node_config(other, po, **FAST)) as o, \
            open_libp2p_transport(node_config(sentry, ps, (addr(val, pv), addr(other, po)),
                                              private_peer_ids=(val_id,), **FAST)) as s, \
            open_libp2p_transport(node_config(b"n" * 32, 0, seeds=(addr(sentry, ps),), **FAST)) as new, \
            open_libp2p_transport(node_config(b"q" * 32)) as asker:
        await until(lambda: sorted(new.peers()) == sorted([s.local_peer, o.local_peer]))
        # PEX off: asks only when told to. (The default dial timeout, 1 s, was cut short
        # by a loaded machine: "unreachable: dial timed out".)
        await asker.connect(addr(sentry, ps), timeout=LOADED)
        answer = decode_answer(await asker.request(s.local_peer, PEX_PROTOCOL, b"", timeout=LOADED))
        assert [p for p, _ in answer] == [o.local_peer]
        assert val_id not in new.book.addrs and val_id not in new.peers()
        with pytest.raises(RequestError) as err:  # the validator runs no PEX
            await s.request(val_id, PEX_PROTOCOL, b"", timeout=LOADED)
        assert err.value.code == "no_handler"
        # gossip still flows between the newcomer and the hidden validator, via the sentry
        inbox = {t.local_peer: await t.subscribe(TOPICS.txs) for t in (v, s, new)}
        await until(lambda: new.local_peer in s.subscribed_peers(TOPICS.txs)
                    and val_id in s.subscribed_peers(TOPICS.txs))
        for sender, receiver in ((new, v), (v, new)):
            batch = TxBatch((b"from " + sender.local_peer.encode(),)).encode()
            await sender.publish(TOPICS.txs, batch)
            got = await receive_within(inbox[receiver.local_peer])
            if got.payload != batch:  # the newcomer first gets back its own message
                got = await receive_within(inbox[receiver.local_peer])
            assert got.payload == batch and got.source == sender.local_peer
