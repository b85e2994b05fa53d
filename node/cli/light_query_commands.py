"""`attrchain light query account|key|attestation|attributor|challenge` and
`attrchain light prove-tx`: state and inclusion, each verified against a verified header."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from node.cli.cli_types import HEIGHT, fail
from node.cli.light_common import (dir_option, echo_json, endpoint, load_config, node_option, open_client,
                                   parse_hex, peer_option, proven_tx_json, run_command)


@click.group("query")
def query_group() -> None:
    """Read state and verify its Merkle proof against a verified header."""


@query_group.command("account")
@click.argument("address")
@dir_option
@node_option
@peer_option
@click.option("--height", type=HEIGHT, default=None, help="state after this height (default latest-1)")
def query_account(address: str, directory: Path, node: str | None, peer: str | None,
                  height: int | None) -> None:
    """Balance and nonce, proven (an account never funded is proven absent: 0, 0)."""
    from node.keys import KeyError_, decode_address
    try:
        addr = decode_address(address)
    except KeyError_ as e:
        fail(f"bad_address: {e}")
    cfg = load_config(directory)

    async def main() -> dict:
        async with open_client(cfg, directory, *endpoint(cfg, node, peer)) as client:
            a = await client.account(addr, height)
            return {"address": address, "balance": a.balance, "nonce": a.nonce,
                    "exists": a.proven.value is not None, "height": a.proven.height,
                    "app_hash": a.proven.app_hash.hex(), "verified": True}

    echo_json(run_command(main))


@query_group.command("key")
@click.argument("key_hex")
@dir_option
@node_option
@peer_option
@click.option("--height", type=HEIGHT, default=None)
def query_key(key_hex: str, directory: Path, node: str | None, peer: str | None,
              height: int | None) -> None:
    """A raw state key: its value, or its proven absence."""
    key = parse_hex(key_hex, "bad_key", "KEY_HEX")
    cfg = load_config(directory)

    async def main() -> dict:
        async with open_client(cfg, directory, *endpoint(cfg, node, peer)) as client:
            v = await client.query_key(key, height)
            return {"key": key.hex(), "value": None if v.value is None else v.value.hex(),
                    "present": v.value is not None, "height": v.height,
                    "app_hash": v.app_hash.hex(), "verified": True}

    echo_json(run_command(main))


def _add_poa_query(kind: str, argument: str, help_text: str) -> None:
    """`attrchain light query <kind> ID`: node/poa/queries.py over proven reads, every key
    at one height (the first read's: the newest provable state, unless --height)."""
    @query_group.command(kind, help=help_text)
    @click.argument(argument)
    @dir_option
    @node_option
    @peer_option
    @click.option("--height", type=HEIGHT, default=None, help="state after this height (default latest-1)")
    def command(directory: Path, node: str | None, peer: str | None, height: int | None, **args: str) -> None:
        from node.poa import queries
        ident = parse_hex(args[argument], "bad_param", argument.upper(), 32)
        build = {"attestation": queries.use_attestations, "attributor": queries.model_attributor,
                 "challenge": queries.challenge}[kind]
        cfg = load_config(directory)

        async def main() -> dict:
            async with open_client(cfg, directory, *endpoint(cfg, node, peer)) as client:
                at: dict[str, Any] = {"height": height, "app_hash": None}

                async def read(key: bytes) -> bytes | None:
                    v = await client.query_key(key, at["height"])
                    at.update(height=v.height, app_hash=v.app_hash.hex())
                    return v.value
                try:
                    body = await build(read, ident)
                except queries.QueryRefused as e:
                    fail(f"{e.code}: {e.reason}")
                return {**body, **at, "verified": True}

        echo_json(run_command(main))


_add_poa_query("attestation", "use_tx", "A use's Proof-of-Attribution escrows and attestations, proven.")
_add_poa_query("attributor", "model", "A model's Proof-of-Attribution attributor, proven.")
_add_poa_query("challenge", "attestation_id", "An attestation's escrow, challenge and curators, proven.")


@click.command("prove-tx")
@click.argument("tx_hash")
@dir_option
@node_option
def prove_tx_command(tx_hash: str, directory: Path, node: str | None) -> None:
    """Prove a committed tx is in its block (against the verified header's data_hash)."""
    tid = parse_hex(tx_hash, "bad_hash", "TX_HASH", 32)
    cfg = load_config(directory)

    async def main() -> dict:
        async with open_client(cfg, directory, node or cfg["node"], None) as client:
            proven = await client.prove_tx(tid)
            if proven is None:
                from node.light.errors import ProviderError
                raise ProviderError("not_found", f"no committed tx {tid.hex()}")
            return proven_tx_json(None, proven)

    echo_json(run_command(main))
