"""Inbound admission (p2p/inbound.py): sockets that never start the handshake are bounded
per source address and timed out fast, and our own peers always get through."""
from __future__ import annotations

import pytest
import trio

from libp2p_net import until
from p2p.config import P2PConfig
from p2p.inbound import InboundGate
from p2p.libp2p_transport import open_libp2p_transport, peer_id_from_seed

pytestmark = pytest.mark.xdist_group("p2p")
CHAIN = "unit"
LOADED = 30.0  # seconds: deadlines for conditions on a loaded 2-core CI machine


def test_gate_bounds_handshakes_per_host_and_in_all_with_a_reserved_pool():
    gate = InboundGate({"10.0.0.1"}, max_pending=5, per_host=2, reserved_pending=2, max_peers=3)
    assert [gate.open("a") for _ in range(3)] == [True, True, False]  # per host
    assert [gate.open(h) for h in ("b", "b", "c", "c")] == [True, True, True, False]  # in all
    assert gate.open("10.0.0.1") and gate.open("10.0.0.1")  # reserved: own pool
    assert not gate.open("10.0.0.1")
    assert gate.pending() == 7 and gate.pending("a") == 2
    gate.close("a")
    gate.close("10.0.0.1")
    assert gate.open("d") and gate.open("10.0.0.1")
    gate.close("nobody")  # closing what was never opened changes nothing
    assert gate.pending() == 7
    assert gate.keeps_peer(False, 2) and not gate.keeps_peer(False, 3) and gate.keeps_peer(True, 10**6)


async def half_open(source: str, port: int) -> trio.socket.SocketType:
    """A TCP connection from `source` that never sends a byte."""
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    return sock


async def closed_by_peer(sock) -> bool:
    """Read (the node greets with its multistream header) until the node closes."""
    try:
        while await sock.recv(4096):
            pass
    except OSError:
        pass
    return True


def port_of(node) -> int:
    return int(node.listen_addrs()[0].split("/tcp/")[1].split("/")[0])


async def test_half_open_sockets_cannot_lock_new_peers_out():
    # The handshake deadline is far longer than opening 300 sockets can take, so the 8
    # let in are still pending while the rest arrive: exactly 292 are refused. (With a
    # 1 s deadline a loaded machine took longer than that to open them, the first 8
    # timed out, others were let in, and the count never reached 292.)
    config = P2PConfig(chain_id=CHAIN, identity_seed=b"h" * 32, handshake_timeout=60.0)
    async with open_libp2p_transport(config) as node:
        socks = [await half_open("127.0.0.2", port_of(node)) for _ in range(300)]  # more than the library's 250
        try:
            await until(lambda: node.counters.drops["inbound_handshake_refused"] == 300 - 8, LOADED)
            assert node.gate.pending("127.0.0.2") == 8
            async with open_libp2p_transport(P2PConfig(chain_id=CHAIN, identity_seed=b"i" * 32)) as fresh:
                await fresh.connect(node.listen_addrs()[0], timeout=LOADED)
                await until(lambda: fresh.local_peer in node.peers(), LOADED)
            assert node.counters.drops["inbound_handshake_refused"] == 300 - 8
        finally:
            for sock in socks:
                sock.close()


async def test_half_open_sockets_are_timed_out_and_free_their_slots():
    config = P2PConfig(chain_id=CHAIN, identity_seed=b"h" * 32, handshake_timeout=1.0)
    async with open_libp2p_transport(config) as node:
        socks = [await half_open("127.0.0.2", port_of(node)) for _ in range(8)]
        try:
            with trio.fail_after(LOADED):  # closed once the handshake deadline passes
                for sock in socks:
                    await closed_by_peer(sock)
            await until(lambda: node.gate.pending() == 0, LOADED)
            assert node.counters.drops["inbound_handshake_timeout"] == 8
        finally:
            for sock in socks:
                sock.close()


async def test_a_persistent_peer_gets_in_while_strangers_fill_every_handshake_slot():
    own = b"j" * 32
    # the node lists `own` as a persistent peer (at a port nobody listens on, so only
    # `own` dialling in can connect them): its address is reserved
    listed = f"/ip4/127.0.0.1/tcp/9/p2p/{peer_id_from_seed(own)}"
    config = P2PConfig(chain_id=CHAIN, identity_seed=b"k" * 32, persistent_peers=(listed,),
                       handshake_timeout=30.0, max_pending_handshakes=16, max_handshakes_per_host=4)
    async with open_libp2p_transport(config) as node:
        socks = [await half_open(f"127.0.0.{h}", port_of(node)) for h in range(2, 8) for _ in range(4)]
        try:
            await until(lambda: node.counters.drops["inbound_handshake_refused"] == len(socks) - 16, LOADED)
            async with open_libp2p_transport(P2PConfig(chain_id=CHAIN, identity_seed=own)) as peer:
                await peer.connect(node.listen_addrs()[0], timeout=LOADED)
                await until(lambda: peer.local_peer in node.peers(), LOADED)
        finally:
            for sock in socks:
                sock.close()
