"""`span-v1`: which contributions an output quotes, by exact span matching on a suffix array.

Written out in docs/poa.md; every step is integer or exact-rational arithmetic on bytes,
so any machine computes the same scores from the same contributions and output.

1. Tokens: ASCII-lowercase the bytes; a token is a maximal run of [0-9a-z] or bytes >= 0x80
   (so UTF-8 letters stay inside words); everything else separates.
2. A text is indexed as " t1 t2 ... tn " (single spaces, one before and after), the
   contributions joined by a NUL byte, so a byte match of " ti ... tj " is exactly a
   token-aligned occurrence inside one contribution.
3. For each output position i, m(i) = the longest run of output tokens from i that occurs
   in one contribution (counted only when >= MIN_SPAN_TOKENS). A span [i, i + m(i)) is
   counted if it is maximal: not inside the span of i - 1 (m(i-1) != m(i) + 1).
4. Each output token covered by a counted span belongs to the longest span covering it
   (ties: the earliest); that token's credit, 1 / n of the output, is shared equally by
   every contribution that contains its span.
5. score_ppm(c) = floor(1,000,000 * credit(c)), exact rationals; the scores sum to at most
   1,000,000 (each floor only lowers). Ranked by score (high first), ties by contribution
   id (bytes, low first); zero scores dropped; the first TOP_SCORES kept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

ALGORITHM = "span-v1"
MIN_SPAN_TOKENS = 8
TOP_SCORES = 32
PPM = 1_000_000
MAX_OUTPUT_BYTES = 64 * 1024       # a model's answer; the scorer refuses longer outputs
DOC_SEPARATOR = b"\x00"

_TOKEN = re.compile(rb"[0-9a-z\x80-\xff]+")


def tokenize(data: bytes) -> list[bytes]:
    return _TOKEN.findall(data.lower())


def normalize(data: bytes) -> bytes:
    """The indexed form of a text: its tokens, one space before, between and after."""
    tokens = tokenize(data)
    return b" " + b" ".join(tokens) + b" " if tokens else b" "


class SpanFinder(Protocol):
    """What the scorer needs from an index (node/poa/index.py)."""

    def count(self, pattern: bytes) -> int:
        """Occurrences of `pattern` in the indexed text."""

    def documents(self, pattern: bytes) -> list[int]:
        """The distinct documents (index order) that contain `pattern`, ascending."""

    def contribution_id(self, doc: int) -> bytes: ...


@dataclass(frozen=True)
class Span:
    start: int          # first output token
    length: int         # tokens
    docs: tuple[int, ...]


class OutputText:
    """An output's tokens and the byte range of any token run in its normalized form."""

    def __init__(self, output: bytes) -> None:
        if len(output) > MAX_OUTPUT_BYTES:
            raise ValueError(f"output is {len(output)} bytes; span-v1 scores at most {MAX_OUTPUT_BYTES}")
        self.tokens = tokenize(output)
        self.text = normalize(output)
        self.offsets: list[int] = []          # byte offset of token i in `text`
        pos = 1
        for t in self.tokens:
            self.offsets.append(pos)
            pos += len(t) + 1

    def pattern(self, start: int, length: int) -> bytes:
        """" t_start ... t_(start+length-1) " as indexed."""
        end = self.offsets[start + length - 1] + len(self.tokens[start + length - 1])
        return self.text[self.offsets[start] - 1:end + 1]


def compute_match_lengths(out: OutputText, finder: SpanFinder) -> list[int]:
    """m(i) for each output position, 0 where the longest match is under MIN_SPAN_TOKENS.
    m(i) >= m(i-1) - 1 (a suffix of a match is a match), so a search starts there."""
    n = len(out.tokens)
    lengths: list[int] = []
    prev = 0
    for i in range(n):
        room = n - i
        known = max(prev - 1, MIN_SPAN_TOKENS)      # a length that occurs, or the floor to test
        if prev - 1 < MIN_SPAN_TOKENS:
            if room < MIN_SPAN_TOKENS or not finder.count(out.pattern(i, MIN_SPAN_TOKENS)):
                lengths.append(0)
                prev = 0
                continue
        # grow: double the step while the longer run occurs, then bisect the last step
        lo, step = known, 1
        while lo + step <= room and finder.count(out.pattern(i, lo + step)):
            lo += step
            step *= 2
        hi = min(lo + step, room + 1)               # first length known (or assumed) absent
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if finder.count(out.pattern(i, mid)):
                lo = mid
            else:
                hi = mid
        lengths.append(lo)
        prev = lo
    return lengths


def find_spans(out: OutputText, finder: SpanFinder) -> list[Span]:
    """The counted (maximal) spans, by start."""
    lengths = compute_match_lengths(out, finder)
    spans = []
    for i, m in enumerate(lengths):
        if m and not (i and lengths[i - 1] == m + 1):
            spans.append(Span(i, m, tuple(finder.documents(out.pattern(i, m)))))
    return spans


def compute_credit(n_tokens: int, spans: list[Span]) -> dict[int, Fraction]:
    """Step 4: each covered token to its longest span (ties: earliest), shared by its docs."""
    owned = [False] * n_tokens
    credit: dict[int, Fraction] = {}
    for span in sorted(spans, key=lambda s: (-s.length, s.start)):
        tokens = 0
        for t in range(span.start, span.start + span.length):
            if not owned[t]:
                owned[t] = True
                tokens += 1
        if tokens:
            share = Fraction(tokens, len(span.docs))
            for d in span.docs:
                credit[d] = credit.get(d, Fraction(0)) + share
    return credit


def score(output: bytes, finder: SpanFinder) -> list[tuple[bytes, int]]:
    """[(contribution id, score_ppm)], ranked, at most TOP_SCORES, zeros dropped."""
    out = OutputText(output)
    n = len(out.tokens)
    if n == 0:
        return []
    credit = compute_credit(n, find_spans(out, finder))
    scored = []
    for doc, c in credit.items():
        ppm = PPM * c.numerator // (c.denominator * n)
        if ppm:
            scored.append((finder.contribution_id(doc), ppm))
    scored.sort(key=lambda s: (-s[1], s[0]))
    return scored[:TOP_SCORES]
