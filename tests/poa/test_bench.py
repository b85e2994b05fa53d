"""`attrchain bench poa` runs end to end and ends with its JSON line (figures not asserted)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from node.poa.bench import command


def test_bench_poa_prints_its_figures_as_a_last_json_line():
    res = CliRunner().invoke(command, ["--corpus-mb", "1", "--outputs", "10"])
    assert res.exit_code == 0, res.output
    last = json.loads(res.output.strip().splitlines()[-1])
    assert last["corpus_mb"] >= 1
    assert last["outputs_credited"] == 10          # every output quotes the corpus
    for key in ("index_mb_per_s", "score_p50_ms", "score_p99_ms", "index_bytes_per_corpus_byte"):
        assert last[key] > 0
