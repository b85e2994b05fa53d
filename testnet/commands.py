"""`attrchain testnet up|status|down|load`."""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from testnet.network import (
    TestnetInfo, generate, is_running, node_status, read_pid, start_node, stop_node, wait_for,
)

DEFAULT_DIR = Path.home() / ".attrchain-testnet"
dir_option = click.option("--dir", "directory", type=click.Path(path_type=Path),
                          default=DEFAULT_DIR, show_default=True, help="testnet directory")


@click.group("testnet")
def testnet_group() -> None:
    """Multi-process testnets: local on 127.0.0.1 (up/down/...), or homes for many machines (generate)."""


class Rates:
    """tx/s per node from successive status samples."""

    def __init__(self) -> None:
        self.last: dict[str, tuple[float, int]] = {}

    def update(self, name: str, total_txs: int | None) -> str:
        now = time.monotonic()
        if total_txs is None:
            return "-"
        prev = self.last.get(name)
        self.last[name] = (now, total_txs)
        if prev is None or now - prev[0] <= 0:
            return "-"
        return f"{(total_txs - prev[1]) / (now - prev[0]):.0f}"


def status_table(info: TestnetInfo, rates: Rates | None = None) -> Table:
    t = Table(title=f"testnet {info.chain_id}")
    for col in ("node", "pid", "height", "round", "peers", "mempool", "tx/s", "app hash", "rpc"):
        t.add_column(col)
    for n in info.nodes:
        s = node_status(n, timeout=1.0) if is_running(n) else None
        pid = str(read_pid(n) or "-") if is_running(n) else "stopped"
        if s is None:
            t.add_row(n.name, pid, "-", "-", "-", "-", "-", "-", n.rpc)
            continue
        rate = rates.update(n.name, s.get("total_txs")) if rates else "-"
        t.add_row(n.name + ("" if n.validator else " (full)"), pid,
                  str(s.get("height", "-")), str(s.get("round", "-")),
                  str(s.get("peers", "-")), str(s.get("mempool_size", "-")), rate,
                  str(s.get("app_hash", ""))[:12], n.rpc)
    return t


def first_committed(info: TestnetInfo) -> bool:
    hs = [(node_status(n, timeout=1.0) or {}).get("height", 0) for n in info.nodes]
    return all(h >= 1 for h in hs)


@testnet_group.command("up")
@click.option("-n", "n_validators", type=click.IntRange(1, 16), default=4, show_default=True)
@dir_option
@click.option("--watch", type=float, default=None,
              help="show the live table for this many seconds (default: until Ctrl-C on a terminal)")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="how long to wait for the first committed block")
def up(n_validators: int, directory: Path, watch: float | None, timeout: float) -> None:
    """Generate genesis and keys for N validators, start them, wait for committed blocks."""
    console = Console(stderr=True)
    if (directory / "testnet.json").exists():
        old = TestnetInfo.load(directory)
        if any(is_running(n) for n in old.nodes):
            raise click.ClickException(f"a testnet is running in {directory}; `attrchain testnet down --dir {directory}` first")
        # `up` starts a fresh chain: remove the old one (only a directory we created)
        import shutil
        shutil.rmtree(directory)
    t0 = time.monotonic()
    info = generate(directory, n_validators)
    for n in info.nodes:
        start_node(n)
    console.print(f"started {len(info.nodes)} nodes in {directory} (logs: node*/node.log)")
    try:
        wait_for(lambda: first_committed(info), timeout, what="the first committed block")
    except TimeoutError as e:
        dead = [n.name for n in info.nodes if not is_running(n)]
        raise click.ClickException(f"{e}; exited nodes: {dead or 'none'}; see {directory}/node*/node.log")
    console.print(f"first block committed on every node {time.monotonic() - t0:.1f} s after `up`")
    watch_table(info, watch if watch is not None else (None if sys.stdout.isatty() else 0))


def watch_table(info: TestnetInfo, seconds: float | None) -> None:
    rates = Rates()
    if seconds == 0:
        Console().print(status_table(info, rates))
        return
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        with Live(status_table(info, rates), refresh_per_second=2) as live:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(1)
                live.update(status_table(info, rates))
    except KeyboardInterrupt:
        pass
    Console(stderr=True).print("nodes keep running; `attrchain testnet down` stops them")


@testnet_group.command("status")
@dir_option
@click.option("--watch", type=float, default=0, help="refresh for this many seconds")
def status(directory: Path, watch: float) -> None:
    """Height, round, peers, mempool and tx/s of every node."""
    try:
        info = TestnetInfo.load(directory)
    except FileNotFoundError as e:
        raise click.ClickException(str(e))
    watch_table(info, watch)


@testnet_group.command("down")
@dir_option
def down(directory: Path) -> None:
    """Stop every node of the testnet (SIGTERM, then SIGKILL after 10 s)."""
    try:
        info = TestnetInfo.load(directory)
    except FileNotFoundError as e:
        raise click.ClickException(str(e))
    stopped = [n.name for n in info.nodes if stop_node(n, signal.SIGTERM)]
    click.echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@testnet_group.command("load")
@dir_option
@click.option("--rate", type=click.IntRange(1, 100_000), default=100, show_default=True, help="txs per second")
@click.option("--duration", type=click.IntRange(1, 86_400), default=10, show_default=True, help="seconds")
def load(directory: Path, rate: int, duration: int) -> None:
    """Submit a realistic mix of transactions through the nodes' RPC."""
    from testnet.load import run_load
    try:
        info = TestnetInfo.load(directory)
    except FileNotFoundError as e:
        raise click.ClickException(str(e))
    from node.cli.rpc_client import RpcClientError
    try:
        summary = run_load(directory, info, rate, duration)
    except (RpcClientError, RuntimeError) as e:
        raise click.ClickException(f"load stopped: {e}")
    click.echo(summary)



from testnet.demo_testnet import command as demo_command  # noqa: E402  (light imports only)

testnet_group.add_command(demo_command, "demo")

from testnet.bench_testnet import command as bench_command  # noqa: E402

testnet_group.add_command(bench_command, "bench")

from testnet.generate import command as generate_command  # noqa: E402

testnet_group.add_command(generate_command, "generate")
