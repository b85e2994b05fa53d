"""The discrete-event world: virtual time (integer ms), one seeded RNG, a faulty network,
honest nodes running the real Driver exactly as the node does (WAL, signer with a last-sign
store, crash and restart by replay), and Byzantine validators (sim/byzantine.py).

Nothing here reads a clock. A caller may pass `timer` (e.g. time.perf_counter_ns): it is
called around `Driver.apply` for votes only to report their cost, never to decide anything.
"""
from __future__ import annotations

import hashlib
import heapq
import random
from dataclasses import dataclass
from typing import Callable

from consensus.crypto import Ed25519Key
from consensus.driver import Driver
from consensus.executor import Executor, GossipPacer, run_now
from consensus.messages import (
    Decide, ProposalReceived, StartHeight, Timeout, TimeoutElapsed, ValueReady, VoteReceived,
)
from consensus.params import TimeoutKind
from consensus.signer import STEP_PROPOSE, MemoryLastSignStore, Signer, vote_step
from consensus.sim.scenario import Scenario
from consensus.types import Commit, InvalidCommit, Proposal, Validator, ValidatorSet, Vote
from consensus.wal import MemoryWal, replay

CHAIN_ID = "attrchain-sim"
DELIVER, TIMER, VALUE, GOSSIP, CRASH, RESTART, HEAL = range(7)


def is_valid_value(value_id: bytes) -> bool:
    """The simulated application's valid(v): ids starting with 0xFF are invalid blocks."""
    return value_id[0] != 0xFF


@dataclass(frozen=True, slots=True)
class Envelope:
    src: int
    height: int  # the sender's current height and round (drive catch-up)
    round: int
    payload: object


@dataclass(frozen=True, slots=True)
class Status:
    height: int


@dataclass(frozen=True, slots=True)
class DecidedBlock:
    """Block sync: a decided value with its commit (what a node's catch-up serves)."""
    height: int
    value_id: bytes
    commit: Commit


class SigningLog(MemoryLastSignStore):
    """The last-sign store of a simulated validator, which also reports every signature
    the signer makes (it saves each one before returning it), sent or not."""

    def __init__(self, world: "World", index: int):
        super().__init__()
        self.world = world
        self.index = index

    def save(self, record: dict) -> None:
        super().save(record)
        self.world.record_signature(self.index, record)


