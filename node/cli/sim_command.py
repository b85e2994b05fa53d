"""`attrchain sim`: run seeded consensus simulations and end with one JSON line.

    attrchain sim --seeds 10000
    attrchain sim --seeds 1 --start 4242 --trace        # replay one seed and print its trace
"""
from __future__ import annotations

import json
import sys
import time

import click

from consensus.crypto import Ed25519Key, verify_signature
from consensus.sim.runner import Summary, run_seed


class VerifyYardstick:
    """One ed25519 verify of a vote-sized message, sampled between seeds throughout the
    run, so it sees the same machine load as the votes it is compared with."""

    def __init__(self) -> None:
        k = Ed25519Key(b"\x07" * 32)
        self.pub, self.msg = k.pub_key, b"x" * 120
        self.sig = k.sign(self.msg)
        self.ns = 0
        self.n = 0

    def sample(self, n: int = 200) -> None:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            verify_signature(self.pub, self.msg, self.sig)
        self.ns += time.perf_counter_ns() - t0
        self.n += n

    @property
    def us(self) -> float:
        return self.ns / self.n / 1000 if self.n else 0.0


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter("a comma-separated list of validator counts, e.g. 4,7,10")
    if not sizes or any(s < 1 or s > 100 for s in sizes):
        raise click.BadParameter("validator counts must be between 1 and 100")
    return sizes


@click.command()
@click.option("--seeds", type=click.IntRange(min=1), default=1000, show_default=True,
              help="How many seeds to run.")
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True,
              help="First seed.")
@click.option("--validators", default="4,7,10", show_default=True,
              help="Validator counts to draw from (comma-separated).")
@click.option("--verify-signatures", is_flag=True,
              help="Verify every message's ed25519 signature on delivery (slower).")
@click.option("--trace", is_flag=True, help="Print the full trace of every seed run.")
def command(seeds: int, start: int, validators: str, verify_signatures: bool, trace: bool) -> None:
    """Run seeded simulations of the consensus core (faulty network, crashes, Byzantine
    validators) and check agreement, validity, liveness and no double signing."""
    sizes = _sizes(validators)
    summary = Summary()
    yardstick = VerifyYardstick()
    t0 = time.perf_counter()
    for seed in range(start, start + seeds):
        if (seed - start) % 20 == 0:
            yardstick.sample()
        r = run_seed(seed, sizes=sizes, verify_signatures=verify_signatures, trace=trace,
                     timer=time.perf_counter_ns)
        summary.add(r)
        if trace and r.trace:
            click.echo(f"--- seed {seed}: {r.scenario.describe()}")
            for line in r.trace:
                click.echo(line)
        if r.violations:
            click.echo(f"FAIL seed {seed}: {r.scenario.describe()}", err=True)
            for v in r.violations:
                click.echo(f"  {v}", err=True)
            if not trace:  # a failing seed replays deterministically: show its trace
                again = run_seed(seed, sizes=sizes, verify_signatures=verify_signatures,
                                 trace=True)
                for line in (again.trace or [])[-80:]:
                    click.echo(f"  | {line}", err=True)
    seconds = time.perf_counter() - t0
    yardstick.sample()
    verify_us = yardstick.us
    us_vote = summary.us_per_vote
    click.echo(f"{summary.seeds} seeds, {summary.heights_decided} heights decided "
               f"(by every honest node), {summary.violations} violations, "
               f"{summary.evidence} equivocations caught, in {seconds:.1f} s")
    click.echo(f"applying a vote: {us_vote:.2f} us per input over {summary.vote_inputs} "
               f"vote inputs (signature verification excluded); ed25519 verify sampled during "
               f"the run: {verify_us:.1f} us; ratio {us_vote / verify_us:.3f}")
    click.echo(json.dumps({
        "seeds": summary.seeds,
        "heights_decided": summary.heights_decided,
        "violations": summary.violations,
        "failing_seeds": summary.failing_seeds[:100],
        "evidence": summary.evidence,
        "max_round_after_heal": summary.max_round_after_heal,
        "vote_inputs": summary.vote_inputs,
        "us_per_vote_input": round(us_vote, 3),
        "us_per_verify": round(verify_us, 3),
        "vote_to_verify_ratio": round(us_vote / verify_us, 4) if verify_us else None,
        "inputs": summary.inputs,
        "deliveries": summary.deliveries,
        "seconds": round(seconds, 2),
    }))
    if summary.violations:
        sys.exit(1)
