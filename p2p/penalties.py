"""Misbehaviour points per peer. Points decay over time; a peer that is not a
configured validator is banned (disconnected and refused) once it crosses the
threshold. Validators are never banned by this layer: their misbehaviour is counted
and their messages dropped, and the node decides (a validator set is consensus state)."""
from __future__ import annotations

import time
from typing import Callable, Iterable

# How bad each reason is. A peer sending only garbage reaches the ban threshold after
# a handful of messages; an honest peer that bursts past the rate limit does not.
POINTS: dict[str, int] = {
    "malformed": 20,
    "unknown_kind": 20,
    "unexpected_kind": 20,
    "bad_field": 20,
    "too_large": 25,
    "unknown_topic": 20,
    "rate_limited": 2,
    "bad_request": 10,
    "invalid": 25,  # the node found the payload invalid (bad signature, bad tx)
    "too_many_votes": 25,  # a votes-of-round answer with more votes than the round holds
}
DEFAULT_POINTS = 10


class PenaltyBook:
    def __init__(
        self,
        protected: Iterable[str] = (),
        ban_threshold: float = 100.0,
        decay_per_s: float = 1.0,
        ban_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.protected = set(protected)
        self.ban_threshold = ban_threshold
        self.decay_per_s = decay_per_s
        self.ban_seconds = ban_seconds
        self.clock = clock
        self._points: dict[str, tuple[float, float]] = {}  # peer -> (points, stamp)
        self._banned_until: dict[str, float] = {}

    def points(self, peer: str) -> float:
        points, stamp = self._points.get(peer, (0.0, 0.0))
        # Decay by whole seconds, so a burst within one second adds up exactly.
        return max(0.0, points - int(self.clock() - stamp) * self.decay_per_s)

    def penalise(self, peer: str, reason: str) -> bool:
        """Add points; True when this makes the peer banned (only once per ban)."""
        now = self.clock()
        points, stamp = self._points.get(peer, (0.0, now))
        whole = int(now - stamp)
        points = max(0.0, points - whole * self.decay_per_s) + POINTS.get(reason, DEFAULT_POINTS)
        self._points[peer] = (points, stamp + whole)
        if peer in self.protected or self.is_banned(peer) or points < self.ban_threshold:
            return False
        self._banned_until[peer] = now + self.ban_seconds
        return True

    def is_banned(self, peer: str) -> bool:
        until = self._banned_until.get(peer)
        if until is None:
            return False
        if self.clock() >= until:
            del self._banned_until[peer]
            self._points.pop(peer, None)
            return False
        return True

    def banned(self) -> list[str]:
        return sorted(p for p in list(self._banned_until) if self.is_banned(p))
