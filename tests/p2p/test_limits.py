"""Our inbound limiter and the misbehaviour book, driven by an injected clock."""
from __future__ import annotations

from p2p.counters import TransportCounters
from p2p.limiter import InboundLimiter
from p2p.penalties import PenaltyBook


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_allows_a_burst_then_refuses_then_refills_per_peer():
    clock = Clock()
    limiter = InboundLimiter(msgs_per_s=10, bytes_per_s=1_000_000, burst_s=2.0, clock=clock)
    assert all(limiter.allow("p", 100) for _ in range(20))  # 2 s of burst
    assert not limiter.allow("p", 100)
    assert limiter.allow("q", 100)  # buckets are per peer
    clock.now += 0.5  # 5 messages of budget come back
    assert sum(limiter.allow("p", 100) for _ in range(10)) == 5


def test_limiter_counts_bytes_and_a_refusal_costs_nothing():
    clock = Clock()
    limiter = InboundLimiter(msgs_per_s=1000, bytes_per_s=1000, burst_s=1.0, clock=clock)
    assert not limiter.allow("p", 1001)  # bigger than the whole byte budget
    assert limiter.allow("p", 1000)  # the refused message took nothing
    assert not limiter.allow("p", 1)
    limiter.forget("p")
    assert limiter.allow("p", 1000)  # a fresh bucket after the peer left


def test_penalty_points_add_up_decay_and_bans_expire():
    clock = Clock()
    book = PenaltyBook(protected={"validator"}, ban_threshold=100, decay_per_s=1.0, ban_seconds=60, clock=clock)
    for _ in range(4):
        assert not book.penalise("p", "malformed")  # 20 each
    assert book.points("p") == 80
    clock.now += 30  # decays by 30
    assert book.points("p") == 50
    assert not book.penalise("p", "too_large")  # 75
    assert book.penalise("p", "too_large")  # 100: True, this one bans...
    assert book.is_banned("p") and book.banned() == ["p"]
    assert not book.penalise("p", "malformed")  # ...only once
    clock.now += 60
    assert not book.is_banned("p") and book.points("p") == 0  # ban over, slate clean
    for _ in range(10):
        assert not book.penalise("validator", "invalid")
    assert not book.is_banned("validator") and book.points("validator") == 250


def test_counters_snapshot_is_flat_and_sorted():
    counters = TransportCounters(messages_in=3)
    counters.drop("too_large")
    counters.drop("malformed", 2)
    counters.penalties["malformed"] += 1
    snapshot = counters.snapshot()
    assert snapshot["messages_in"] == 3
    assert snapshot["drops.malformed"] == 2 and snapshot["drops.too_large"] == 1
    assert snapshot["drops_total"] == 3 and snapshot["penalties_total"] == 1
    assert all(type(v) is int for v in snapshot.values())
