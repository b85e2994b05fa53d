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
"""
from __future__ import annotations

import json
import sys
from contextlib import asynccontextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import click
import trio

from node.cli.cli_types import HEIGHT, UINT, Uint

DEFAULT_DIR = Path.home() / ".attrchain-light"
CONFIG_FILE = "light.json"


def _fail(msg: str, code: int = 1) -> None:
    click.echo(msg, err=True)
    sys.exit(code)


def _load_config(directory: Path) -> dict:
    try:
        return json.loads((directory / CONFIG_FILE).read_text())
    except FileNotFoundError:
        _fail(f"error: not_initialised: {directory} has no light client (run `attrchain light init`)")
    except ValueError as e:
        _fail(f"error: bad_config: {directory / CONFIG_FILE}: {e}")
    raise AssertionError


def _endpoint(cfg: dict, node: str | None, peer: str | None) -> tuple[str | None, str | None]:
    """The node to ask: --node/--peer on the command line, else the one given at init."""
    if node or peer:
        return node, peer
    return cfg.get("node"), cfg.get("peer")


@asynccontextmanager
async def _open_provider(chain_id: str, node: str | None, peer: str | None) -> AsyncIterator[Any]:
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
async def _open_client(cfg: dict, directory: Path, node: str | None, peer: str | None,
                       sequential: bool = False) -> AsyncIterator[Any]:
    """A LightClient on the chosen node, with the witnesses given at init (RPC)."""
    from node.light.client import LightClient
    from node.light.rpc_provider import RpcProvider
    from node.light.store import TrustedStore
    witnesses = [RpcProvider(w) for w in cfg.get("witnesses", [])]
    try:
        async with _open_provider(cfg["chain_id"], node, peer) as provider:
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
    async with _open_client(_load_config(directory), directory, node, None) as client:
        yield client


def _run(fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run one async command; map the light client's errors to exit codes."""
    from node.light.errors import LightError, VerificationError
    try:
        return trio.run(fn)
    except VerificationError as e:
        _fail(f"REJECTED: {e.code}: {e.reason}", 3)
    except LightError as e:
        _fail(f"error: {e.code}: {e.reason}", 1)


def _echo(doc: dict) -> None:
    click.echo(json.dumps(doc, indent=2))


def _header_json(lb) -> dict:
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
    from node.light.client import DEFAULT_TRUSTING_PERIOD_MS, LightClient
    from node.light.store import TrustedStore
    from node.light.types import check_trust_level
    try:
        level = check_trust_level(Fraction(trust_level))
    except (ValueError, ZeroDivisionError) as e:
        _fail(f"error: bad_trust_level: {e}")
    by_hash = trusted_height is not None or trusted_hash is not None
    if by_hash == (genesis_file is not None):
        _fail("error: missing_trust: give --trusted-height and --trusted-hash, or --genesis")
    genesis = None
    if genesis_file is not None:
        from state.genesis import Genesis
        try:
            genesis = Genesis.load(genesis_file)
        except (OSError, ValueError, KeyError) as e:
            _fail(f"error: bad_genesis: {e}")
        chain_id = genesis.chain_id
    else:
        if trusted_height is None or trusted_hash is None or trusted_height < 1:
            _fail("error: missing_trust: --trusted-height (>= 1) and --trusted-hash go together")
        try:
            want = bytes.fromhex(trusted_hash.removeprefix("0x"))
        except ValueError:
            want = b""
        if len(want) != 32:
            _fail("error: bad_hash: --trusted-hash must be 32 bytes of hex")
    period = trusting_period_ms or DEFAULT_TRUSTING_PERIOD_MS
    store = TrustedStore(directory)

    async def main() -> dict:
        # the chain id comes from the trusted header itself when not given: its hash
        # commits to it, so a node cannot substitute another chain's
        async with _open_provider(chain_id or "unknown", node, peer) as provider:
            cid = chain_id
            if cid is None:
                cid = (await provider.signed_header(trusted_height)).header.chain_id
            client = LightClient(cid, provider, store, trust_level=level, trusting_period_ms=period)
            if genesis is not None:
                lb = await client.init_genesis(genesis)
            else:
                lb = await client.init_trusted(trusted_height, want)
            return {"chain_id": cid, "trusted": _header_json(lb)}

    if peer and chain_id is None:
        _fail("error: missing_chain_id: with --peer, give --chain-id (protocol ids carry it)")
    out = _run(main)
    cfg = {"chain_id": out["chain_id"], "trust_level": str(level), "trusting_period_ms": period,
           "node": node, "peer": peer, "witnesses": list(witnesses)}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(cfg, indent=2) + "\n")
    _echo(out)


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
    cfg = _load_config(directory)
    if witnesses:
        cfg["witnesses"] = list(witnesses)

    async def main() -> dict:
        async with _open_client(cfg, directory, *_endpoint(cfg, node, peer), sequential) as client:
            start = client.store.latest().height
            lb = await client.verify_to(height)
            return {"verified": _header_json(lb), "from_trusted_height": start,
                    "headers_fetched": client.fetched, "witnesses_agreed":
                    len(client.witnesses) - len(client.witness_errors),
                    "witness_errors": client.witness_errors}

    _echo(_run(main))


