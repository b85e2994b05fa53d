"""`attrchain bench poa`: span-v1 index build speed, scoring latency, index size.

A deterministic synthetic corpus (numpy's PCG64 with a fixed seed, so every machine
builds the same bytes): a Zipf-like vocabulary of made-up words, split into documents of
about 5 KB. Outputs of about 1 KB quote 1-4 runs of 10-40 tokens from random documents
between runs of random words, as a model that leans on its sources would. The index is
built once (timed: normalize + suffix array), then each output is scored (timed alone,
after the corpus's Python objects are freed).
The last line is one JSON object.
"""
from __future__ import annotations

import gc
import json
import time

import click
import numpy as np

from node.poa import span_v1
from node.poa.index import Contribution, build_index, sha256

SEED = 20261127
VOCABULARY = 50_000
DOC_WORDS = 800                  # ~5 KB per document
OUTPUT_BYTES = 1024
LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def make_vocabulary(rng: np.random.Generator) -> list[bytes]:
    lengths = rng.integers(2, 11, size=VOCABULARY)
    letters = LETTERS[rng.integers(0, 26, size=int(lengths.sum()))].tobytes()
    words, pos = [], 0
    for n in lengths.tolist():
        words.append(letters[pos:pos + n])
        pos += n
    return words


def make_corpus(mb: int, rng: np.random.Generator, vocab: list[bytes]) -> list[list[bytes]]:
    """Documents as word lists, about `mb` MB of text in all."""
    ranks = np.arange(1, VOCABULARY + 1, dtype=np.float64)
    p = 1.0 / ranks
    p /= p.sum()
    avg = sum(len(w) for w in vocab[:2000]) / 2000 + 1
    total_words = int(mb * 1_000_000 / avg) + DOC_WORDS
    picks = rng.choice(VOCABULARY, size=total_words, p=p).tolist()
    docs, size, i = [], 0, 0
    while size < mb * 1_000_000:
        words = [vocab[j] for j in picks[i:i + DOC_WORDS]]
        i += DOC_WORDS
        docs.append(words)
        size += sum(len(w) + 1 for w in words) - 1      # the file joins words with spaces
    return docs


def make_output(rng: np.random.Generator, docs: list[list[bytes]], vocab: list[bytes]) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < OUTPUT_BYTES:
        if rng.random() < 0.5:
            doc = docs[int(rng.integers(len(docs)))]
            run = int(rng.integers(10, 41))
            start = int(rng.integers(0, len(doc) - run))
            words = doc[start:start + run]
        else:
            words = [vocab[int(j)] for j in rng.integers(0, VOCABULARY, size=int(rng.integers(5, 30)))]
        text = b" ".join(words) + b". "
        parts.append(text)
        size += len(text)
    return b"".join(parts)[:OUTPUT_BYTES]


def percentile(sorted_ms: list[float], q: int) -> float:
    """Nearest-rank percentile."""
    k = max(0, -(-q * len(sorted_ms) // 100) - 1)
    return sorted_ms[k]


@click.command("poa")
@click.option("--corpus-mb", default=50, show_default=True, type=click.IntRange(1, 1024))
@click.option("--outputs", default=200, show_default=True, type=click.IntRange(10, 100_000))
def command(corpus_mb: int, outputs: int) -> None:
    """Build a span-v1 index over a synthetic corpus, then score 1 KB outputs."""
    rng = np.random.default_rng(SEED)
    vocab = make_vocabulary(rng)
    docs = make_corpus(corpus_mb, rng, vocab)
    files = [b" ".join(words) for words in docs]
    corpus_bytes = sum(len(f) for f in files)
    documents = [(Contribution(i.to_bytes(32, "big"), sha256(f)), f) for i, f in enumerate(files)]
    click.echo(f"corpus: {len(files):,} documents, {corpus_bytes / 1e6:.1f} MB")
    t = time.perf_counter()
    index = build_index(b"\x00" * 32, documents)
    build_s = time.perf_counter() - t
    # normalized text: " t1 ... tn " per document, so n + 1 spaces each
    tokens = int(np.count_nonzero(index.text == ord(" "))) - len(index.contributions)
    click.echo(f"index built in {build_s:.2f} s: {corpus_bytes / 1e6 / build_s:.2f} MB/s, "
               f"{index.nbytes / 1e6:.1f} MB ({index.nbytes / corpus_bytes:.2f} bytes per corpus byte, "
               f"{index.nbytes / tokens:.1f} per token)")
    texts = [make_output(rng, docs, vocab) for _ in range(outputs)]
    # The corpus as Python objects (millions of small bytes) is not needed to score; left
    # alive, each full garbage collection during scoring walks it (tens of ms).
    del docs, files, documents, vocab
    gc.collect()
    gc.freeze()
    times, credited = [], 0
    for text in texts:
        t = time.perf_counter()
        scores = span_v1.score(text, index)
        times.append((time.perf_counter() - t) * 1000)
        credited += bool(scores)
    times.sort()
    result = {
        "corpus_mb": round(corpus_bytes / 1e6, 2),
        "documents": len(index.contributions),
        "index_mb_per_s": round(corpus_bytes / 1e6 / build_s, 2),
        "index_bytes_per_corpus_byte": round(index.nbytes / corpus_bytes, 3),
        "index_bytes_per_token": round(index.nbytes / tokens, 2),
        "outputs": outputs,
        "outputs_credited": credited,
        "score_p50_ms": round(percentile(times, 50), 2),
        "score_p99_ms": round(percentile(times, 99), 2),
        "score_max_ms": round(times[-1], 2),
    }
    click.echo(f"scoring {outputs} outputs of {OUTPUT_BYTES} bytes: p50 {result['score_p50_ms']} ms, "
               f"p99 {result['score_p99_ms']} ms, max {result['score_max_ms']} ms")
    click.echo(json.dumps(result))
