"""The one executor of the driver's effects, for the node and the simulator alike.

`Driver.apply` returns effects in the order they must run; `Executor.run` runs them, one
`match` over the effect types, through explicit ports: the node implements them with trio,
its transport and its block builder (node/runtime/consensus_task.py, node/runtime/consensus_net.py), the
simulator with its simulated network and clock (consensus/sim/world.py). So what the simulator's seeds prove
is what the node runs: the POL votes sent with every re-proposal, the same periodic
re-gossip of the round's messages. The WAL is not a port here: the driver writes it,
through the `InputLog` it was given, during `apply` (inputs before they act, a sync
before each signature, own messages synced before their Broadcast is returned), so a
`Broadcast` reaching this executor is already durable.

Pure (no trio): the ports' `async` methods are awaited here; the simulator's never suspend,
and `run_now` drives such a coroutine to its end without an event loop.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Coroutine, Hashable, Iterable, Protocol, Sequence, TypeVar

from consensus.driver import Driver
from consensus.messages import (
    Broadcast, Decide, Effect, EvidenceFound, GetValue, Input, ScheduleTimeout, Timeout,
    ValueReady,
)
from consensus.types import DuplicateVoteEvidence, Proposal, Vote

Peer = Hashable
T = TypeVar("T")

GOSSIP_FANOUT = 2  # peers a periodic re-gossip reaches (epidemic: all within a few periods)
FULL_SYNC_TICKS = 8  # re-gossip at least every this many periods at one height


# ---------------------------------------------------------------- ports
class Network(Protocol):
    async def broadcast(self, message: Proposal | Vote) -> None:
        """A message this node signed, to every peer (its first publication)."""

    async def relay(self, messages: Sequence[Vote]) -> None:
        """Messages others signed (a re-proposal's POL votes), to every peer, by a path
        that delivers what peers may have seen before (gossip drops a repeat)."""

    async def send(self, peer: Peer, messages: Sequence[Proposal | Vote], status: bool = False) -> None:
        """Messages to one peer that may lack them (re-gossip, help to a peer behind).
        `status`: tell the peer our height and round even if `messages` is empty (a
        periodic re-gossip does, so a peer behind learns that it is)."""

    def sample_peers(self, k: int) -> list[Peer]:
        """Up to `k` connected peers, drawn at random."""


class Timers(Protocol):
    def schedule(self, timeout: Timeout, duration_ms: int) -> None:
        """Feed TimeoutElapsed(timeout) (or, for COMMIT, start the next height) later."""


class Values(Protocol):
    def get_value(self, height: int, round: int) -> ValueReady | None:
        """Build a value to propose: its ValueReady now, or None if it is fed later."""


class Decisions(Protocol):
    async def decide(self, decision: Decide) -> None:
        """Commit the decided value with its Commit."""

    async def evidence(self, evidence: DuplicateVoteEvidence) -> None:
        """Keep an equivocation for a block and spread it."""


# ---------------------------------------------------------------- the executor
class GossipPacer:
    """When to resend: after a whole period without progress (same height, round and
    step), and every FULL_SYNC_TICKS periods at one height anyway (the paper's gossip
    assumption: what one correct process received, all eventually receive); and help to
    a peer behind in rounds at most once per period per (peer, round)."""

    MAX_HELPED = 4096  # (peer, round) pairs remembered; a peer's claimed round is not bounded here

    def __init__(self, gossip_ms: int) -> None:
        self.gossip_ms = gossip_ms
        self.last_key: tuple[int, int, int] | None = None
        self.last_height = 0
        self.ticks_at_height = 0
        self.helped: dict[tuple[Peer, int], int] = {}  # (peer, round) -> when we last sent it

    def due(self, height: int, round: int, step: int) -> bool:
        key = (height, round, step)
        self.ticks_at_height = self.ticks_at_height + 1 if height == self.last_height else 0
        self.last_height = height
        due = key == self.last_key or bool(self.ticks_at_height
                                           and self.ticks_at_height % FULL_SYNC_TICKS == 0)
        self.last_key = key
        return due

    def may_help(self, peer: Peer, round: int, now_ms: int) -> bool:
        key = (peer, round)
        last = self.helped.get(key)
        if last is not None and now_ms - last < self.gossip_ms:
            return False
        if len(self.helped) >= self.MAX_HELPED:
            self.helped.clear()
        self.helped[key] = now_ms
        return True


class Executor:
    def __init__(self, driver: Driver, *, network: Network, timers: Timers, values: Values,
                 decisions: Decisions, pacer: GossipPacer):
        self.driver = driver
        self.network = network
        self.timers = timers
        self.values = values
        self.decisions = decisions
        self.pacer = pacer  # outlives the executor where the node's memory does (the simulator's restarts)

    async def apply(self, inp: Input) -> None:
        """Feed one input to the driver and run the effects it returns."""
        await self.run(self.driver.apply(inp))

    async def run(self, effects: Iterable[Effect]) -> None:
        """Run effects in order; a value ready at once is fed back and its effects run
        before the rest."""
        queue = deque(effects)
        while queue:
            match queue.popleft():
                case Broadcast(message=message):
                    await self.network.broadcast(message)
                    if type(message) is Proposal and message.pol_round >= 0:
                        # a peer needs the POL for line 28 (CometBFT gossips it too)
                        await self.network.relay(self.driver.pol_votes(message))
                case ScheduleTimeout(timeout=timeout, duration_ms=duration_ms):
                    self.timers.schedule(timeout, duration_ms)
                case GetValue(height=height, round=round):
                    ready = self.values.get_value(height, round)
                    if ready is not None:
                        queue.extendleft(reversed(self.driver.apply(ready)))
                case Decide() as decision:
                    await self.decisions.decide(decision)
                case EvidenceFound(evidence=evidence):
                    await self.decisions.evidence(evidence)
                case other:
                    raise TypeError(f"unknown effect {other!r}")

    async def regossip(self) -> None:
        """Once per gossip period: when due (GossipPacer), send the round's messages
        (`Driver.gossip_messages`) to a few random peers."""
        d = self.driver
        s = d.state
        if s is None or not self.pacer.due(d.height, s.round, s.step):
            return
        peers = self.network.sample_peers(GOSSIP_FANOUT)
        messages = d.gossip_messages()
        for peer in peers:
            await self.network.send(peer, messages, status=True)

    async def help_peer(self, peer: Peer, round: int, now_ms: int) -> None:
        """A peer at our height is in an earlier round: send it our messages of its round
        (as CometBFT's gossip sends the votes a peer lacks), once per gossip period."""
        if self.pacer.may_help(peer, round, now_ms):
            await self.network.send(peer, self.driver.messages_of_round(round))


def run_now(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine whose awaits never suspend (the simulator's ports) to its end."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("an executor port suspended outside an event loop")