@light_group.command("status")
@dir_option
def status_command(directory: Path) -> None:
    """The trusted state: chain, newest verified header, how many are kept."""
    from node.light.client import wall_clock_ms
    from node.light.errors import LightError
    from node.light.store import TrustedStore
    cfg = _load_config(directory)
    try:
        store = TrustedStore(directory)
        lb = store.latest()
    except LightError as e:
        _fail(f"error: {e.code}: {e.reason}")
    age = wall_clock_ms() - lb.time_ms
    _echo({"chain_id": cfg["chain_id"], "trust_level": cfg["trust_level"],
           "trusting_period_ms": cfg["trusting_period_ms"], "node": cfg["node"], "peer": cfg["peer"],
           "witnesses": cfg.get("witnesses", []),
           "latest_trusted": _header_json(lb), "trusted_headers": len(store),
           "age_ms": age, "expired": age >= cfg["trusting_period_ms"]})


@light_group.group("query")
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
        _fail(f"error: bad_address: {e}")
    cfg = _load_config(directory)

    async def main() -> dict:
        async with _open_client(cfg, directory, *_endpoint(cfg, node, peer)) as client:
            a = await client.account(addr, height)
            return {"address": address, "balance": a.balance, "nonce": a.nonce,
                    "exists": a.proven.value is not None, "height": a.proven.height,
                    "app_hash": a.proven.app_hash.hex(), "verified": True}

    _echo(_run(main))


@query_group.command("key")
@click.argument("key_hex")
@dir_option
@node_option
@peer_option
@click.option("--height", type=HEIGHT, default=None)
def query_key(key_hex: str, directory: Path, node: str | None, peer: str | None,
              height: int | None) -> None:
    """A raw state key: its value, or its proven absence."""
    try:
        key = bytes.fromhex(key_hex.removeprefix("0x"))
    except ValueError:
        key = b""
    if not key:
        _fail("error: bad_key: KEY_HEX must be non-empty hex")
    cfg = _load_config(directory)

    async def main() -> dict:
        async with _open_client(cfg, directory, *_endpoint(cfg, node, peer)) as client:
            v = await client.query_key(key, height)
            return {"key": key.hex(), "value": None if v.value is None else v.value.hex(),
                    "present": v.value is not None, "height": v.height,
                    "app_hash": v.app_hash.hex(), "verified": True}

    _echo(_run(main))


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
        try:
            ident = bytes.fromhex(args[argument])
        except ValueError:
            ident = b""
        if len(ident) != 32:
            _fail(f"error: bad_param: {argument.upper()} must be 32 bytes of hex")
        build = {"attestation": queries.use_attestations, "attributor": queries.model_attributor,
                 "challenge": queries.challenge}[kind]
        cfg = _load_config(directory)

        async def main() -> dict:
            async with _open_client(cfg, directory, *_endpoint(cfg, node, peer)) as client:
                at: dict[str, Any] = {"height": height, "app_hash": None}

                async def read(key: bytes) -> bytes | None:
                    v = await client.query_key(key, at["height"])
                    at.update(height=v.height, app_hash=v.app_hash.hex())
                    return v.value
                try:
                    body = await build(read, ident)
                except queries.QueryRefused as e:
                    _fail(f"error: {e.code}: {e.reason}")
                return {**body, **at, "verified": True}

        _echo(_run(main))


_add_poa_query("attestation", "use_tx", "A use's Proof-of-Attribution escrows and attestations, proven.")
_add_poa_query("attributor", "model", "A model's Proof-of-Attribution attributor, proven.")
_add_poa_query("challenge", "attestation_id", "An attestation's escrow, challenge and curators, proven.")


