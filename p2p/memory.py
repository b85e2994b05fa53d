"""An in-process Transport with injectable faults, for tests and the consensus simulator.

    async with open_memory_network(seed=1, delay=0.01, loss=0.1) as net:
        async with net.open_transport("alice") as a, net.open_transport("bob") as b:
            ...
            net.partition({"alice"}, {"bob"})   # until net.heal()

Gossip goes straight from the publisher to every reachable subscriber (one hop). Faults
are drawn from one seeded RNG: `loss` and `duplicate` are probabilities per delivery,
`delay` is seconds or a function of the rng. Unlike libp2p, nothing is deduplicated
here, so duplicate injection exercises the dedupe of the layers above. What a peer sends
is admitted by p2p/policy.py, as on libp2p: ban check, rate limit (on trio's clock),
envelope check, the topic's check, and the same penalty for each failure.
"""
from __future__ import annotations

import random
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, Iterable

import trio

from .config import P2PConfig
from .counters import TransportCounters
from .ids import kind_of_topic
from .limiter import InboundLimiter
from .penalties import PenaltyBook
from .policy import RESPONSE_OK, InboundPolicy
from .transport import (
    EventFanout, Gossip, GossipCheck, MessageTooLarge, PeerEvent, PeerId, RequestError, RequestHandler,
)

Delay = float | Callable[[random.Random], float]


class MemoryNetwork:
    def __init__(self, nursery: trio.Nursery, seed: int = 0, delay: Delay = 0.0,
                 loss: float = 0.0, duplicate: float = 0.0,
                 drop_if: Callable[[PeerId, PeerId, str, bytes], bool] | None = None) -> None:
        self._nursery = nursery
        self.rng = random.Random(seed)
        self.delay = delay
        self.loss = loss
        self.duplicate = duplicate
        # drop_if(sender, receiver, topic, payload): lose that gossip copy (a test picks
        # the very message to lose; requests are not affected)
        self.drop_if = drop_if
        self._nodes: dict[PeerId, MemoryTransport] = {}
        self._groups: list[set[PeerId]] | None = None

    # --- faults ---
    def partition(self, *groups: Iterable[PeerId]) -> None:
        """Only peers in the same group reach each other (peers in no group: nobody)."""
        before = self._reachability()
        self._groups = [set(g) for g in groups]
        self._announce_changes(before)

    def heal(self) -> None:
        before = self._reachability()
        self._groups = None
        self._announce_changes(before)

    def reachable(self, a: PeerId, b: PeerId) -> bool:
        if a == b or a not in self._nodes or b not in self._nodes:
            return False
        if self._groups is None:
            return True
        return any(a in g and b in g for g in self._groups)

    def _reachability(self) -> set[tuple[PeerId, PeerId]]:
        return {(a, b) for a in self._nodes for b in self._nodes if self.reachable(a, b)}

    def _announce_changes(self, before: set[tuple[PeerId, PeerId]]) -> None:
        after = self._reachability()
        for a, b in sorted(after - before):
            self._nodes[a]._events.emit(PeerEvent(b, True))
        for a, b in sorted(before - after):
            if a in self._nodes:  # the leaving node itself hears nothing
                self._nodes[a]._events.emit(PeerEvent(b, False))

    def _draw_delay(self) -> float:
        return self.delay(self.rng) if callable(self.delay) else self.delay

    # --- membership ---
    @asynccontextmanager
    async def open_transport(self, peer: PeerId, **options) -> AsyncIterator["MemoryTransport"]:
        if peer in self._nodes:
            raise ValueError(f"peer {peer!r} already on this network")
        transport = MemoryTransport(self, peer, **options)
        before = self._reachability()
        self._nodes[peer] = transport
        self._announce_changes(before)
        try:
            yield transport
        finally:
            before = self._reachability()
            del self._nodes[peer]
            self._announce_changes(before)
            transport._close()

    # --- delivery ---
    def _gossip(self, sender: PeerId, topic: str, payload: bytes) -> None:
        for peer in sorted(self._nodes):
            if not self.reachable(sender, peer):
                continue
            if self.drop_if is not None and self.drop_if(sender, peer, topic, payload):
                continue
            copies = 2 if self.rng.random() < self.duplicate else 1
            for _ in range(copies):
                if self.rng.random() < self.loss:
                    continue
                self._nursery.start_soon(self._deliver_later, peer, sender, topic, payload, self._draw_delay())

    async def _deliver_later(self, peer: PeerId, sender: PeerId, topic: str, payload: bytes, delay: float) -> None:
        if delay > 0:
            await trio.sleep(delay)
        node = self._nodes.get(peer)
        if node is not None and self.reachable(sender, peer):
            node._receive(Gossip(topic, sender, payload))

    async def _request(self, sender: PeerId, peer: PeerId, protocol: str, payload: bytes) -> bytes:
        if not self.reachable(sender, peer) or self.rng.random() < self.loss:
            # A lost request looks like an unanswered one: the caller's timeout fires.
            if not self.reachable(sender, peer):
                raise RequestError("unreachable", f"no connection to {peer}")
            await trio.sleep_forever()
        await trio.sleep(self._draw_delay())
        node = self._nodes.get(peer)
        if node is None:
            raise RequestError("unreachable", f"no connection to {peer}")
        response = await node._serve(sender, protocol, payload)
        await trio.sleep(self._draw_delay())
        return response


