"""Duplicate-vote evidence waiting for one of our blocks.

Bounded (a flood of evidence cannot grow it), one copy of each item, and an item leaves
for good once a committed block includes it or the ledger refuses it in a block of ours
(an invalid item would make the whole block invalid).
"""
from __future__ import annotations

import hashlib
from typing import Callable, Iterable

MAX_PENDING = 64


class EvidencePool:
    def __init__(self, capacity: int = MAX_PENDING) -> None:
        self.capacity = capacity
        self._items: dict[bytes, bytes] = {}  # sha256 -> encoded DuplicateVoteEvidence

    def __len__(self) -> int:
        return len(self._items)

    def add(self, raw: bytes) -> bool:
        """Keep an item; False if it is known already or the pool is full."""
        key = hashlib.sha256(raw).digest()
        if key in self._items or len(self._items) >= self.capacity:
            return False
        self._items[key] = raw
        return True

    def pending(self) -> list[bytes]:
        return list(self._items.values())

    def accepted(self, accepts: Callable[[list[bytes]], bool]) -> list[bytes]:
        """The items a block may carry, tried one by one: `accepts(items)` is the ledger's
        verdict on a block with those items; the ones it refuses are dropped for good."""
        good: list[bytes] = []
        for raw in self.pending():
            if accepts(good + [raw]):
                good.append(raw)
            else:
                self._drop({raw})
        return good

    def remove_included(self, evidence: Iterable[bytes]) -> None:
        """A committed block carried these: nobody needs them again."""
        self._drop(set(evidence))

    def _drop(self, raws: set[bytes]) -> None:
        if raws:
            self._items = {k: v for k, v in self._items.items() if v not in raws}