class HonestNode:
    """An honest validator: the real Driver, run by the node's own Executor
    (consensus/executor.py), whose ports this class implements on the simulated network,
    clock and disk."""

    def __init__(self, world: "World", index: int, key: Ed25519Key):
        self.world = world
        self.index = index
        self.key = key
        self.store = SigningLog(world, index)   # survives crashes, like the disk file
        self.wal = MemoryWal()                  # the log on disk; its synced part survives a power cut
        self.committed: dict[int, tuple[bytes, Commit]] = {}  # block store
        self.committed_height = 0
        self.alive = True
        self.incarnation = 0
        self.driver: Driver | None = None
        self.executor: Executor | None = None
        self.pacer = GossipPacer(world.sc.gossip_ms)  # what it last gossiped: kept across restarts
        self.served: dict[tuple[int, int], int] = {}  # (peer, height) -> when we last sent it
        self.pre_crash: tuple | None = None
        self.power_cut_pending = False

    # -- life cycle
    def boot(self) -> None:
        w = self.world
        self.driver = w.driver_class(CHAIN_ID, w.sc.params, Signer(self.key, CHAIN_ID, self.store),
                                     wal=self.wal)
        self.executor = Executor(self.driver, network=self, timers=self, values=self,
                                 decisions=self, pacer=self.pacer)
        if self.wal.records:
            replay(self.wal.records, self.driver)
        if self.pre_crash is not None and self.driver.snapshot() != self.pre_crash:
            w.violation(f"replay mismatch: node {self.index} rebuilt a different state "
                        f"at height {self.driver.height}")
        self.pre_crash = None
        if self.driver.height <= self.committed_height:
            self.start_height(self.committed_height + 1)
        else:
            w.trace(f"n{self.index} restarted at h={self.driver.height} r={self.driver.state.round}")
            run_now(self.executor.run(self.driver.restart_effects()))

    def crash(self, lose_unsynced: bool) -> None:
        d = self.driver
        if d is not None and d.height > self.committed_height and not lose_unsynced:
            self.pre_crash = d.snapshot()
        if lose_unsynced:
            self.wal.power_cut()
        self.alive = False
        self.incarnation += 1
        self.driver = None
        self.executor = None
        self.pacer.last_key = None

    def start_height(self, h: int) -> None:
        run_now(self.executor.apply(StartHeight(h, self.world.valset_for(h))))

    # -- inputs
    def apply(self, inp) -> None:
        w = self.world
        if type(inp) is VoteReceived:
            timer = w.timer
            if timer is None:
                fx = self.driver.apply(inp)
            else:
                t0 = timer()
                fx = self.driver.apply(inp)
                w.vote_ns += timer() - t0
            w.vote_inputs += 1
        else:
            fx = self.driver.apply(inp)
        w.inputs += 1
        if self.power_cut_pending:
            # power cut after the core ran (the signer already saved its record, after
            # the driver synced the WAL) but before any effect ran: the WAL keeps what was
            # synced, nothing reaches the network
            self.power_cut_pending = False
            w.trace(f"n{self.index} POWER CUT mid-effects ({len(fx)} effects lost)")
            self.crash(lose_unsynced=True)
            return
        run_now(self.executor.run(fx))

    def deliver(self, env: Envelope) -> None:
        if not self.alive:
            return
        w = self.world
        p = env.payload
        tp = type(p)
        if env.height <= self.committed_height and w.sc.block_sync:
            self.maybe_serve(env.src, env.height)
        elif env.height == self.driver.height and env.round < self.driver.state.round:
            run_now(self.executor.help_peer(env.src, env.round, w.now))
        if tp is Vote:
            if w.verify_signatures and not w.signature_ok(p):
                return
            self.apply(VoteReceived(p))
        elif tp is Proposal:
            if w.verify_signatures and not w.signature_ok(p):
                return
            self.apply(ProposalReceived(p, is_valid_value(p.value_id)))
        elif tp is DecidedBlock:
            self.on_decided_block(p)

    def on_timer(self, timeout: Timeout) -> None:
        if timeout.kind == TimeoutKind.COMMIT:
            if self.driver.height == timeout.height and self.committed_height >= timeout.height:
                self.start_height(timeout.height + 1)
            return
        self.apply(TimeoutElapsed(timeout))

    def on_gossip(self) -> None:
        run_now(self.executor.regossip())

    # -- the executor's ports
    async def broadcast(self, message: Proposal | Vote) -> None:
        w = self.world
        w.record_signed(self.index, message)
        w.broadcast(self.index, message)

    async def relay(self, messages: list[Vote]) -> None:
        for m in messages:
            self.world.broadcast(self.index, m)

    async def send(self, peer: int, messages: list[Proposal | Vote], status: bool = False) -> None:
        w = self.world
        for m in messages:
            w.send(self.index, peer, m)
        if status:  # every envelope carries our height; this one carries nothing else
            w.send(self.index, peer, Status(self.driver.height))

    def sample_peers(self, k: int) -> list[int]:
        w = self.world
        peers = [p for p in range(w.sc.n) if p != self.index]
        w.rng.shuffle(peers)
        return peers[:k]

    def schedule(self, timeout: Timeout, duration_ms: int) -> None:
        w = self.world
        w.schedule(w.now + duration_ms, TIMER, self.index, self.incarnation, timeout)

    def get_value(self, height: int, round: int) -> None:
        w = self.world
        vid = b"\x00" + hashlib.sha256(
            b"value|%d|%d|%d|%d" % (w.sc.seed, self.index, height, round)).digest()[1:]
        w.schedule(w.now + 1, VALUE, self.index, self.incarnation, ValueReady(height, round, vid))
        return None

    async def decide(self, d: Decide) -> None:
        self.commit_block(d.height, d.value_id, d.commit, d.round, "consensus")

    async def evidence(self, evidence) -> None:
        self.world.evidence += 1

    def commit_block(self, h: int, value_id: bytes, commit: Commit, rnd: int, via: str) -> None:
        w = self.world
        self.committed[h] = (value_id, commit)
        self.committed_height = h
        self.wal.clear()  # the block store now holds the height; the WAL restarts
        w.record_decision(self.index, h, value_id, rnd, via)
        w.check_commit(self.index, h, value_id, commit)

    def on_decided_block(self, b: DecidedBlock) -> None:
        d = self.driver
        if b.height != d.height or d.decision is not None or b.height <= self.committed_height:
            return
        try:
            self.world.valset_for(b.height).verify_commit(
                CHAIN_ID, b.commit, verify_signatures=self.world.verify_signatures)
        except InvalidCommit:
            return
        if b.commit.value_id != b.value_id or b.commit.height != b.height \
                or not is_valid_value(b.value_id):
            return
        self.commit_block(b.height, b.value_id, b.commit, b.commit.round, "sync")
        self.start_height(b.height + 1)

    def maybe_serve(self, peer: int, height: int) -> None:
        block = self.committed.get(height)
        if block is None:
            return
        w = self.world
        last = self.served.get((peer, height))
        if last is not None and w.now - last < w.sc.gossip_ms:
            return
        self.served[(peer, height)] = w.now
        w.send(self.index, peer, DecidedBlock(height, block[0], block[1]))


