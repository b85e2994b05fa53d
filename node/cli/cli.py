"""The `attrchain` command line.

Each subcommand lives in the module that owns its job and is imported only when it is
run, so `attrchain --help` stays fast and a command's dependencies (libp2p, LevelDB) load
only when needed. To add a command, add one line to `COMMANDS` (or to a group's table).
"""
from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "demo": "testnet.demo_testnet:command",          # 4 validators, real processes
    "ledger-demo": "testnet.demo:command",           # the same story, ledger only, one process
    "sim": "node.cli.sim_command:command",
    "init": "node.cli.home_commands:init_command",
    "keys": "node.cli.home_commands:keys_group",
    "genesis": "node.cli.genesis_commands:genesis_group",
    "testnet": "testnet.commands:testnet_group",
    "start": "node.runtime.run:start_command",
    "tx": "node.cli.tx_commands:tx_group",
    "query": "node.cli.query_commands:query_group",
    "status": "node.cli.query_commands:status_command",
    "light": "node.cli.light_commands:light_group",
    "poa": "node.cli.poa_commands:poa_group",
}

BENCH_COMMANDS: dict[str, str] = {
    "apply": "testnet.bench_apply:command",
    "gossip": "testnet.bench_gossip:command",
    "fuzz": "testnet.bench_fuzz:command",
    "prune": "testnet.bench_prune:command",
    "statesync": "testnet.bench_statesync:command",
    "poa": "node.poa.bench:command",
    "market": "testnet.bench_market:command",
    "signatures": "testnet.bench_signatures:command",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module_name, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(package_name="attrchain")
def cli() -> None:
    """attrchain: a node for an open ledger of AI production (Proof of Attribution)."""


@cli.group(cls=LazyGroup, lazy=BENCH_COMMANDS)
def bench() -> None:
    """Benchmarks that print measured figures and end with one JSON line."""


def main() -> None:
    cli()
