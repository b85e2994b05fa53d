"""`attrchain bench fuzz --inputs N [--seed S]`: N seeded fuzz inputs over everything a
client or a peer can send, in process.

Half go to the RPC's parsers and app (testnet/fuzz_rpc.py), half to the network decoders
(testnet/fuzz_decoders.py, when that module is present; otherwise all N go to the RPC and
the output says so). Prints one line per half, then one JSON line: inputs, unexpected,
inputs_per_s, seconds, and per half its inputs, unexpected, per-target counts and up to 5
examples of unexpected outcomes. Exit status 1 if anything was unexpected.
"""
from __future__ import annotations

import json
import sys
import time

import click

from testnet.fuzz_rpc import fuzz_rpc


def network_fuzzer():
    """`fuzz_network_decoders(n, seed)`, or None with the reason it is missing."""
    try:
        from testnet.fuzz_decoders import fuzz_network_decoders
    except ImportError as e:
        return None, f"testnet.fuzz_decoders not available ({e}): RPC only"
    return fuzz_network_decoders, None


@click.command()
@click.option("--inputs", "n", type=click.IntRange(1, 10**9), default=100_000, show_default=True,
              help="fuzz inputs in all")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
def command(n: int, seed: int) -> None:
    """Fuzz the RPC parsers and the network decoders; end with one JSON line."""
    fuzz_net, missing = network_fuzzer()
    n_net = n // 2 if fuzz_net is not None else 0
    started = time.perf_counter()
    halves: dict[str, dict] = {}
    halves["rpc"] = fuzz_rpc(n - n_net, seed)
    if fuzz_net is not None:
        t0 = time.perf_counter()
        halves["network"] = fuzz_net(n_net, seed)
        halves["network"].setdefault("seconds", round(time.perf_counter() - t0, 2))
    seconds = time.perf_counter() - started
    for name, r in halves.items():
        click.echo(f"{name}: {r['inputs']} inputs, {r['unexpected']} unexpected, {r['seconds']} s", err=True)
    if missing:
        click.echo(missing, err=True)
    total_unexpected = sum(r["unexpected"] for r in halves.values())
    click.echo(json.dumps({"inputs": sum(r["inputs"] for r in halves.values()), "unexpected": total_unexpected,
                           "seconds": round(seconds, 2), "inputs_per_s": round(n / seconds) if seconds else None,
                           "seed": seed, **halves, "network_decoders": "ran" if fuzz_net else missing}))
    sys.exit(1 if total_unexpected else 0)
