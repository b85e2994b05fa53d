"""span-v1 (docs/poa.md): tokens, which spans count, how shared spans split, integer ppm,
ties, the top 32, and the exact bytes `attrchain poa score` prints."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from node.poa import span_v1
from node.cli.poa_commands import poa_group
from node.poa.index import Contribution, SpanIndex, UnknownDataError, build_index, match_files, sha256

A, B, C = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
DOCS = {
    A: b"alpha beta gamma delta epsilon zeta eta theta iota kappa",
    B: b"one two three four five six seven eight nine ten",
    C: b"alpha beta gamma delta epsilon zeta eta theta lambda mu",
}
DATANET = b"\xdd" * 32


def make_index(docs: dict[bytes, bytes]) -> SpanIndex:
    return build_index(DATANET, [(Contribution(cid, sha256(d)), d) for cid, d in docs.items()])


def test_tokenize_lowercases_ascii_and_splits_on_everything_else():
    assert span_v1.tokenize(b"Hello, WORLD!  r\xc3\xa9sum\xc3\xa9 x-2") == [b"hello", b"world", b"r\xc3\xa9sum\xc3\xa9", b"x", b"2"]
    assert span_v1.normalize(b"A  b\n") == b" a b "
    assert span_v1.normalize(b"...") == b" "


def test_score_longest_span_wins_over_a_shorter_copy():
    # 9 tokens match A; C holds only the first 8 of them, so the whole span is A's
    out = b"Alpha, beta gamma delta epsilon zeta eta theta iota! and then one two three four five six seven"
    assert span_v1.score(out, make_index(DOCS)) == [(A, 500_000)]


def test_score_span_in_two_contributions_is_shared_equally():
    out = b"alpha beta gamma delta epsilon zeta eta theta. one two three four five six seven eight nine"
    # 17 tokens: 8 shared by A and C (4/17 each), 9 in B; floors, ties by id
    assert span_v1.score(out, make_index(DOCS)) == [(B, 529_411), (A, 235_294), (C, 235_294)]


def test_score_ignores_spans_shorter_than_min_tokens():
    out = b"one two three four five six seven and alpha beta gamma delta epsilon zeta eta"
    assert span_v1.score(out, make_index(DOCS)) == []


def test_score_never_matches_across_two_contributions():
    # the end of B followed by the start of A is in no single contribution
    docs = {A: b"a1 a2 a3 a4 a5", B: b"b1 b2 b3 b4 b5"}
    out = b"b1 b2 b3 b4 b5 a1 a2 a3 a4 a5"
    assert span_v1.score(out, make_index(docs)) == []


def test_score_keeps_top_32_by_score_then_id_and_sums_under_a_million():
    docs = {bytes([i]) * 32: " ".join(f"w{i}x{j}" for j in range(8)).encode() for i in range(40, 0, -1)}
    out = b" ".join(docs[cid] for cid in sorted(docs, reverse=True))
    scores = span_v1.score(out, make_index(docs))
    assert len(scores) == 32
    assert [cid for cid, _ in scores] == sorted(docs)[:32]
    assert {ppm for _, ppm in scores} == {25_000}
    assert sum(ppm for _, ppm in scores) <= span_v1.PPM


def test_score_empty_output_and_output_over_the_cap():
    index = make_index(DOCS)
    assert span_v1.score(b"  ,, ", index) == []
    with pytest.raises(ValueError, match="at most"):
        span_v1.score(b"x" * (span_v1.MAX_OUTPUT_BYTES + 1), index)


def test_index_round_trips_through_a_file(tmp_path):
    out = b"alpha beta gamma delta epsilon zeta eta theta. one two three four five six seven eight nine"
    index = make_index(DOCS)
    index.save(tmp_path / "i.npz")
    loaded = SpanIndex.load(tmp_path / "i.npz")
    assert loaded.datanet == DATANET
    assert span_v1.score(out, loaded) == span_v1.score(out, index)


def test_poa_score_prints_canonical_json(tmp_path):
    make_index(DOCS).save(tmp_path / "i.npz")
    out = b"alpha beta gamma delta epsilon zeta eta theta. one two three four five six seven eight nine"
    (tmp_path / "out.txt").write_bytes(out)
    res = CliRunner().invoke(poa_group, ["score", "--index", str(tmp_path / "i.npz"),
                                         "--output", str(tmp_path / "out.txt")])
    assert res.exit_code == 0, res.output
    line = res.output.strip()
    assert line == ('{"algorithm":"span-v1","output_hash":"' + sha256(out).hex() + '","scores":[["'
                    + B.hex() + '",529411],["' + A.hex() + '",235294],["' + C.hex() + '",235294]]}')
    assert json.loads(line)["scores"][0] == [B.hex(), 529_411]


def test_match_files_refuses_unknown_content_by_name(tmp_path):
    accepted = [Contribution(cid, sha256(d)) for cid, d in DOCS.items()]
    (tmp_path / "a.txt").write_bytes(DOCS[A])
    (tmp_path / "b.txt").write_bytes(DOCS[B])
    documents, missing = match_files(tmp_path, accepted)
    assert sorted(c.contribution_id for c, _ in documents) == [A, B]
    assert [c.contribution_id for c in missing] == [C]
    (tmp_path / "spam.txt").write_bytes(b"not a contribution")
    with pytest.raises(UnknownDataError) as e:
        match_files(tmp_path, accepted)
    assert e.value.names == ["spam.txt"]


def test_verify_report_exits_1_on_a_mismatch_and_says_how_to_challenge():
    import click

    from node.cli.poa_commands import report_findings
    from node.poa.verify import Finding

    @click.command()
    @click.argument("status")
    def report(status):
        report_findings([Finding(b"\xaa" * 32, DATANET, status, [(A, 1)], [(B, 1)], challenge_by=42)])
    bad = CliRunner().invoke(report, ["mismatch"])
    assert bad.exit_code == 1
    assert f"attrchain tx challenge --attestation {'aa' * 32}" in bad.output
    assert "before height 42" in bad.output
    good = CliRunner().invoke(report, ["match"])
    assert good.exit_code == 0 and "tx challenge" not in good.output
