"""A datanet's contributions as one suffix-array index (span-v1's `SpanFinder`).

The indexed text is each contribution's normalized form (span_v1.normalize) followed by a
NUL, in contribution-id order; the suffix array over its bytes is built by libdivsufsort
(`pydivsufsort`). A lookup is libdivsufsort's `sa_search` (binary search, O(|pattern| log n)
in C), so scoring never scans the corpus. pydivsufsort's Python wrapper of it rebuilds
ctypes views of the whole text and array on every call (~70 us, most of a lookup); the
index makes those views once and calls the same C function with them. Saved as one .npz file: the text, the suffix array, where
each contribution starts, and a JSON header (algorithm, datanet, contributions).
"""
from __future__ import annotations

import ctypes
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydivsufsort
from pydivsufsort.dll import libdivsufsort, libdivsufsort64

from node.poa import span_v1


@dataclass(frozen=True)
class Contribution:
    contribution_id: bytes
    content_hash: bytes       # sha256 of the file's bytes, as on chain


class SpanIndex:
    def __init__(self, datanet: bytes, contributions: list[Contribution], text: np.ndarray,
                 sa: np.ndarray, starts: np.ndarray) -> None:
        self.datanet = datanet
        self.contributions = contributions
        self.text = text
        self.sa = sa
        self.starts = starts
        wide = sa.dtype == np.int64
        self._int = ctypes.c_int64 if wide else ctypes.c_int32
        self._sa_search = libdivsufsort64.sa_search64 if wide else libdivsufsort.sa_search
        self._text_p = text.ctypes.data_as(ctypes.c_void_p)
        self._sa_p = sa.ctypes.data_as(ctypes.c_void_p)
        self._n = self._int(len(text))

    # --- SpanFinder -----------------------------------------------------------------------------
    def _search(self, pattern: bytes) -> tuple[int, int]:
        """(occurrences, first row of them in the suffix array)."""
        if not len(self.text):
            return 0, 0
        left = self._int()
        count = self._sa_search(self._text_p, self._n, pattern, self._int(len(pattern)),
                                self._sa_p, self._n, ctypes.byref(left))
        if count < 0:
            raise RuntimeError(f"libdivsufsort sa_search failed ({count})")
        return count, left.value

    def count(self, pattern: bytes) -> int:
        return self._search(pattern)[0]

    def documents(self, pattern: bytes) -> list[int]:
        count, left = self._search(pattern)
        positions = self.sa[left:left + count]
        docs = np.searchsorted(self.starts, positions, side="right") - 1
        return [int(d) for d in np.unique(docs)]

    def contribution_id(self, doc: int) -> bytes:
        return self.contributions[doc].contribution_id

    # --- sizes ---------------------------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        return self.text.nbytes + self.sa.nbytes + self.starts.nbytes

    # --- files ------------------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        header = {"algorithm": span_v1.ALGORITHM, "datanet": self.datanet.hex(),
                  "contributions": [[c.contribution_id.hex(), c.content_hash.hex()] for c in self.contributions]}
        with open(path, "wb") as f:       # a file object: np.savez would append ".npz" to a name
            np.savez(f, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                     text=self.text, sa=self.sa, starts=self.starts)

    @classmethod
    def load(cls, path: Path) -> "SpanIndex":
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(z["header"].tobytes())
            if header.get("algorithm") != span_v1.ALGORITHM:
                raise ValueError(f"{path}: an index for {header.get('algorithm')!r}, not {span_v1.ALGORITHM}")
            contributions = [Contribution(bytes.fromhex(c), bytes.fromhex(h)) for c, h in header["contributions"]]
            return cls(bytes.fromhex(header["datanet"]), contributions, z["text"], z["sa"], z["starts"])


def build_index(datanet: bytes, documents: list[tuple[Contribution, bytes]]) -> SpanIndex:
    """Index the contributions' bytes (any order given; indexed by contribution id)."""
    documents = sorted(documents, key=lambda d: d[0].contribution_id)
    parts, starts, pos = [], [], 0
    for _, data in documents:
        norm = span_v1.normalize(data) + span_v1.DOC_SEPARATOR
        starts.append(pos)
        parts.append(norm)
        pos += len(norm)
    joined = b"".join(parts)
    sa = pydivsufsort.divsufsort(joined) if joined else np.zeros(0, dtype=np.int32)
    text = np.frombuffer(joined, dtype=np.uint8)
    return SpanIndex(datanet, [c for c, _ in documents], text, sa, np.array(starts, dtype=np.int64))


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class UnknownDataError(ValueError):
    """Files whose sha256 is no accepted contribution's content hash (named, none indexed)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("no accepted contribution of this datanet has the content of: " + ", ".join(names))
        self.names = names


def match_files(data_dir: Path, accepted: list[Contribution]) -> tuple[list[tuple[Contribution, bytes]], list[Contribution]]:
    """([(contribution, bytes)] for every file in `data_dir`, [accepted contributions with
    no file]). Any file that hashes to no accepted contribution refuses the whole set."""
    by_hash = {c.content_hash: c for c in accepted}
    matched: dict[bytes, tuple[Contribution, bytes]] = {}
    unknown = []
    for path in sorted(p for p in data_dir.iterdir() if p.is_file()):
        data = path.read_bytes()
        c = by_hash.get(sha256(data))
        if c is None:
            unknown.append(path.name)
        else:
            matched[c.contribution_id] = (c, data)
    if unknown:
        raise UnknownDataError(unknown)
    missing = [c for c in accepted if c.contribution_id not in matched]
    return list(matched.values()), missing