def _proven_tx_json(res, proven) -> dict:
    out = {"hash": proven.tx_id.hex(), "height": proven.height, "index": proven.index,
           "total": proven.proof.total, "data_hash": proven.header.header.data_hash.hex(),
           "header_hash": proven.header.id().hex(), "included": True, "verified": True}
    if res is not None:
        out["submitted_via"] = res
    return out


@light_group.command("prove-tx")
@click.argument("tx_hash")
@dir_option
@node_option
def prove_tx_command(tx_hash: str, directory: Path, node: str | None) -> None:
    """Prove a committed tx is in its block (against the verified header's data_hash)."""
    try:
        tid = bytes.fromhex(tx_hash.removeprefix("0x"))
    except ValueError:
        tid = b""
    if len(tid) != 32:
        _fail("error: bad_hash: TX_HASH must be 32 bytes of hex")
    cfg = _load_config(directory)

    async def main() -> dict:
        async with _open_client(cfg, directory, node or cfg["node"], None) as client:
            proven = await client.prove_tx(tid)
            if proven is None:
                from node.light.errors import ProviderError
                raise ProviderError("not_found", f"no committed tx {tid.hex()}")
            return _proven_tx_json(None, proven)

    _echo(_run(main))


def _submit(cfg: dict, directory: Path, node: str | None, peer: str | None,
            make_tx: Callable[[Any], Awaitable[bytes]], timeout_s: float) -> None:
    from node.light.errors import ProviderError

    async def main() -> dict:
        async with _open_client(cfg, directory, *_endpoint(cfg, node, peer)) as client:
            raw = await make_tx(client)
            try:
                res, proven = await client.submit_and_prove(raw, timeout_s)
            except ProviderError as e:
                if e.code in ("unreachable", "timeout", "bad_response", "not_found"):
                    raise
                _fail(f"refused: {e.code}: {e.reason}", 2)
            return _proven_tx_json("libp2p" if _endpoint(cfg, node, peer)[1] else "rpc", proven)

    _echo(_run(main))


@light_group.command("submit")
@click.argument("tx_hex")
@dir_option
@node_option
@peer_option
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True)
def submit_command(tx_hex: str, directory: Path, node: str | None, peer: str | None,
                   timeout_s: float) -> None:
    """Submit signed tx bytes, wait until committed, prove the inclusion."""
    try:
        raw = bytes.fromhex(tx_hex.removeprefix("0x"))
    except ValueError:
        raw = b""
    if not raw:
        _fail("error: bad_tx: TX_HEX must be non-empty hex")
    cfg = _load_config(directory)

    async def make(client: Any) -> bytes:
        return raw

    _submit(cfg, directory, node, peer, make, timeout_s)


def make_light_tx_command(kind: str, schema: Any) -> click.Command:
    """`light tx <kind>`: sign with the PROVEN nonce, submit, wait, prove inclusion."""
    from node.cli.client_commands import field_options, load_signer
    from node.cli.keyring_options import KeyringChoice, keyring_params
    params, fields_in_order = field_options(schema)

    def callback(**kw: Any) -> None:
        fields = fields_in_order(kw)
        key = load_signer(kw["from_"], kw["home"], KeyringChoice.pop_from(kw))
        cfg = _load_config(kw["directory"])

        async def make(client: Any) -> bytes:
            from nacl.signing import SigningKey
            from state.tx import sign_tx
            nonce = kw["nonce"]
            if nonce is None:
                nonce = (await client.account(key.address)).nonce
            return sign_tx(SigningKey(key.seed), cfg["chain_id"], nonce, kw["fee"], kind, fields)

        _submit(cfg, kw["directory"], kw["node"], kw["peer"], make, kw["timeout_s"])

    from node.cli.client_commands import DEFAULT_HOME
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


@light_group.command("bench")
@click.option("--heights", type=Uint(lo=1, hi=100_000), default=200, show_default=True)
@click.option("--sizes", default="4,32,100", show_default=True, help="validator set sizes")
@click.pass_context
def bench_command(ctx: click.Context, heights: int, sizes: str) -> None:
    """Time header verification against PyNaCl verifies/s measured in the same run."""
    from node.light.bench import bench_command
    ctx.invoke(bench_command, heights=heights, sizes=sizes)


class LightTxGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        from state.tx import KINDS
        return sorted(KINDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from state.tx import KINDS
        schema = KINDS.get(name)
        return None if schema is None else make_light_tx_command(name, schema)


@light_group.group("tx", cls=LightTxGroup)
def tx_group() -> None:
    """Sign, submit (RPC or libp2p), wait for and prove a transaction."""
