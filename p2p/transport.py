"""The Transport interface the node codes against, and the types that cross it.

Two implementations: `p2p.libp2p_transport` (real network, the only module importing
libp2p) and `p2p.memory` (in-process, with injectable faults). Peers are identified by
strings (a libp2p peer id such as `12D3KooW...`, or any name in memory).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Protocol, runtime_checkable

import trio

from .counters import TransportCounters

if TYPE_CHECKING:
    from .messages import Message

PeerId = str
# async fn(peer, request bytes) -> response bytes. Raise RequestError to answer with an
# error code; any other exception is answered as "internal" and logged, never crashes.
RequestHandler = Callable[[PeerId, bytes], Awaitable[bytes]]
# A topic's admission check (`subscribe(topic, check=...)`), synchronous and cheap: it
# runs on every received message after the envelope decoded and before the message is
# delivered or relayed (on libp2p, inside gossipsub's validator: a refused message is
# never forwarded). Given the forwarding peer and the decoded envelope, it returns None
# (accept), IGNORE (drop without blame: e.g. a height we cannot check yet) or a penalty
# reason (drop and penalise the forwarder).
GossipCheck = Callable[[PeerId, "Message"], "str | None"]
IGNORE = "ignore"


class MessageTooLarge(ValueError):
    """Raised by publish/request when a payload exceeds the configured maximum."""

    def __init__(self, size: int, limit: int, what: str) -> None:
        super().__init__(f"too_large: {what} of {size} bytes exceeds the limit of {limit} bytes")
        self.size, self.limit = size, limit


class RequestError(Exception):
    """A request failed. Codes: timeout, unreachable, no_handler, too_large,
    bad_response, refused, internal, or any code a handler raised."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Gossip:
    topic: str
    source: PeerId  # the peer that published it (signed by it on libp2p)
    payload: bytes


@dataclass(frozen=True)
class PeerEvent:
    peer: PeerId
    connected: bool  # False = disconnected


@runtime_checkable
class Transport(Protocol):
    local_peer: PeerId
    counters: TransportCounters

    async def subscribe(self, topic: str, check: GossipCheck | None = None) -> trio.MemoryReceiveChannel[Gossip]:
        """Start receiving a topic. Our own publishes are not delivered back. Messages
        that arrive while the channel is full are dropped (counted: inbound_queue_full).
        `check` vets each message before it is delivered or relayed (see GossipCheck)."""
        ...

    async def publish(self, topic: str, payload: bytes) -> bool:
        """Queue a message for gossip. Raises MessageTooLarge; returns False when the
        bounded outbound queue is full and the message was dropped (counted)."""
        ...

    def set_request_handler(self, protocol: str, handler: RequestHandler) -> None: ...

    async def request(self, peer: PeerId, protocol: str, payload: bytes, timeout: float = 5.0) -> bytes:
        """One request, one response. Raises RequestError or MessageTooLarge."""
        ...

    def peers(self) -> list[PeerId]:
        """Connected peers, sorted."""
        ...

    def peer_events(self) -> trio.MemoryReceiveChannel[PeerEvent]:
        """A new channel of connect/disconnect events (from now on)."""
        ...

    def penalise(self, peer: PeerId, reason: str) -> None:
        """Report misbehaviour (e.g. "invalid" for a bad signature). Non-validator peers
        that collect too many points are disconnected and refused for a while."""
        ...


class EventFanout:
    """Delivers peer events to every channel handed out; a full channel drops (events
    are hints, `peers()` is the truth)."""

    def __init__(self, counters: TransportCounters, buffer: int = 256) -> None:
        self._channels: list[trio.MemorySendChannel[PeerEvent]] = []
        self._counters = counters
        self._buffer = buffer

    def open(self) -> trio.MemoryReceiveChannel[PeerEvent]:
        send, receive = trio.open_memory_channel[PeerEvent](self._buffer)
        self._channels.append(send)
        return receive

    def emit(self, event: PeerEvent) -> None:
        if event.connected:
            self._counters.peers_connected += 1
        else:
            self._counters.peers_disconnected += 1
        for channel in list(self._channels):
            try:
                channel.send_nowait(event)
            except trio.WouldBlock:
                self._counters.drop("peer_event_queue_full")
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._channels.remove(channel)

    def close(self) -> None:
        for channel in self._channels:
            channel.close()
        self._channels.clear()


def check_verdict(transport: "Transport", check: GossipCheck, peer: PeerId, message: "Message") -> str | None:
    """Run a topic's check on a decoded message; None = deliver and relay it. A refusal
    is counted (drops.ignored, drops.refused.<reason>) and a blamed one penalises `peer`."""
    verdict = check(peer, message)
    if verdict is None:
        return None
    if verdict == IGNORE:
        transport.counters.drop("ignored")
    else:
        transport.counters.drop(f"refused.{verdict}")
        transport.penalise(peer, verdict)
    return verdict
