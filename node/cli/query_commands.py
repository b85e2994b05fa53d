"""`attrchain query <what> ...` and `attrchain status`: read a node's RPC and print its
JSON answer (state with its Merkle proofs, blocks, commits, validators, txs)."""
from __future__ import annotations

import json
from typing import Any

import click

from node.cli.cli_types import HEIGHT, fail, node_option
from node.cli.rpc_client import RpcClient, RpcClientError

height_option = click.option("--height", type=HEIGHT, default=None, help="state after this height")

# kind -> (argument, its RPC parameter, help): `attrchain query <kind> ARGUMENT` is
# /query/<kind>?<parameter>=ARGUMENT, the answer proven against the height's app hash
PROVEN_QUERIES: dict[str, tuple[str, str, str]] = {
    "account": ("address", "address", "Balance and nonce of an account (open1... address), with its Merkle proof."),
    "asset": ("asset_id", "id", "An asset: kind, owner, price, sources, share table."),
    "upstream": ("asset_id", "id", "The attribution graph above an asset."),
    "downstream": ("asset_id", "id", "The assets built on an asset."),
    "earnings": ("address", "address", "What an account earned, by asset."),
    "holdings": ("address", "address",
                 "An account's revenue rights: shares, locked in orders, earned, accrued, per asset."),
    "orders": ("address", "address", "An account's open orders."),
    "order": ("order_id", "id", "One order by id (open or closed)."),
    "book": ("asset_id", "id", "The order book of an asset: price levels a side, best first, and the last price."),
    "fills": ("asset_id", "id", "The recent fills and last price of an asset."),
    "key": ("key_hex", "key", "A raw state key (hex) with its Merkle proof."),
    # Proof of Attribution (docs/poa.md, "Reading it back")
    "attestation": ("use_tx", "hash", "A use's Proof-of-Attribution escrows, one per datanet, each with its "
                    "attestation (scores, status), static weights beside the measurement."),
    "attributor": ("model", "id", "A model's Proof-of-Attribution attributor (operator, bond)."),
    "challenge": ("attestation_id", "id",
                  "An attestation's escrow, its challenge (challenger, bond, votes) and its curators."),
}
# kind -> help: `attrchain query <kind> [HEIGHT]` is GET /<kind>?height=HEIGHT
BY_HEIGHT: dict[str, str] = {
    "block": "A block (default: latest).",
    "commit": "The commit of a block (default: latest).",
    "validators": "The validator set at a height (default: next).",
}


def _run_query(node: str, kind: str, height: int | None, **params: str) -> None:
    try:
        with RpcClient(node) as c:
            click.echo(json.dumps(c.query(kind, height=height, **params), indent=2))
    except RpcClientError as e:
        fail(str(e))


def _get(node: str, path: str, **params: Any) -> None:
    try:
        with RpcClient(node) as c:
            click.echo(json.dumps(c.get(path, **params), indent=2))
    except RpcClientError as e:
        fail(str(e))


@click.group("query")
def query_group() -> None:
    """Read state with Merkle proofs, blocks, txs and validators from a node."""


def _add_proven_query(kind: str, argument: str, param: str, help_text: str) -> None:
    @query_group.command(kind, help=help_text)
    @click.argument(argument)
    @node_option
    @height_option
    def command(node: str, height: int | None, **args: str) -> None:
        _run_query(node, kind, height, **{param: args[argument]})


def _add_by_height(kind: str, help_text: str) -> None:
    @query_group.command(kind, help=help_text)
    @click.argument("height", type=HEIGHT, required=False)
    @node_option
    def command(height: int | None, node: str) -> None:
        _get(node, f"/{kind}", height=height)


for _kind, (_argument, _param, _help) in PROVEN_QUERIES.items():
    _add_proven_query(_kind, _argument, _param, _help)
for _kind, _help in BY_HEIGHT.items():
    _add_by_height(_kind, _help)


@query_group.command("tx")
@click.argument("tx_hash")
@node_option
def q_tx(tx_hash: str, node: str) -> None:
    """A committed tx with its result and inclusion proof."""
    _get(node, "/tx", hash=tx_hash)


@click.command("status")
@node_option
def status_command(node: str) -> None:
    """The node's status."""
    _get(node, "/status")
