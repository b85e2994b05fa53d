"""The light client's trusted store: light blocks it has verified, by height.

In memory, or persisted in a directory (`trusted.bin`, replaced atomically, so a crash
leaves the old or the new file whole). Only verified blocks are ever saved. It keeps
the newest `keep` blocks; the newest is the anchor for verifying further.
"""
from __future__ import annotations

from pathlib import Path

import msgpack

from node.runtime.durable import atomic_write
from node.light.errors import TrustError
from node.light.types import LightBlock

FILE_NAME = "trusted.bin"
VERSION = 1


class TrustedStore:
    def __init__(self, directory: Path | None = None, keep: int = 256):
        self.directory = directory
        self.keep = keep
        self.blocks: dict[int, LightBlock] = {}
        if directory is not None and (directory / FILE_NAME).exists():
            self._load()

    @property
    def path(self) -> Path | None:
        return None if self.directory is None else self.directory / FILE_NAME

    def _load(self) -> None:
        try:
            doc = msgpack.unpackb(self.path.read_bytes(), raw=False, strict_map_key=True)
            if type(doc) is not list or len(doc) != 2 or doc[0] != VERSION:
                raise ValueError("unknown format")
            for raw in doc[1]:
                lb = LightBlock.decode(raw)
                self.blocks[lb.height] = lb
        except (OSError, ValueError) as e:
            raise TrustError("bad_trusted_store", f"{self.path}: {e}") from None

    def _flush(self) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        data = msgpack.packb([VERSION, [self.blocks[h].encode() for h in sorted(self.blocks)]],
                             use_bin_type=True)
        atomic_write(self.path, data)

    def save(self, *blocks: LightBlock) -> None:
        for lb in blocks:
            self.blocks[lb.height] = lb
        for h in sorted(self.blocks)[:-self.keep]:
            del self.blocks[h]
        self._flush()

    def get(self, height: int) -> LightBlock | None:
        return self.blocks.get(height)

    def latest(self) -> LightBlock:
        if not self.blocks:
            raise TrustError("not_initialised", "no trusted header: run `attrchain light init`")
        return self.blocks[max(self.blocks)]

    def nearest_above(self, height: int) -> LightBlock | None:
        above = [h for h in self.blocks if h > height]
        return self.blocks[min(above)] if above else None

    def validators_by_hash(self, set_hash: bytes):
        for lb in self.blocks.values():
            if lb.header.validators_hash == set_hash:
                return lb.validators
        return None

    def __len__(self) -> int:
        return len(self.blocks)
