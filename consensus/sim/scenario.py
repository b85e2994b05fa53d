"""A simulation scenario, drawn deterministically from a seed.

Faults (drops, partitions, crashes) happen only before `heal_ms`; after it the network
delivers every message within `delay_max_ms` and all crashed nodes are back, so liveness
can be demanded. Byzantine validators stay Byzantine; their total power is < 1/3.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from consensus.params import ConsensusParams

BEHAVIOURS = ("silent", "equivocate", "random", "split")


@dataclass(frozen=True)
class Partition:
    start_ms: int
    end_ms: int
    groups: tuple[tuple[int, ...], ...]  # node indices; a message crosses groups -> dropped


@dataclass(frozen=True)
class Crash:
    node: int
    at_ms: int
    restart_ms: int
    lose_unsynced: bool  # a power cut in the middle of an input: its effects and the
    # unsynced WAL tail are lost, while the signer's record may already be saved


@dataclass(frozen=True)
class Scenario:
    seed: int
    powers: tuple[int, ...]
    byzantine: tuple[tuple[int, str], ...]  # (node index, behaviour)
    delay_min_ms: int
    delay_max_ms: int
    drop_per_mille: int
    duplicate_per_mille: int
    partitions: tuple[Partition, ...]
    crashes: tuple[Crash, ...]
    heal_ms: int
    params: ConsensusParams
    gossip_ms: int
    heights_after_heal: int = 3
    block_sync: bool = True  # lagging nodes fetch decided blocks with their commits
    check_commits: bool = True  # every decision's commit must verify against the set
    end_ms: int = 0  # hard stop; liveness must be reached before it
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n(self) -> int:
        return len(self.powers)

    @property
    def honest(self) -> tuple[int, ...]:
        byz = {i for i, _ in self.byzantine}
        return tuple(i for i in range(self.n) if i not in byz)

    def describe(self) -> str:
        return (f"seed={self.seed} n={self.n} powers={list(self.powers)} "
                f"byzantine={list(self.byzantine)} delay={self.delay_min_ms}-{self.delay_max_ms}ms "
                f"drop={self.drop_per_mille}/1000 dup={self.duplicate_per_mille}/1000 "
                f"partitions={[(p.start_ms, p.end_ms, p.groups) for p in self.partitions]} "
                f"crashes={[(c.node, c.at_ms, c.restart_ms, c.lose_unsynced) for c in self.crashes]} "
                f"heal={self.heal_ms}ms")


def generate(seed: int, *, sizes: tuple[int, ...] = (4, 7, 10), byzantine: str = "mixed",
             max_power: int = 10, block_sync: bool = True, run_ms_after_heal: int = 120_000,
             check_commits: bool = True,
             behaviours: tuple[str, ...] = BEHAVIOURS) -> Scenario:
    """`byzantine`: "none"; "f" -- up to f = (n-1)//3 validators, total power < 1/3;
    "power" -- as many validators as fit under 1/3 of the power (more than f of the
    small ones: what makes counting votes by number instead of power unsafe);
    "mixed" -- the seed picks "f" or "power"."""
    rng = random.Random(seed * 7919 + 17)
    n = sizes[rng.randrange(len(sizes))]
    powers = tuple(rng.randint(1, max_power) for _ in range(n))
    if len(set(powers)) == 1:  # always unequal power
        powers = (powers[0] + 1,) + powers[1:]
    total = sum(powers)
    byz: list[tuple[int, str]] = []
    mode = byzantine if byzantine != "mixed" else ("f", "power")[rng.randrange(2)]
    if mode not in ("none", "f", "power"):
        raise ValueError(f"unknown byzantine mode {byzantine!r}")
    if mode != "none":
        f = (n - 1) // 3
        want = rng.randint(0, f) if mode == "f" else n
        order = list(range(n))
        rng.shuffle(order)
        if mode == "power":
            order.sort(key=lambda i: powers[i])  # the small ones: many validators, < 1/3 power
        for i in order:
            if len(byz) == want:
                break
            if 3 * (sum(powers[j] for j, _ in byz) + powers[i]) < total:
                byz.append((i, behaviours[rng.randrange(len(behaviours))]))
    byz.sort()
    honest = [i for i in range(n) if i not in {b for b, _ in byz}]
    dmin = rng.randint(1, 10)
    dmax = rng.randint(dmin + 10, 120)
    heal = rng.randint(500, 4000)
    partitions = []
    for _ in range(rng.randint(0, 2)):
        s = rng.randint(0, heal - 100)
        e = rng.randint(s + 50, heal)
        members = list(range(n))
        rng.shuffle(members)
        cut = rng.randint(1, n - 1)
        partitions.append(Partition(s, e, (tuple(sorted(members[:cut])),
                                           tuple(sorted(members[cut:])))))
    crashes = []
    for node in rng.sample(honest, k=min(len(honest), rng.randint(0, 2))):
        at = rng.randint(0, heal - 50)
        crashes.append(Crash(node, at, rng.randint(at + 1, heal), rng.random() < 0.5))
    crashes.sort(key=lambda c: (c.at_ms, c.node))
    # Timeouts sized to the delay bound after healing: round 0 with an honest proposer
    # succeeds once the network is synchronous; they still grow per round.
    params = ConsensusParams(
        propose_ms=3 * dmax, propose_delta_ms=dmax // 2,
        prevote_ms=2 * dmax, prevote_delta_ms=dmax // 2,
        precommit_ms=2 * dmax, precommit_delta_ms=dmax // 2,
        commit_ms=dmax // 2,
    )
    return Scenario(
        seed=seed, powers=powers, byzantine=tuple(byz), delay_min_ms=dmin, delay_max_ms=dmax,
        drop_per_mille=rng.randint(0, 300), duplicate_per_mille=rng.randint(0, 150),
        partitions=tuple(partitions), crashes=tuple(crashes), heal_ms=heal, params=params,
        gossip_ms=3 * dmax, end_ms=heal + run_ms_after_heal, block_sync=block_sync,
        check_commits=check_commits,
    )
