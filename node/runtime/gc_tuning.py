"""The cyclic garbage collector of a running node: start-up's heap frozen, young
collections rarer.

Under load a node allocates a few container objects per tx and refcounting frees nearly
all of them, yet CPython's collector (young threshold 700) ran ~19 times a second and a
full collection of the ~120,000 objects start-up built (imported modules, the libp2p
stack) every few seconds, ~50 ms each: ~5 % of a node's CPU for ~0.1 % of its garbage
(docs/bench.md, "Garbage collection"). Frozen, those objects leave every collection;
a young threshold of YOUNG_THRESHOLD allocations makes collections ~30x rarer. Cycles are
still collected, just later.
"""
from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def tune_gc() -> None:
    """Once the node is up: collect, freeze what is left, raise the young threshold."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
