"""`attrchain tx <kind> ...`: sign a transaction and broadcast it through a node's RPC.

The commands are generated from the ledger's schema table (state/tx.py KINDS), so every
transaction kind has a command and its options are the kind's fields, parsed by field type:
addresses as `open1...`, ids and keys as hex, sources and scores as `ID:PPM,ID:PPM`,
curators as comma-separated addresses. The nonce is read from the node unless given.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import click

from node.cli.cli_types import DEFAULT_HOME, DEFAULT_NODE, UINT, KindGroup, Parsed, fail
from node.cli.keyring_options import KeyringChoice, keyring_params
from node.cli.rpc_client import RpcClient, RpcClientError
from node.config import ConfigError
from node.keys import KeyError_, KeyPair, decode_address, encode_address
from node.numbers import parse_uint


def _hex_bytes(n: int | None) -> Callable[[str], bytes]:
    def parse(text: str) -> bytes:
        try:
            raw = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            raise click.BadParameter(f"not hex: {text!r}") from None
        if n is not None and len(raw) != n:
            raise click.BadParameter(f"must be {n} bytes, got {len(raw)}")
        return raw
    return parse


def _address(text: str) -> bytes:
    try:
        return decode_address(text)
    except KeyError_ as e:
        raise click.BadParameter(str(e)) from None


def _addresses(text: str) -> list[bytes]:
    return [_address(a) for a in text.split(",") if a.strip()]


def _sources(text: str) -> list[list]:
    out = []
    for item in text.split(","):
        if not item.strip():
            continue
        asset, sep, w = item.partition(":")
        if not sep:
            raise click.BadParameter(f"source {item[:80]!r}: want ASSET_ID_HEX:WEIGHT_PPM")
        out.append([_hex_bytes(32)(asset.strip()), parse_uint(w.strip(), "source weight")])
    return out


def _bool(text: str) -> bool:
    t = text.lower()
    if t in ("true", "yes", "1", "accept"):
        return True
    if t in ("false", "no", "0", "reject"):
        return False
    raise click.BadParameter(f"not a boolean: {text!r}")


def field_parser(check: Any) -> tuple[click.ParamType, str]:
    """(click type, help) for one schema field checker of state/tx.py."""
    from state.tx import (address, algorithm_text, asset_id, boolean, contribution_scores, curator_list,
                          encoded_vote, name_text, order_side, pubkey, source_weights, uri_text)
    table = [
        (address, _address, "address (open1...)"),
        (asset_id, _hex_bytes(32), "asset or order id, or hash (64 hex)"),
        (pubkey, _hex_bytes(32), "ed25519 public key (64 hex)"),
        (name_text, str, "text"),
        (uri_text, str, "URI"),
        (boolean, _bool, "true/false"),
        (curator_list, _addresses, "comma-separated addresses"),
        (source_weights, _sources, "ASSET_ID:WEIGHT_PPM,..."),
        (contribution_scores, _sources, "CONTRIBUTION_ID:SCORE_PPM,... (empty: none)"),
        (algorithm_text, str, "scorer name (span-v1)"),
        (encoded_vote, _hex_bytes(None), "encoded vote (hex)"),
        (order_side, str, "buy or sell"),
    ]
    for fn, parser, help_ in table:
        if check is fn:
            return Parsed(parser, help_), help_
    return UINT, "integer (uopen, ppm or count)"


def load_signer(key_name: str, home: Path, keyring: KeyringChoice) -> KeyPair:
    try:
        return keyring.open(home).get(key_name)
    except (KeyError_, ConfigError) as e:
        fail(str(e))
        raise


def sign_and_send(client: RpcClient, key: KeyPair, kind: str, fields: list, *, fee: int,
                  nonce: int | None, chain_id: str | None, wait: bool) -> dict:
    from nacl.signing import SigningKey
    from state.tx import sign_tx
    if chain_id is None:
        chain_id = client.status()["chain_id"]
    if nonce is None:
        nonce = client.query("account", address=encode_address(key.address))["nonce"]
    raw = sign_tx(SigningKey(key.seed), chain_id, nonce, fee, kind, fields)
    return client.broadcast_tx_commit(raw) if wait else client.broadcast_tx_sync(raw)


def field_options(schema: Any) -> tuple[list[click.Parameter], Callable[[dict], list]]:
    """One required `--field` option per field of a tx kind's schema (click parses and
    bounds each value by its type), and a function listing the values in schema order."""
    params: list[click.Parameter] = []
    for name, check in schema.fields:
        type_, help_ = field_parser(check)
        params.append(click.Option([f"--{name.replace('_', '-')}", name], type=type_, required=True, help=help_))

    def in_order(kw: dict) -> list:
        return [kw[name] for name, _ in schema.fields]
    return params, in_order


def make_tx_command(kind: str, schema: Any) -> click.Command:
    params, fields_in_order = field_options(schema)

    def callback(**kw: Any) -> None:
        fields = fields_in_order(kw)
        key = load_signer(kw["from_"], kw["home"], KeyringChoice.pop_from(kw))
        try:
            with RpcClient(kw["node"], timeout=30) as c:
                res = sign_and_send(c, key, kind, fields, fee=kw["fee"], nonce=kw["nonce"],
                                    chain_id=kw["chain_id"], wait=not kw["no_wait"])
        except RpcClientError as e:
            fail(str(e))
        click.echo(json.dumps(res, indent=2))
        check = res.get("check_tx", res)
        if check.get("code") not in (0, None) or res.get("tx_result", {}).get("code", 0) != 0:
            sys.exit(2)

    params += [
        click.Option(["--from", "from_"], required=True, help="key name in the keyring"),
        click.Option(["--home"], type=click.Path(path_type=Path), default=DEFAULT_HOME, show_default=True),
        *keyring_params(),
        click.Option(["--node"], default=DEFAULT_NODE, show_default=True, help="RPC address"),
        click.Option(["--fee"], type=UINT, default=1000, show_default=True, help="fee in uopen"),
        click.Option(["--nonce"], type=UINT, default=None, help="default: the account's next nonce"),
        click.Option(["--chain-id"], default=None, help="default: the node's"),
        click.Option(["--no-wait"], is_flag=True, help="return after mempool admission"),
    ]
    return click.Command(kind, params=params, callback=callback,
                         help=f"Sign and broadcast a `{kind}` transaction.")


@click.group("tx", cls=KindGroup, make=make_tx_command)
def tx_group() -> None:
    """Sign and broadcast transactions (one command per kind)."""
