"""Helpers for tests that run several real libp2p hosts in one process."""
from __future__ import annotations

import socket

import trio

from p2p.config import P2PConfig
from p2p.libp2p_transport import peer_id_from_seed

CHAIN = "unit"
LOADED = 30.0  # seconds: deadlines for conditions on a loaded 2-core CI machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def addr(seed: bytes, port: int) -> str:
    return f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id_from_seed(seed)}"


def node_config(seed: bytes, port: int = 0, peers: tuple[str, ...] = (), **kw) -> P2PConfig:
    return P2PConfig(chain_id=CHAIN, identity_seed=seed, listen_addrs=(f"/ip4/127.0.0.1/tcp/{port}",),
                     persistent_peers=peers, **kw)


async def until(predicate, within: float = LOADED, state=None) -> None:
    """Wait until `predicate()` holds; past `within`, fail, printing `state()` when given
    (what tells a rare timeout's causes apart; printed, as the transports' nested nurseries
    wrap an exception deeper than pytest shows)."""
    try:
        with trio.fail_after(within):
            while not predicate():
                await trio.sleep(0.02)
    except trio.TooSlowError:
        if state is not None:
            print(f"not within {within} s: {state()}", flush=True)
        raise


async def receive_within(channel, seconds: float = LOADED):
    with trio.fail_after(seconds):
        return await channel.receive()
