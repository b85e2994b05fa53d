"""Our own inbound limiter (the library's spam protection is off: it also throttles our
own publishes). A token bucket per peer for messages and one for bytes; a message over
either budget is dropped and the peer earns a small penalty. The clock is injected so
tests can drive it."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    burst: float  # bucket size
    tokens: float = field(default=-1.0)
    stamp: float = 0.0

    def take(self, amount: float, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if amount > self.tokens:
            return False
        self.tokens -= amount
        return True


class InboundLimiter:
    def __init__(
        self,
        msgs_per_s: float,
        bytes_per_s: float,
        burst_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.msgs_per_s = msgs_per_s
        self.bytes_per_s = bytes_per_s
        self.burst_s = burst_s
        self.clock = clock
        self._buckets: dict[str, tuple[TokenBucket, TokenBucket]] = {}

    def allow(self, peer: str, size: int) -> bool:
        buckets = self._buckets.get(peer)
        if buckets is None:
            buckets = (
                TokenBucket(self.msgs_per_s, self.msgs_per_s * self.burst_s),
                TokenBucket(self.bytes_per_s, self.bytes_per_s * self.burst_s),
            )
            self._buckets[peer] = buckets
        now = self.clock()
        msgs, nbytes = buckets
        # Check both before taking from either, so a refused message costs nothing.
        if not msgs.take(1, now):
            return False
        if not nbytes.take(size, now):
            msgs.tokens += 1
            return False
        return True

    def forget(self, peer: str) -> None:
        self._buckets.pop(peer, None)
