"""Durable files for a validator: the write-ahead log and the last-signed record.

Both must be on disk before a signed message leaves the node (DESIGN.md, node/):
- `Wal`: append-only records `[u32 length][u32 crc32][payload]`, written through one path,
  the consensus driver's input log (node/runtime/core.py `WalInputLog`): records are written
  without fsync and made durable by `sync()`, which the driver calls before every
  signature (so an input that led to a signature outlives it) and after appending each
  message it signed (durable before it is broadcast).
  A crash mid-append leaves a torn tail; `read_wal` stops at the first bad record.
  The WAL holds only the current height: once a block is committed to the store the log
  is truncated (the store, not the WAL, is the source of truth for finished heights).
  It also holds the height's candidate blocks (node/runtime/core.py), so a decided height whose
  block had not reached the store is finished from the WAL at restart.
- `FileLastSignStore`: the last height/round/step signed (and what), replaced atomically:
  write a temp file, fsync it, rename over the old one, fsync the directory.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

from node.runtime import faults

_HEAD = struct.Struct(">II")
MAX_RECORD = 64 * 1024 * 1024 + 1024  # a block (state.block.MAX_BLOCK_BYTES) + framing


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new file whole."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


class Wal:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.records = read_wal(path)
        # drop a torn tail so new appends follow the last whole record
        good = sum(_HEAD.size + len(r) for r in self.records)
        self._f = open(path, "ab")
        if self._f.tell() != good:
            self._f.truncate(good)
            self._f.seek(good)
        if good:  # what a killed process left in the OS cache is on disk from here on
            os.fsync(self._f.fileno())
        self.unsynced = 0  # records appended since the last fsync
        self.appended = 0  # records appended since opened (a record's sequence number)

    def append(self, payload: bytes, sync: bool = True) -> None:
        if len(payload) > MAX_RECORD:
            raise ValueError(f"WAL record of {len(payload)} bytes exceeds {MAX_RECORD}")
        self._f.write(_HEAD.pack(len(payload), zlib.crc32(payload)) + payload)
        self._f.flush()  # in the OS from here: a killed process loses nothing, a power cut may
        self.unsynced += 1
        self.appended += 1
        if sync:
            self.sync()

    def is_synced(self, seq: int) -> bool:
        """Is the record with sequence number `seq` (`appended` just after it) durable?"""
        return seq <= self.appended - self.unsynced

    def sync(self) -> None:
        """Make every appended record durable (no-op if nothing was appended since)."""
        if self.unsynced:
            os.fsync(self._f.fileno())
            self.unsynced = 0

    def truncate(self) -> None:
        """Forget the log (called after the height's block is durably committed)."""
        self._f.truncate(0)
        self._f.seek(0)
        os.fsync(self._f.fileno())
        self.unsynced = 0
        self.records = []

    def close(self) -> None:
        self._f.close()


def read_wal(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    out: list[bytes] = []
    pos = 0
    while pos + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, pos)
        end = pos + _HEAD.size + length
        if length > MAX_RECORD or end > len(data):
            break
        payload = data[pos + _HEAD.size:end]
        if zlib.crc32(payload) != crc:
            break
        out.append(payload)
        pos = end
    return out


class FileLastSignStore:
    """The last signed (height, round, step) plus the sign bytes and signature.

    `load()` returns the record as a dict or None; `save(record)` persists it durably
    before returning. The signer refuses anything at or below the saved position unless it
    is the very same sign bytes (then it returns the same signature: CometBFT behaviour).
    """

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise ValueError(f"{self.path}: corrupt last-sign record ({e}); refusing to sign") from None
        if not isinstance(doc, dict) or not all(k in doc for k in ("height", "round", "step")):
            raise ValueError(f"{self.path}: last-sign record lacks height/round/step")
        return doc

    def save(self, record: dict[str, Any]) -> None:
        atomic_write(self.path, (json.dumps(record, sort_keys=True) + "\n").encode())
        if record["step"] == 1:  # a proposal: test-only crash point (node/runtime/faults.py)
            faults.crash_point("proposal_signed", record["height"])
