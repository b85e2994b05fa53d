"""What the `attrchain light` commands share: the client's directory and config, the
provider and client it opens on the chosen node or peer, running one async command with
the light client's errors mapped to exit codes, and printing verified answers."""
from __future__ import annotations

import json
from contextlib import asynccontextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import click
import trio

from node.cli.cli_types import fail

DEFAULT_DIR = Path.home() / ".attrchain-light"
CONFIG_FILE = "light.json"


def load_config(directory: Path) -> dict:
    try:
        return json.loads((directory / CONFIG_FILE).read_text())
    except FileNotFoundError:
        fail(f"not_initialised: {directory} has no light client (run `attrchain light init`)")
    except ValueError as e:
        fail(f"bad_config: {directory / CONFIG_FILE}: {e}")
    raise AssertionError


def endpoint(cfg: dict, node: str | None, peer: str | None) -> tuple[str | None, str | None]:
    """The node to ask: --node/--peer on the command line, else the one given at init."""
    if node or peer:
        return node, peer
    return cfg.get("node"), cfg.get("peer")


@asynccontextmanager
async def open_provider(chain_id: str, node: str | None, peer: str | None) -> AsyncIterator[Any]:
    if peer:
        from node.light.p2p_provider import open_p2p_provider
        async with open_p2p_provider(chain_id, peer) as p:
            yield p
        return
    from node.light.rpc_provider import RpcProvider
    p = RpcProvider(node or "127.0.0.1:26657")
    try:
        yield p
    finally:
        await p.aclose()


@asynccontextmanager
async def open_client(cfg: dict, directory: Path, node: str | None, peer: str | None,
                       sequential: bool = False) -> AsyncIterator[Any]:
    """A LightClient on the chosen node, with the witnesses given at init (RPC)."""
    from node.light.client import LightClient
    from node.light.rpc_provider import RpcProvider
    from node.light.store import TrustedStore
    witnesses = [RpcProvider(w) for w in cfg.get("witnesses", [])]
    try:
        async with open_provider(cfg["chain_id"], node, peer) as provider:
            yield LightClient(cfg["chain_id"], provider, TrustedStore(directory),
                              trust_level=Fraction(cfg["trust_level"]),
                              trusting_period_ms=cfg["trusting_period_ms"], sequential=sequential,
                              witnesses=witnesses)
    finally:
        for w in witnesses:
            await w.aclose()


@asynccontextmanager
async def open_light_client(directory: Path, node: str | None) -> AsyncIterator[Any]:
    """The light client kept in `directory` (after `light init`), talking RPC to `node`
    (default: the one given at init). For other commands that read proven state (poa)."""
    async with open_client(load_config(directory), directory, node, None) as client:
        yield client


def run_command(fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run one async command; map the light client's errors to exit codes."""
    from node.light.errors import LightError, VerificationError
    try:
        return trio.run(fn)
    except VerificationError as e:
        fail(f"{e.code}: {e.reason}", 3, label="REJECTED")
    except LightError as e:
        fail(f"{e.code}: {e.reason}", 1)


def echo_json(doc: dict) -> None:
    click.echo(json.dumps(doc, indent=2))


def header_json(lb) -> dict:
    h = lb.header
    return {"height": h.height, "hash": lb.id().hex(), "time_ms": h.time_ms,
            "app_hash": h.app_hash.hex(), "data_hash": h.data_hash.hex(),
            "validators_hash": h.validators_hash.hex(), "validators": len(lb.validators),
            "signed_power": sum(lb.validators.power_of(s.validator) for s in lb.commit.signatures),
            "total_power": lb.validators.total_power}


dir_option = click.option("--dir", "directory", type=click.Path(path_type=Path), default=DEFAULT_DIR,
                          show_default=True, help="light client directory")
node_option = click.option("--node", default=None, help="RPC address of a full node (default: the one given at init)")
peer_option = click.option("--peer", default=None,
                           help="talk libp2p to this full node instead (/ip4/.../tcp/.../p2p/12D3KooW...)")


def proven_tx_json(res, proven) -> dict:
    out = {"hash": proven.tx_id.hex(), "height": proven.height, "index": proven.index,
           "total": proven.proof.total, "data_hash": proven.header.header.data_hash.hex(),
           "header_hash": proven.header.id().hex(), "included": True, "verified": True}
    if res is not None:
        out["submitted_via"] = res
    return out


def parse_hex(text: str, code: str, what: str, size: int | None = None) -> bytes:
    """`text` as bytes (an 0x prefix allowed): exactly `size` of them, or at least one;
    else exit 1 with `code`."""
    try:
        data = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        data = b""
    if len(data) != size if size else not data:
        fail(f"{code}: {what} must be {f'{size} bytes of' if size else 'non-empty'} hex")
    return data
