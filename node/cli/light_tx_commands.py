"""`attrchain light submit TX_HEX` and `attrchain light tx <kind> ...`: submit a tx (RPC or
libp2p), wait until it is committed, and prove its inclusion against a verified header;
`light tx` signs with the proven nonce."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Awaitable, Callable

import click

from node.cli.cli_types import DEFAULT_HOME, UINT, KindGroup, fail
from node.cli.light_common import (DEFAULT_DIR, dir_option, echo_json, endpoint, load_config, node_option,
                                   open_client, parse_hex, peer_option, proven_tx_json, run_command)


def submit_and_prove(cfg: dict, directory: Path, node: str | None, peer: str | None,
            make_tx: Callable[[Any], Awaitable[bytes]], timeout_s: float) -> None:
    from node.light.errors import ProviderError

    async def main() -> dict:
        async with open_client(cfg, directory, *endpoint(cfg, node, peer)) as client:
            raw = await make_tx(client)
            try:
                res, proven = await client.submit_and_prove(raw, timeout_s)
            except ProviderError as e:
                if e.code in ("unreachable", "timeout", "bad_response", "not_found"):
                    raise
                fail(f"{e.code}: {e.reason}", 2, label="refused")
            return proven_tx_json("libp2p" if endpoint(cfg, node, peer)[1] else "rpc", proven)

    echo_json(run_command(main))


@click.command("submit")
@click.argument("tx_hex")
@dir_option
@node_option
@peer_option
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True)
def submit_command(tx_hex: str, directory: Path, node: str | None, peer: str | None,
                   timeout_s: float) -> None:
    """Submit signed tx bytes, wait until committed, prove the inclusion."""
    raw = parse_hex(tx_hex, "bad_tx", "TX_HEX")
    cfg = load_config(directory)

    async def make(client: Any) -> bytes:
        return raw

    submit_and_prove(cfg, directory, node, peer, make, timeout_s)


def make_light_tx_command(kind: str, schema: Any) -> click.Command:
    """`light tx <kind>`: sign with the PROVEN nonce, submit, wait, prove inclusion."""
    from node.cli.tx_commands import field_options, load_signer
    from node.cli.keyring_options import KeyringChoice, keyring_params
    params, fields_in_order = field_options(schema)

    def callback(**kw: Any) -> None:
        fields = fields_in_order(kw)
        key = load_signer(kw["from_"], kw["home"], KeyringChoice.pop_from(kw))
        cfg = load_config(kw["directory"])

        async def make(client: Any) -> bytes:
            from nacl.signing import SigningKey
            from state.tx import sign_tx
            nonce = kw["nonce"]
            if nonce is None:
                nonce = (await client.account(key.address)).nonce
            return sign_tx(SigningKey(key.seed), cfg["chain_id"], nonce, kw["fee"], kind, fields)

        submit_and_prove(cfg, kw["directory"], kw["node"], kw["peer"], make, kw["timeout_s"])

    params += [
        click.Option(["--from", "from_"], required=True, help="key name in the keyring"),
        click.Option(["--home"], type=click.Path(path_type=Path), default=DEFAULT_HOME),
        *keyring_params(),
        click.Option(["--dir", "directory"], type=click.Path(path_type=Path), default=DEFAULT_DIR),
        click.Option(["--node"], default=None, help="RPC address (default: the one given at init)"),
        click.Option(["--peer"], default=None, help="submit over libp2p to this multiaddr"),
        click.Option(["--fee"], type=UINT, default=1000, show_default=True),
        click.Option(["--nonce"], type=UINT, default=None, help="default: the proven next nonce"),
        click.Option(["--timeout", "timeout_s"], type=float, default=30.0, show_default=True),
    ]
    return click.Command(kind, params=params, callback=callback,
                         help=f"Sign a `{kind}` tx, submit it, wait and prove its inclusion.")


@click.group("tx", cls=KindGroup, make=make_light_tx_command)
def tx_group() -> None:
    """Sign, submit (RPC or libp2p), wait for and prove a transaction."""
