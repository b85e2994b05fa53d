"""The one executor of the driver's effects (consensus/executor.py), through recording
ports: the order it runs effects in, the POL with a re-proposal, re-gossip pacing."""
from __future__ import annotations

from types import SimpleNamespace

from consensus.executor import FULL_SYNC_TICKS, Executor, GossipPacer, run_now
from consensus.messages import (
    Broadcast, Decide, GetValue, ScheduleTimeout, Timeout, ValueReady,
)
from consensus.params import TimeoutKind
from consensus.types import Commit, Proposal, Vote, VoteType

V = b"\x01" * 32


class Ports:
    """Every port, recording each call in one list (their order is what is tested)."""

    def __init__(self, value_now: bool = True):
        self.calls: list[tuple] = []
        self.value_now = value_now

    async def broadcast(self, message):
        self.calls.append(("broadcast", message))

    async def relay(self, messages):
        self.calls.append(("relay", list(messages)))

    async def send(self, peer, messages, status=False):
        self.calls.append(("send", peer, list(messages), status))

    def sample_peers(self, k):
        return ["a", "b", "c"][:k]

    def schedule(self, timeout, duration_ms):
        self.calls.append(("schedule", timeout))

    def get_value(self, height, round):
        self.calls.append(("get_value", height, round))
        return ValueReady(height, round, V) if self.value_now else None

    async def decide(self, decision):
        self.calls.append(("decide", decision))

    async def evidence(self, evidence):
        self.calls.append(("evidence", evidence))


class FakeDriver:
    """What the executor reads of a Driver."""

    def __init__(self, answer=()):
        self.height = 1
        self.state = SimpleNamespace(round=0, step=1)
        self.answer = list(answer)
        self.applied: list = []
        self.pol = [Vote(VoteType.PREVOTE, 1, 0, V, b"\x02" * 20, b"\x00" * 64)]

    def apply(self, inp):
        self.applied.append(inp)
        return self.answer

    def pol_votes(self, proposal):
        return self.pol

    def gossip_messages(self):
        return ["m1", "m2"]

    def messages_of_round(self, r):
        return [f"round{r}"]


def executor(driver, ports, gossip_ms=100):
    return Executor(driver, network=ports, timers=ports, values=ports, decisions=ports,
                    pacer=GossipPacer(gossip_ms))


def test_effects_run_in_order_and_a_ready_value_is_fed_back_before_the_rest():
    vote = Vote(VoteType.PREVOTE, 1, 0, V, b"\x03" * 20, b"\x00" * 64)
    t = Timeout(TimeoutKind.PROPOSE, 1, 0)
    d = FakeDriver(answer=[Broadcast(vote)])
    p = Ports()
    run_now(executor(d, p).run([GetValue(1, 0), ScheduleTimeout(t, 5),
                                Decide(1, 0, V, Commit(1, 0, V, ()))]))
    assert d.applied == [ValueReady(1, 0, V)]
    assert [c[0] for c in p.calls] == ["get_value", "broadcast", "schedule", "decide"]
    assert p.calls[1] == ("broadcast", vote)


def test_a_value_built_later_is_not_fed_back():
    d, p = FakeDriver(), Ports(value_now=False)
    run_now(executor(d, p).run([GetValue(1, 0)]))
    assert d.applied == [] and p.calls == [("get_value", 1, 0)]


def test_a_re_proposal_is_followed_by_its_pol_votes_and_a_fresh_one_is_not():
    d, p = FakeDriver(), Ports()
    fresh = Proposal(1, 0, V, -1, b"\x02" * 20, b"\x00" * 64)
    again = Proposal(1, 1, V, 0, b"\x02" * 20, b"\x00" * 64)
    run_now(executor(d, p).run([Broadcast(fresh), Broadcast(again)]))
    assert p.calls == [("broadcast", fresh), ("broadcast", again), ("relay", d.pol)]


def test_regossip_when_a_period_passed_without_progress_and_every_full_sync_period():
    d, p = FakeDriver(), Ports()
    ex = executor(d, p)
    run_now(ex.regossip())  # first look at this step: progress, nothing sent
    assert p.calls == []
    run_now(ex.regossip())  # a whole period at the same step
    assert p.calls == [("send", "a", ["m1", "m2"], True), ("send", "b", ["m1", "m2"], True)]
    p.calls.clear()
    sent_at = []
    for tick in range(2, 2 + 2 * FULL_SYNC_TICKS):
        d.state = SimpleNamespace(round=tick, step=1)  # progress every period, same height
        run_now(ex.regossip())
        if p.calls:
            sent_at.append(tick)
            p.calls.clear()
    assert sent_at == [FULL_SYNC_TICKS, 2 * FULL_SYNC_TICKS]


def test_help_to_a_peer_behind_is_paced_per_peer_and_round():
    d, p = FakeDriver(), Ports()
    ex = executor(d, p, gossip_ms=100)
    for peer, rnd, now in [("a", 0, 1000), ("a", 0, 1050), ("b", 0, 1050), ("a", 1, 1050), ("a", 0, 1100)]:
        run_now(ex.help_peer(peer, rnd, now))
    assert p.calls == [("send", "a", ["round0"], False), ("send", "b", ["round0"], False),
                       ("send", "a", ["round1"], False), ("send", "a", ["round0"], False)]
