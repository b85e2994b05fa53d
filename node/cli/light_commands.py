"""`attrchain light ...`: a light client on the command line.

    attrchain light init --node 127.0.0.1:26657 --trusted-height 5 --trusted-hash AB12...
    attrchain light init --node 127.0.0.1:26657 --genesis genesis.json
    attrchain light verify [--height H] [--sequential]
    attrchain light status
    attrchain light query account open1...        (proven balance and nonce)
    attrchain light query key HEX                 (present or absent, proven)
    attrchain light query attestation|attributor|challenge ID   (Proof of Attribution, proven)
    attrchain light prove-tx HASH                 (inclusion against a verified header)
    attrchain light tx transfer --to ... --amount ... --from alice [--peer MULTIADDR]
    attrchain light submit TX_HEX [--peer MULTIADDR]

State lives in `--dir` (default ~/.attrchain-light): `light.json` (chain id, trust level,
trusting period, default node) and `trusted.bin` (verified light blocks). Every command
that reads the chain verifies what it prints. `--peer` talks libp2p (as a non-validator
peer) instead of HTTP RPC. Exit codes: 0 verified, 1 error (unreachable, not found, bad
input), 2 tx refused or failed, 3 REJECTED: the node served something that does not verify.
The commands: light_commands.py (init, verify, status, bench), light_query_commands.py
(query, prove-tx), light_tx_commands.py (submit, tx); what they share: light_common.py.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import click

from node.cli.cli_types import HEIGHT, Uint, fail
from node.cli.light_common import (CONFIG_FILE, dir_option, echo_json, endpoint, header_json, load_config,
                                   node_option, open_client, open_provider, parse_hex, peer_option, run_command)
from node.cli.light_query_commands import prove_tx_command, query_group
from node.cli.light_tx_commands import submit_command, tx_group


@click.group("light")
def light_group() -> None:
    """A light client: verify headers, proofs and transactions without trusting a node."""


@light_group.command("init")
@dir_option
@node_option
@peer_option
@click.option("--trusted-height", type=HEIGHT, default=None, help="height of a header you trust")
@click.option("--trusted-hash", default=None, help="its hash (the block id), hex")
@click.option("--genesis", "genesis_file", type=click.Path(path_type=Path, exists=True), default=None,
              help="trust the genesis validator set instead (young chains only: header 1 must be "
                   "within the trusting period)")
@click.option("--chain-id", default=None, help="with --trusted-hash: the chain you expect")
@click.option("--trust-level", default="1/3", show_default=True,
              help="fraction of the trusted set's power needed to skip ([1/3, 1])")
@click.option("--trusting-period-ms", type=Uint(lo=1), default=None,
              help="how long a verified header stays usable (default 666000: 2/3 of 1,000 blocks)")
@click.option("--witness", "witnesses", multiple=True,
              help="RPC address of another full node that must agree on every header verified "
                   "(repeatable); detects a fork signed by trusted validators")
def init_command(directory: Path, node: str | None, peer: str | None, trusted_height: int | None,
                 trusted_hash: str | None, genesis_file: Path | None, chain_id: str | None,
                 trust_level: str, trusting_period_ms: int | None, witnesses: tuple[str, ...]) -> None:
    """Trust one header (height + hash), or the genesis validator set, once."""
    from node.light.client import LightClient
    from node.light.headers import DEFAULT_TRUSTING_PERIOD_MS
    from node.light.store import TrustedStore
    from node.light.types import check_trust_level
    try:
        level = check_trust_level(Fraction(trust_level))
    except (ValueError, ZeroDivisionError) as e:
        fail(f"bad_trust_level: {e}")
    by_hash = trusted_height is not None or trusted_hash is not None
    if by_hash == (genesis_file is not None):
        fail("missing_trust: give --trusted-height and --trusted-hash, or --genesis")
    genesis = None
    if genesis_file is not None:
        from state.genesis import Genesis
        try:
            genesis = Genesis.load(genesis_file)
        except (OSError, ValueError, KeyError) as e:
            fail(f"bad_genesis: {e}")
        chain_id = genesis.chain_id
    else:
        if trusted_height is None or trusted_hash is None or trusted_height < 1:
            fail("missing_trust: --trusted-height (>= 1) and --trusted-hash go together")
        want = parse_hex(trusted_hash, "bad_hash", "--trusted-hash", 32)
    period = trusting_period_ms or DEFAULT_TRUSTING_PERIOD_MS
    store = TrustedStore(directory)

    async def main() -> dict:
        # the chain id comes from the trusted header itself when not given: its hash
        # commits to it, so a node cannot substitute another chain's
        async with open_provider(chain_id or "unknown", node, peer) as provider:
            cid = chain_id
            if cid is None:
                cid = (await provider.signed_header(trusted_height)).header.chain_id
            client = LightClient(cid, provider, store, trust_level=level, trusting_period_ms=period)
            if genesis is not None:
                lb = await client.init_genesis(genesis)
            else:
                lb = await client.init_trusted(trusted_height, want)
            return {"chain_id": cid, "trusted": header_json(lb)}

    if peer and chain_id is None:
        fail("missing_chain_id: with --peer, give --chain-id (protocol ids carry it)")
    out = run_command(main)
    cfg = {"chain_id": out["chain_id"], "trust_level": str(level), "trusting_period_ms": period,
           "node": node, "peer": peer, "witnesses": list(witnesses)}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(cfg, indent=2) + "\n")
    echo_json(out)


@light_group.command("verify")
@dir_option
@node_option
@peer_option
@click.option("--height", type=HEIGHT, default=None, help="default: the node's latest")
@click.option("--sequential", is_flag=True, help="verify every header in between (no skipping)")
@click.option("--witness", "witnesses", multiple=True,
              help="RPC address of a node that must agree (repeatable; default: those given at init)")
def verify_command(directory: Path, node: str | None, peer: str | None, height: int | None,
                   sequential: bool, witnesses: tuple[str, ...]) -> None:
    """Verify the header at a height (default latest) from the trusted one."""
    cfg = load_config(directory)
    if witnesses:
        cfg["witnesses"] = list(witnesses)

    async def main() -> dict:
        async with open_client(cfg, directory, *endpoint(cfg, node, peer), sequential) as client:
            start = client.store.latest().height
            lb = await client.verify_to(height)
            return {"verified": header_json(lb), "from_trusted_height": start,
                    "headers_fetched": client.fetched, "witnesses_agreed":
                    len(client.witnesses) - len(client.witness_errors),
                    "witness_errors": client.witness_errors}

    echo_json(run_command(main))


@light_group.command("status")
@dir_option
def status_command(directory: Path) -> None:
    """The trusted state: chain, newest verified header, how many are kept."""
    from node.light.headers import wall_clock_ms
    from node.light.errors import LightError
    from node.light.store import TrustedStore
    cfg = load_config(directory)
    try:
        store = TrustedStore(directory)
        lb = store.latest()
    except LightError as e:
        fail(f"{e.code}: {e.reason}")
    age = wall_clock_ms() - lb.time_ms
    echo_json({"chain_id": cfg["chain_id"], "trust_level": cfg["trust_level"],
           "trusting_period_ms": cfg["trusting_period_ms"], "node": cfg["node"], "peer": cfg["peer"],
           "witnesses": cfg.get("witnesses", []),
           "latest_trusted": header_json(lb), "trusted_headers": len(store),
           "age_ms": age, "expired": age >= cfg["trusting_period_ms"]})


@light_group.command("bench")
@click.option("--heights", type=Uint(lo=1, hi=100_000), default=200, show_default=True)
@click.option("--sizes", default="4,32,100", show_default=True, help="validator set sizes")
@click.pass_context
def bench_command(ctx: click.Context, heights: int, sizes: str) -> None:
    """Time header verification against PyNaCl verifies/s measured in the same run."""
    from node.light.bench import bench_command
    ctx.invoke(bench_command, heights=heights, sizes=sizes)


for _command in (query_group, prove_tx_command, submit_command, tx_group):
    light_group.add_command(_command)
