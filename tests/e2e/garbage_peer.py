"""A hostile libp2p peer: connects to one node and, for N seconds, publishes garbage on
every topic and sends garbage on every request protocol. Prints counts at the end."""
from __future__ import annotations

import os
import sys

import trio

from p2p.config import P2PConfig
from p2p.ids import PROTOCOL_KINDS, TOPIC_KINDS, ChainTopics, protocol_id
from p2p.libp2p_transport import open_libp2p_transport
from p2p.transport import RequestError


async def main(target: str, chain_id: str, seconds: float) -> None:
    cfg = P2PConfig(chain_id=chain_id, identity_seed=os.urandom(32),
                    listen_addrs=("/ip4/127.0.0.1/tcp/0",))
    topics = ChainTopics(chain_id)
    sent = errors = 0
    async with open_libp2p_transport(cfg) as t:
        await t.connect(target, timeout=30)
        with trio.fail_after(30):  # until gossipsub knows the node's subscriptions (a loaded machine: seconds)
            while not all(t.subscribed_peers(getattr(topics, kind)) for kind in TOPIC_KINDS):
                await trio.sleep(0.05)
        with trio.move_on_after(seconds):
            i = 0
            while True:
                i += 1
                junk = os.urandom(1 + i % 300)
                for kind in TOPIC_KINDS:
                    await t.publish_unchecked(getattr(topics, kind), junk)
                    sent += 1
                for kind in PROTOCOL_KINDS:
                    try:
                        await t.request(t.peers()[0], protocol_id(chain_id, kind), junk, timeout=1.0)
                    except (RequestError, IndexError, ValueError):
                        errors += 1
                    sent += 1
                await trio.sleep(0.02)
    print(f"garbage sent={sent} request_errors={errors}", flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], float(sys.argv[3]))
