"""`attrchain poa ...`: build a span index of a datanet, score an output, attest, verify.

    attrchain poa index --node RPC --datanet ID --data DIR --index FILE [--dir LIGHT_DIR]
    attrchain poa score --index FILE --output FILE
    attrchain poa attest --use TX --index FILE --output FILE --from KEY [--node RPC]
    attrchain poa verify --use TX --data DIR --output FILE [--node RPC] [--dir LIGHT_DIR]

`index` reads the datanet's accepted contributions through the light client (every value
proven against a header it verified; run `attrchain light init` once), refuses any file in
DIR whose sha256 is no accepted contribution's content hash, and writes the index.
`score` prints one canonical JSON line: algorithm, output hash, ranked scores.
`attest` is the attributor's step: score, sign and send `attest` for the index's datanet.
`verify` is anyone's: recompute every attestation of a use and compare (exit 1 on a
mismatch, with the `challenge` command to send).
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

import click

from node.cli.cli_types import HEIGHT, UINT, fail
from node.cli.keyring_options import KeyringChoice, keyring_options
from node.cli.light_common import DEFAULT_DIR as DEFAULT_LIGHT_DIR, open_light_client
from node.poa import span_v1
from node.poa.index import SpanIndex, UnknownDataError, build_index, match_files
from state import proof_keys



def scores_json(output: bytes, scores: list[tuple[bytes, int]]) -> str:
    """The canonical text of a scoring: the same bytes on every machine."""
    doc = {"algorithm": span_v1.ALGORITHM, "output_hash": hashlib.sha256(output).hexdigest(),
           "scores": [[cid.hex(), ppm] for cid, ppm in scores]}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def parse_id(option: str, text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        fail(f"{option}: want 64 hex, got {text!r}")
    return raw


def read_output(path: Path) -> bytes:
    data = path.read_bytes()
    if len(data) > span_v1.MAX_OUTPUT_BYTES:
        fail(f"{path}: {len(data)} bytes; {span_v1.ALGORITHM} scores outputs of at most "
             f"{span_v1.MAX_OUTPUT_BYTES} bytes")
    return data


def load_index(path: Path) -> SpanIndex:
    try:
        return SpanIndex.load(path)
    except (OSError, ValueError, KeyError) as e:
        fail(f"cannot load index {path}: {e}")
        raise


@click.group("poa")
def poa_group() -> None:
    """Proof of Attribution: span index, scores, attestations (docs/poa.md)."""


def reader_at(client) -> Callable[[bytes, int | None], Awaitable[bytes | None]]:
    """`read(key, height | None) -> bytes | None` through a light client: each value proven
    against a header it verified (None: the newest provable state)."""
    async def read(key: bytes, height: int | None) -> bytes | None:
        return (await client.query_key(key, height)).value
    return read


async def fetch_accepted(light_dir: Path, node: str, datanet: bytes, height: int | None):
    from node.poa.chain import read_accepted_contributions
    async with open_light_client(light_dir, node) as client:
        if height is None:            # every read at one height: the newest provable now
            height = (await client.query_key(proof_keys.datanet_members(datanet), None)).height
        read_at = reader_at(client)

        async def read(key: bytes) -> bytes | None:
            return await read_at(key, height)
        return height, await read_accepted_contributions(read, datanet)


light_dir_option = click.option("--dir", "light_dir", type=click.Path(path_type=Path), default=DEFAULT_LIGHT_DIR,
                                show_default=True, help="light client directory (`attrchain light init`)")


def run_proven(fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run a light-client coroutine; a node that does not verify exits 3, other errors 1."""
    import trio
    from node.light.errors import LightError, VerificationError
    from node.poa.chain import ChainDataError
    try:
        return trio.run(fn)
    except VerificationError as e:
        fail(f"REJECTED: {e.code}: {e.reason}", 3)
    except (LightError, ChainDataError, UnknownDataError) as e:
        fail(str(e))


