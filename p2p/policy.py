"""The admission policy of both transports, in one place: what a peer's gossip message or
request must pass before any work that grows with it, and which penalty each failure earns.

p2p/libp2p_transport.py (inside gossipsub's validator and its stream handler) and
p2p/memory.py both call it, so in-memory tests run the production ban check, rate limit,
envelope check and error-to-penalty mapping. Pure bookkeeping over the transport's
counters, penalty book and `penalise`: no I/O.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import NamedTuple

from .counters import TransportCounters
from .limiter import InboundLimiter
from .messages import MessageError, decode_gossip
from .penalties import PenaltyBook
from .transport import IGNORE, GossipCheck, PeerId, RequestError, RequestHandler, check_verdict

log = logging.getLogger("attrchain.p2p")

RESPONSE_OK = "ok"
TRANSIENT = ""  # a refusal that says nothing of the message itself
REFUSED_MEMORY = 4096  # (peer, message id) pairs of blamed gossip remembered, oldest forgotten first


class Answer(NamedTuple):
    """What a request gets: RESPONSE_OK and the response, or an error code and reason;
    `penalise`: the requester earns a penalty for `code` once it has been answered."""
    code: str
    body: bytes
    penalise: bool = False


class InboundPolicy:
    def __init__(self, transport, limiter: InboundLimiter, *, max_gossip_size: int,
                 max_request_size: int, max_response_size: int) -> None:
        # transport: counters, penalties and penalise(peer, reason), the Transport's own
        self.transport = transport
        self.counters: TransportCounters = transport.counters
        self.penalties: PenaltyBook = transport.penalties
        self.limiter = limiter
        self.max_gossip_size = max_gossip_size
        self.max_request_size = max_request_size
        self.max_response_size = max_response_size
        # gossipsub marks a message seen only once it passed validation, so the very message we
        # refused comes back from the same peer (its IHAVE, our IWANT): dropped here unchecked
        # and unpenalised -- one invalid message, one penalty; a re-check could cost signatures
        self._refused: OrderedDict[tuple[PeerId, bytes], None] = OrderedDict()

    # --- gossip ---
    def admit_gossip(self, peer: PeerId, kind: str | None, data: bytes, check: GossipCheck | None,
                     message_id: bytes | None = None) -> bool:
        """True = deliver and relay. Banned peers, peers over their rate, envelopes that do not
        decode as the topic's kind and messages the topic's check refuses are dropped.
        `message_id` (the transport's id of the message, if it has one) lets a message this
        peer was already penalised for be dropped again without a second check or penalty."""
        if self.penalties.is_banned(peer):
            self.counters.drop("banned_peer")
            return False
        if message_id is not None and (peer, message_id) in self._refused:
            self.counters.drop("refused_again")
            return False
        verdict = self._verdict(peer, kind, data, check)
        if verdict is None:
            return True
        if verdict != TRANSIENT and message_id is not None:
            self._refused[(peer, message_id)] = None
            if len(self._refused) > REFUSED_MEMORY:
                self._refused.popitem(last=False)
        return False

    def _verdict(self, peer: PeerId, kind: str | None, data: bytes, check: GossipCheck | None) -> str | None:
        """None = admit; TRANSIENT = dropped for now (rate, or the check's IGNORE); else the
        reason the message itself is invalid, already penalised."""
        if not self.limiter.allow(peer, len(data)):
            self.counters.drop("rate_limited")
            self.transport.penalise(peer, "rate_limited")
            return TRANSIENT
        if kind is None:  # a topic outside the chain's ids (the memory transport's tests): size only
            if len(data) <= self.max_gossip_size:
                return None
            self.counters.drop("too_large")
            self.transport.penalise(peer, "too_large")
            return "too_large"
        try:
            message = decode_gossip(kind, data, self.max_gossip_size)
        except MessageError as err:
            self.counters.drop(err.code)
            self.transport.penalise(peer, err.code)
            return err.code
        # The node's rules (signatures, windows) before anything is relayed.
        if check is None:
            return None
        verdict = check_verdict(self.transport, check, peer, message)
        return TRANSIENT if verdict == IGNORE else verdict

    # --- requests ---
    def refuse_peer(self, peer: PeerId) -> Answer | None:
        """Before reading a request: a banned peer is answered, not served."""
        if self.penalties.is_banned(peer):
            return Answer("refused", b"peer is banned")
        return None

    def refuse_request(self, peer: PeerId, size: int) -> Answer | None:
        """Before the handler: a request over the size limit or over the peer's rate."""
        if size > self.max_request_size:
            self.counters.drop("too_large")
            return Answer("too_large", b"request over the size limit", penalise=True)
        if not self.limiter.allow(peer, size):
            self.counters.drop("rate_limited")
            return Answer("rate_limited", b"slow down", penalise=True)
        return None

    async def serve(self, peer: PeerId, handler: RequestHandler, request: bytes) -> Answer:
        """Run the handler: a RequestError is answered as is, a request that does not decode
        (MessageError) is answered and penalised, anything else is an internal error."""
        try:
            response = await handler(peer, request)
        except RequestError as err:
            return Answer(err.code, err.reason.encode())
        except MessageError as err:
            self.counters.drop(err.code)
            return Answer(err.code, err.reason.encode(), penalise=True)
        except Exception as exc:
            self.counters.drop("handler_error")
            log.exception("request handler failed: %r", exc)
            return Answer("internal", type(exc).__name__.encode())
        if len(response) > self.max_response_size:
            self.counters.drop("response_too_large")
            return Answer("too_large", b"response over the size limit")
        return Answer(RESPONSE_OK, response)