class World:
    def __init__(self, sc: Scenario, *, driver_class: Callable[..., Driver] = Driver,
                 verify_signatures: bool = False, trace: bool = False,
                 timer: Callable[[], int] | None = None):
        from consensus.sim.byzantine import ByzantineNode

        self.timer = timer
        self.sc = sc
        self.driver_class = driver_class
        self.verify_signatures = verify_signatures
        self.rng = random.Random(sc.seed)
        self.keys = [Ed25519Key(hashlib.sha256(b"sim-key|%d|%d" % (sc.seed, i)).digest())
                     for i in range(sc.n)]
        self.genesis = ValidatorSet([Validator.from_pub_key(k.pub_key, p)
                                     for k, p in zip(self.keys, sc.powers)])
        self.pub_by_address = {k.address: k.pub_key for k in self.keys}
        self.index_by_address = {k.address: i for i, k in enumerate(self.keys)}
        self.valsets: list[ValidatorSet | None] = [None, self.genesis]
        byz = dict(sc.byzantine)
        self.nodes: list = [ByzantineNode(self, i, k, byz[i]) if i in byz else HonestNode(self, i, k)
                            for i, k in enumerate(self.keys)]
        self.honest: list[HonestNode] = [n for n in self.nodes if isinstance(n, HonestNode)]
        self.queue: list = []
        self.seq = 0
        self.now = 0
        self.violations: list[str] = []
        self.trace_lines: list[str] | None = [] if trace else None
        # safety bookkeeping
        self.decisions: dict[int, dict[int, tuple[bytes, int, str]]] = {}
        self.signed: dict[tuple[bytes, int, int, int], bytes] = {}
        self.signatures: dict[tuple[int, int, int, int], str] = {}
        self.proposed: set[tuple[int, bytes]] = set()
        self.verified_commit_heights: set[int] = set()
        # liveness bookkeeping
        self.height_at_heal: int | None = None
        self.target_height: int | None = None
        # counters
        self.vote_inputs = 0
        self.vote_ns = 0
        self.inputs = 0
        self.deliveries = 0
        self.evidence = 0

    # -- time and events
    def schedule(self, t: int, kind: int, a, b=None, c=None) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, kind, a, b, c))

    def valset_for(self, h: int) -> ValidatorSet:
        vs = self.valsets
        while len(vs) <= h:
            vs.append(vs[-1].advance())
        return vs[h]

    def trace(self, line: str) -> None:
        if self.trace_lines is not None:
            self.trace_lines.append(f"{self.now:>7}ms {line}")

    def violation(self, what: str) -> None:
        self.violations.append(what)
        self.trace(f"VIOLATION {what}")

    # -- network
    def _connected(self, a: int, b: int) -> bool:
        for p in self.sc.partitions:
            if p.start_ms <= self.now < p.end_ms:
                for g in p.groups:
                    if (a in g) != (b in g):
                        return False
        return True

    def send(self, src: int, dst: int, payload: object) -> None:
        sc = self.sc
        rand = self.rng.random  # the C-level draw: this is the simulator's hottest path
        if self.now < sc.heal_ms:
            if rand() * 1000 < sc.drop_per_mille or (sc.partitions and not self._connected(src, dst)):
                return
        node = self.nodes[src]
        if isinstance(node, HonestNode) and node.driver is not None:
            env = Envelope(src, node.driver.height, node.driver.state.round, payload)
        else:
            env = Envelope(src, getattr(node, "max_height", 0), 0, payload)
        span = sc.delay_max_ms - sc.delay_min_ms + 1
        self.schedule(self.now + sc.delay_min_ms + int(rand() * span), DELIVER, dst, env)
        if rand() * 1000 < sc.duplicate_per_mille:
            self.schedule(self.now + sc.delay_min_ms + int(rand() * span), DELIVER, dst, env)

    def broadcast(self, src: int, payload: object) -> None:
        for dst in range(self.sc.n):
            if dst != src:
                self.send(src, dst, payload)

    def signature_ok(self, m: Vote | Proposal) -> bool:
        addr = m.validator if type(m) is Vote else m.proposer
        pub = self.pub_by_address.get(addr)
        return pub is not None and m.verify(CHAIN_ID, pub)

    # -- safety bookkeeping
    def record_signed(self, index: int, m: Vote | Proposal) -> None:
        """Every message an honest node sends; two different ones at one (validator,
        height, round, step) is a double sign -- across restarts too."""
        if type(m) is Vote:
            key = (m.validator, m.height, m.round, vote_step(m.type))
        else:
            key = (m.proposer, m.height, m.round, STEP_PROPOSE)
            self.proposed.add((m.height, m.value_id))
        sb = m.sign_bytes(CHAIN_ID)
        prev = self.signed.setdefault(key, sb)
        if prev != sb:
            self.violation(f"double sign: honest node {index} signed two different messages "
                           f"at height {key[1]} round {key[2]} step {key[3]}")
        self.trace(f"n{index} sends {_fmt(m)}")

    def record_signature(self, index: int, record: dict) -> None:
        """Every signature an honest signer produced (from its last-sign store): two
        different sign bytes at one (height, round, step) is a double sign even if the
        second message never left the node."""
        key = (index, record["height"], record["round"], record["step"])
        prev = self.signatures.setdefault(key, record["sign_bytes"])
        if prev != record["sign_bytes"]:
            self.violation(f"double sign: honest signer {index} signed two different messages "
                           f"at height {key[1]} round {key[2]} step {key[3]}")

    def record_proposal(self, p: Proposal) -> None:
        self.proposed.add((p.height, p.value_id))

    def check_commit(self, index: int, h: int, value_id: bytes, commit: Commit) -> None:
        if not self.sc.check_commits:
            return
        full = h not in self.verified_commit_heights  # full signature check once per height
        try:
            self.valset_for(h).verify_commit(CHAIN_ID, commit, verify_signatures=full)
        except InvalidCommit as e:
            self.violation(f"node {index} decided height {h} with an invalid commit: {e}")
        if commit.value_id != value_id or commit.height != h:
            self.violation(f"node {index}: commit does not match its decision at height {h}")
        self.verified_commit_heights.add(h)

    def record_decision(self, index: int, h: int, value_id: bytes, rnd: int, via: str) -> None:
        at_h = self.decisions.setdefault(h, {})
        if index in at_h and at_h[index][0] != value_id:
            self.violation(f"node {index} decided twice at height {h}")
        for other, (v, _, _) in at_h.items():
            if v != value_id:
                self.violation(f"agreement: nodes {other} and {index} decided different values "
                               f"at height {h}")
                break
        at_h[index] = (value_id, rnd, via)
        if not is_valid_value(value_id) or (h, value_id) not in self.proposed:
            self.violation(f"validity: node {index} decided a value at height {h} that is "
                           f"invalid or was never proposed")
        self.trace(f"n{index} DECIDES h={h} r={rnd} v={value_id.hex()[:8]} via {via}")

    # -- the run
    def run(self) -> None:
        sc = self.sc
        for node in self.honest:
            node.boot()
            self.schedule(sc.gossip_ms + node.index, GOSSIP, node.index)
        for c in sc.crashes:
            self.schedule(c.at_ms, CRASH, c.node, c.lose_unsynced)
            self.schedule(c.restart_ms, RESTART, c.node)
        self.schedule(sc.heal_ms, HEAL, None)
        nodes = self.nodes
        q = self.queue
        pop = heapq.heappop
        while q:
            t, _, kind, a, b, c = pop(q)
            if t > sc.end_ms:
                break
            self.now = t
            if kind == DELIVER:
                self.deliveries += 1
                nodes[a].deliver(b)
            elif kind == TIMER:
                node = nodes[a]
                if node.alive and node.incarnation == b:
                    node.on_timer(c)
            elif kind == VALUE:
                node = nodes[a]
                if node.alive and node.incarnation == b:
                    node.apply(c)
            elif kind == GOSSIP:
                node = nodes[a]
                if node.alive:
                    node.on_gossip()
                self.schedule(t + sc.gossip_ms, GOSSIP, a)
            elif kind == CRASH:
                if b:  # a power cut: it strikes in the middle of the node's next input
                    nodes[a].power_cut_pending = True
                else:
                    self.trace(f"n{a} CRASH")
                    nodes[a].crash(False)
            elif kind == RESTART:
                node = nodes[a]
                node.power_cut_pending = False
                if not node.alive:
                    self.trace(f"n{a} RESTART")
                    node.alive = True
                    node.boot()
            elif kind == HEAL:
                self.height_at_heal = max(n.committed_height for n in self.honest)
                self.target_height = self.height_at_heal + sc.heights_after_heal
                self.trace(f"HEAL at decided height {self.height_at_heal}; "
                           f"target height {self.target_height}")
            if self.target_height is not None and kind != GOSSIP and self._reached_target():
                break
            if self.violations:  # stop at the first: its trace ends there
                break

    def _reached_target(self) -> bool:
        t = self.target_height
        for n in self.honest:
            if n.committed_height < t:
                return False
        return True


def _fmt(m: Vote | Proposal) -> str:
    if type(m) is Vote:
        v = "nil" if m.value_id is None else m.value_id.hex()[:8]
        return f"{m.type.name.lower()} h={m.height} r={m.round} {v}"
    return f"proposal h={m.height} r={m.round} {m.value_id.hex()[:8]} pol={m.pol_round}"