@poa_group.command("index")
@click.option("--node", default="127.0.0.1:26657", show_default=True, help="RPC address")
@click.option("--datanet", required=True, help="datanet id (64 hex)")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="the contributions' files")
@click.option("--index", "index_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="where to write the index")
@light_dir_option
@click.option("--height", type=HEIGHT, default=None, help="state after this height (default: latest proven)")
def index_command(node: str, datanet: str, data_dir: Path, index_path: Path, light_dir: Path,
                  height: int | None) -> None:
    """Build the span index of a datanet's accepted contributions from their files."""
    datanet_id = parse_id("--datanet", datanet)
    h, accepted = run_proven(lambda: fetch_accepted(light_dir, node, datanet_id, height))
    try:
        documents, missing = match_files(data_dir, accepted)
    except UnknownDataError as e:
        fail(str(e))
    for c in missing:
        click.echo(f"warning: no file for accepted contribution {c.contribution_id.hex()} "
                   f"(content {c.content_hash.hex()}); its spans will not be found", err=True)
    index = build_index(datanet_id, documents)
    index.save(index_path)
    click.echo(json.dumps({"index": str(index_path), "height": h, "contributions": len(documents),
                           "missing": len(missing), "bytes": index.nbytes}))


@poa_group.command("score")
@click.option("--index", "index_path", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--output", "output_path", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="the model's output text")
def score_command(index_path: Path, output_path: Path) -> None:
    """Score an output against an index: which contributions it quotes (span-v1)."""
    output = read_output(output_path)
    index = load_index(index_path)
    click.echo(scores_json(output, span_v1.score(output, index)))


@poa_group.command("attest")
@click.option("--use", "use", required=True, help="the use tx hash (64 hex)")
@click.option("--index", "index_path", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--output", "output_path", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="the model's output for that use")
@click.option("--from", "from_", required=True, help="the attributor's key name")
@click.option("--home", type=click.Path(path_type=Path), default=Path.home() / ".attrchain", show_default=True)
@keyring_options
@click.option("--node", default="127.0.0.1:26657", show_default=True, help="RPC address")
@click.option("--fee", type=UINT, default=1000, show_default=True)
def attest_command(use: str, index_path: Path, output_path: Path, from_: str, home: Path,
                   keyring: KeyringChoice, node: str, fee: int) -> None:
    """Attributor: score an output against the index's datanet, sign and send `attest`."""
    from node.cli.tx_commands import load_signer, sign_and_send
    from node.cli.rpc_client import RpcClient, RpcClientError
    use_id = parse_id("--use", use)
    output = read_output(output_path)
    index = load_index(index_path)
    scores = span_v1.score(output, index)
    click.echo(scores_json(output, scores), err=True)
    key = load_signer(from_, home, keyring)
    fields = [use_id, index.datanet, hashlib.sha256(output).digest(), span_v1.ALGORITHM, [[c, s] for c, s in scores]]
    try:
        with RpcClient(node, timeout=30) as c:
            res = sign_and_send(c, key, "attest", fields, fee=fee, nonce=None, chain_id=None, wait=True)
    except RpcClientError as e:
        fail(str(e))
    click.echo(json.dumps(res, indent=2))
    if res.get("check_tx", res).get("code") not in (0, None) or res.get("tx_result", {}).get("code", 0) != 0:
        sys.exit(2)


@poa_group.command("verify")
@click.option("--use", "use", required=True, help="the use tx hash (64 hex)")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="the datanet's contribution files")
@click.option("--output", "output_path", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--node", default="127.0.0.1:26657", show_default=True, help="RPC address")
@light_dir_option
def verify_command(use: str, data_dir: Path, output_path: Path, node: str, light_dir: Path) -> None:
    """Anyone: recompute a use's attestations from the data and compare with the chain."""
    from node.poa.verify import verify_use
    use_id = parse_id("--use", use)
    output = read_output(output_path)

    async def main():
        async with open_light_client(light_dir, node) as client:
            return await verify_use(reader_at(client), use_id, output, data_dir)
    findings = run_proven(main)
    report_findings(findings)


def report_findings(findings: list) -> None:
    """Print each finding; exit 1 with the challenge command if any attestation differs."""
    if not findings:
        click.echo("this use opened no attribution escrow (no attributed model, or no accepted data)")
    bad = False
    for f in findings:
        click.echo(json.dumps(f.to_json()))
        if f.status == "match" and f.missing_files:
            click.echo(f"warning: {f.missing_files} accepted contribution(s) had no file; the match may "
                       f"still hold only because they were not quoted", err=True)
        if f.status in ("mismatch", "wrong_output"):
            bad = True
            click.echo(f"MISMATCH for attestation {f.attestation.hex()}: the chain's scores are not what "
                       f"the data gives. To dispute it before height {f.challenge_by}:\n"
                       f"  attrchain tx challenge --attestation {f.attestation.hex()} --bond <challenge_bond> "
                       f"--from <your key>\nthen ask the datanet's curators to `attrchain tx resolve "
                       f"--attestation {f.attestation.hex()} --upheld true`.", err=True)
    if bad:
        sys.exit(1)
