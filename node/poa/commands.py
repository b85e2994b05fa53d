"""`attrchain poa ...`: build a span index of a datanet, score an output, attest, verify.

    attrchain poa index --node RPC --datanet ID --data DIR --index FILE [--dir LIGHT_DIR]
    attrchain poa score --index FILE --output FILE

`index` reads the datanet's accepted contributions through the light client (every value
proven against a header it verified; run `attrchain light init` once), refuses any file in
DIR whose sha256 is no accepted contribution's content hash, and writes the index.
`score` prints one canonical JSON line: algorithm, output hash, ranked scores.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from node.poa import span_v1
from node.poa.index import SpanIndex, UnknownDataError, build_index, match_files, sha256

DEFAULT_LIGHT_DIR = Path.home() / ".attrchain-light"


def fail(msg: str, code: int = 1) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(code)


def scores_json(output: bytes, scores: list[tuple[bytes, int]]) -> str:
    """The canonical text of a scoring: the same bytes on every machine."""
    doc = {"algorithm": span_v1.ALGORITHM, "output_hash": sha256(output).hex(),
           "scores": [[cid.hex(), ppm] for cid, ppm in scores]}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


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


async def fetch_accepted(light_dir: Path, node: str, datanet: bytes, height: int | None):
    from node.light_commands import _load_config, _open_client
    from node.poa.chain import read_accepted_contributions
    cfg = _load_config(light_dir)
    at: list[int | None] = [height]        # every read at the height of the first one
    async with _open_client(cfg, light_dir, node, None) as client:
        async def read(key: bytes) -> bytes | None:
            proven = await client.query_key(key, at[0])
            at[0] = proven.height
            return proven.value
        accepted = await read_accepted_contributions(read, datanet)
    return at[0], accepted


@poa_group.command("index")
@click.option("--node", default="127.0.0.1:26657", show_default=True, help="RPC address")
@click.option("--datanet", required=True, help="datanet id (64 hex)")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="the contributions' files")
@click.option("--index", "index_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="where to write the index")
@click.option("--dir", "light_dir", type=click.Path(path_type=Path), default=DEFAULT_LIGHT_DIR,
              show_default=True, help="light client directory (`attrchain light init`)")
@click.option("--height", type=int, default=None, help="state after this height (default: latest proven)")
def index_command(node: str, datanet: str, data_dir: Path, index_path: Path, light_dir: Path,
                  height: int | None) -> None:
    """Build the span index of a datanet's accepted contributions from their files."""
    import trio
    from node.light.errors import ProviderError, VerificationError
    from node.poa.chain import ChainDataError
    try:
        datanet_id = bytes.fromhex(datanet)
        assert len(datanet_id) == 32
    except (ValueError, AssertionError):
        fail(f"--datanet: want 64 hex, got {datanet!r}")
    try:
        h, accepted = trio.run(fetch_accepted, light_dir, node, datanet_id, height)
    except VerificationError as e:
        fail(f"REJECTED: {e.code}: {e.reason}", 3)
    except (ProviderError, ChainDataError, click.ClickException) as e:
        fail(str(e))
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
