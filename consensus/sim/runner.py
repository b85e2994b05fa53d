"""Run seeds and check the properties after each run."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from consensus.driver import Driver
from consensus.sim.scenario import Scenario, generate
from consensus.sim.world import World


@dataclass
class SeedResult:
    seed: int
    scenario: Scenario
    violations: list[str]
    heights_decided: int        # highest height every honest node decided
    max_round_after_heal: int
    vote_inputs: int
    vote_ns: int
    inputs: int
    deliveries: int
    evidence: int
    end_ms: int
    trace: list[str] | None = None


def check_liveness(w: World) -> list[str]:
    sc = w.sc
    out = []
    if w.target_height is None:
        return ["liveness: the run ended before the faults healed"]
    laggards = [n.index for n in w.honest if n.committed_height < w.target_height]
    if laggards:
        out.append(f"liveness: honest nodes {laggards} did not decide up to height "
                   f"{w.target_height} within {sc.end_ms - sc.heal_ms} ms after healing")
    bound = liveness_round_bound(sc)
    for h in range(w.height_at_heal + 2, w.target_height + 1):
        rounds = [r for (_, r, via) in w.decisions.get(h, {}).values() if via == "consensus"]
        if rounds and min(rounds) > bound:
            out.append(f"liveness: height {h} (started after healing) needed round "
                       f"{min(rounds)} > bound {bound}")
    return out


def liveness_round_bound(sc: Scenario) -> int:
    """After healing, a round with an honest proposer decides; a faulty proposer can waste
    a round, and weighted round robin can give one validator consecutive rounds."""
    return sc.n + 1


def run_seed(seed: int, *, driver_class: Callable[..., Driver] = Driver,
             scenario: Scenario | None = None, verify_signatures: bool = False,
             trace: bool = False, timer: Callable[[], int] | None = None,
             **gen) -> SeedResult:
    sc = scenario if scenario is not None else generate(seed, **gen)
    w = World(sc, driver_class=driver_class, verify_signatures=verify_signatures, trace=trace,
              timer=timer)
    w.run()
    violations = list(w.violations)
    if not violations:
        violations += check_liveness(w)
    max_round = 0
    if w.height_at_heal is not None:
        for h, decs in w.decisions.items():
            if h > w.height_at_heal + 1:
                for (_, r, via) in decs.values():
                    if via == "consensus":
                        max_round = max(max_round, r)
    return SeedResult(
        seed=seed, scenario=sc, violations=violations,
        heights_decided=min(n.committed_height for n in w.honest),
        max_round_after_heal=max_round, vote_inputs=w.vote_inputs, vote_ns=w.vote_ns,
        inputs=w.inputs, deliveries=w.deliveries, evidence=w.evidence, end_ms=w.now,
        trace=w.trace_lines,
    )


@dataclass
class Summary:
    seeds: int = 0
    heights_decided: int = 0
    violations: int = 0
    failing_seeds: list[int] = field(default_factory=list)
    vote_inputs: int = 0
    vote_ns: int = 0
    inputs: int = 0
    deliveries: int = 0
    evidence: int = 0
    max_round_after_heal: int = 0

    def add(self, r: SeedResult) -> None:
        self.seeds += 1
        self.heights_decided += r.heights_decided
        self.violations += len(r.violations)
        if r.violations:
            self.failing_seeds.append(r.seed)
        self.vote_inputs += r.vote_inputs
        self.vote_ns += r.vote_ns
        self.inputs += r.inputs
        self.deliveries += r.deliveries
        self.evidence += r.evidence
        self.max_round_after_heal = max(self.max_round_after_heal, r.max_round_after_heal)

    @property
    def us_per_vote(self) -> float:
        return self.vote_ns / self.vote_inputs / 1000 if self.vote_inputs else 0.0