@asynccontextmanager
async def open_memory_network(**faults) -> AsyncIterator[MemoryNetwork]:
    async with trio.open_nursery() as nursery:
        network = MemoryNetwork(nursery, **faults)
        try:
            yield network
        finally:
            nursery.cancel_scope.cancel()


class MemoryTransport:
    def __init__(self, network: MemoryNetwork, peer: PeerId, *, max_gossip_size: int = 512 * 1024,
                 max_request_size: int = 256 * 1024, max_response_size: int = 8 * 1024 * 1024,
                 inbound_queue_size: int = 4096, validators: Iterable[PeerId] = (),
                 inbound_msgs_per_s: float = P2PConfig.inbound_msgs_per_s,
                 inbound_bytes_per_s: float = P2PConfig.inbound_bytes_per_s) -> None:
        self.network = network
        self.local_peer = peer
        self.counters = TransportCounters()
        self.max_gossip_size = max_gossip_size
        self.max_request_size = max_request_size
        self.max_response_size = max_response_size
        self.inbound_queue_size = inbound_queue_size
        self.penalties = PenaltyBook(protected=validators)
        self.policy = InboundPolicy(self, InboundLimiter(inbound_msgs_per_s, inbound_bytes_per_s, clock=trio.current_time),
                                    max_gossip_size=max_gossip_size, max_request_size=max_request_size,
                                    max_response_size=max_response_size)
        self._subscriptions: dict[str, trio.MemorySendChannel[Gossip]] = {}
        self._handlers: dict[str, RequestHandler] = {}
        self._checks: dict[str, GossipCheck] = {}
        self._events = EventFanout(self.counters)

    async def subscribe(self, topic: str, check: GossipCheck | None = None) -> trio.MemoryReceiveChannel[Gossip]:
        await trio.lowlevel.checkpoint()
        if topic in self._subscriptions:
            raise ValueError(f"already subscribed to {topic}")
        send, receive = trio.open_memory_channel[Gossip](self.inbound_queue_size)
        self._subscriptions[topic] = send
        if check is not None:
            self._checks[topic] = check
        return receive

    async def publish(self, topic: str, payload: bytes) -> bool:
        await trio.lowlevel.checkpoint()
        if len(payload) > self.max_gossip_size:
            raise MessageTooLarge(len(payload), self.max_gossip_size, "gossip message")
        self.counters.messages_out += 1
        self.counters.bytes_out += len(payload)
        self.network._gossip(self.local_peer, topic, bytes(payload))
        return True

    def _receive(self, gossip: Gossip) -> None:
        channel = self._subscriptions.get(gossip.topic)
        if channel is None:
            return
        kind = kind_of_topic(gossip.topic)
        if not self.policy.admit_gossip(gossip.source, kind, gossip.payload, self._checks.get(gossip.topic)):
            return
        try:
            channel.send_nowait(gossip)
        except trio.WouldBlock:
            self.counters.drop("inbound_queue_full")
            return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        self.counters.messages_in += 1
        if kind is not None:
            self.counters.messages_in_by_kind[kind] += 1
        self.counters.bytes_in += len(gossip.payload)

    def set_request_handler(self, protocol: str, handler: RequestHandler) -> None:
        self._handlers[protocol] = handler

    async def request(self, peer: PeerId, protocol: str, payload: bytes, timeout: float = 5.0) -> bytes:
        if len(payload) > self.max_request_size:
            raise MessageTooLarge(len(payload), self.max_request_size, "request")
        self.counters.requests_out += 1
        with trio.move_on_after(timeout):
            response = await self.network._request(self.local_peer, peer, protocol, payload)
            if len(response) > self.max_response_size:
                raise RequestError("too_large", f"response of {len(response)} bytes")
            return response
        raise RequestError("timeout", f"no response from {peer} within {timeout} s")

    async def _serve(self, peer: PeerId, protocol: str, payload: bytes) -> bytes:
        self.counters.requests_in += 1
        answer = self.policy.refuse_peer(peer)
        handler = self._handlers.get(protocol)
        if answer is None and handler is None:
            raise RequestError("no_handler", f"{protocol} is not served")
        answer = answer or self.policy.refuse_request(peer, len(payload)) or \
            await self.policy.serve(peer, handler, payload)
        if answer.penalise:
            self.penalise(peer, answer.code)
        if answer.code != RESPONSE_OK:
            raise RequestError(answer.code, answer.body.decode("utf-8", "replace"))
        return answer.body

    def peers(self) -> list[PeerId]:
        return sorted(p for p in self.network._nodes if self.network.reachable(self.local_peer, p)
                      and not self.penalties.is_banned(p))

    def subscribed_peers(self, topic: str) -> list[PeerId]:
        return [p for p in self.peers() if topic in self.network._nodes[p]._subscriptions]

    def peer_events(self) -> trio.MemoryReceiveChannel[PeerEvent]:
        return self._events.open()

    def penalise(self, peer: PeerId, reason: str) -> None:
        self.counters.penalties[reason] += 1
        if self.penalties.penalise(peer, reason):
            self.counters.penalties["banned"] += 1
            self._events.emit(PeerEvent(peer, False))

    def _close(self) -> None:
        for channel in self._subscriptions.values():
            channel.close()
        self._events.close()
