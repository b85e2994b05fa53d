"""A block abandoned halfway leaves the previous height, app hash and values intact, in
memory and on disk; a process killed in the middle of a commit reopens at the last block."""
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from state.proof import verify_proof
from state.store import Store

REPO = Path(__file__).resolve().parents[2]

BLOCK1 = {b"a": b"1", b"b": b"2", b"c": b"3"}
BLOCK2 = {b"a": b"10", b"b": None, b"d": b"4"}
HALF_BLOCK = {b"a": b"100", b"c": None, b"e": b"5", b"f": b"6"}


class ExplodingRecords(Mapping):
    """Records that fail after yielding some entries: the batch is half built."""

    def __init__(self, good: int):
        self.good = good

    def __getitem__(self, key):
        raise KeyError(key)

    def __len__(self):
        return self.good + 1

    def __iter__(self):
        for i in range(self.good):
            yield b"rec/%d" % i
        raise RuntimeError("crash while the batch is being built")

    def items(self):
        for i in range(self.good):
            yield b"rec/%d" % i, b"x"
        raise RuntimeError("crash while the batch is being built")


def _assert_at_block2(store: Store, h2: bytes) -> None:
    assert (store.height, store.app_hash) == (2, h2)
    assert store.get(b"a") == b"10" and store.get(b"b") is None and store.get(b"c") == b"3"
    assert store.get(b"e") is None and store.get(b"f") is None
    assert store.get_record(b"rec/0") is None
    for key in (b"a", b"c", b"e"):
        value, proof = store.prove(key)
        assert verify_proof(h2, key, value, proof)
    with pytest.raises(Exception):
        store.app_hash_at(3)


def _two_blocks(path) -> tuple[Store, bytes]:
    store = Store(path)
    store.commit(1, BLOCK1)
    return store, store.commit(2, BLOCK2)


def test_exception_while_building_the_batch_changes_nothing(tmp_path):
    store, h2 = _two_blocks(tmp_path / "db")
    with pytest.raises(RuntimeError):
        store.commit(3, HALF_BLOCK, ExplodingRecords(good=2))
    _assert_at_block2(store, h2)
    # the same height can be committed afterwards, and gives the honest result (the
    # same root as a store that never saw the failure: caches were not poisoned)
    h3 = store.commit(3, HALF_BLOCK)
    assert store.get_record(b"rec/0") is None  # nothing of the abandoned batch rode along
    with Store(tmp_path / "clean") as clean:
        clean.commit(1, BLOCK1)
        clean.commit(2, BLOCK2)
        assert clean.commit(3, HALF_BLOCK) == h3
        h4 = store.commit(4, {b"d": None, b"g": b"7"})
        assert clean.commit(4, {b"d": None, b"g": b"7"}) == h4
    store.close()
    with Store(tmp_path / "db") as reopened:
        assert (reopened.height, reopened.app_hash) == (4, h4)
        assert reopened.app_hash_at(3) == h3
        assert reopened.get(b"a") == b"100" and reopened.get_at(b"a", 2) == b"10"


def test_exception_just_before_the_write_changes_nothing_on_disk(tmp_path, monkeypatch):
    store, h2 = _two_blocks(tmp_path / "db")

    def crash(batch):
        raise OSError("disk went away before the write")

    monkeypatch.setattr(store, "_write", crash)
    with pytest.raises(OSError):
        store.commit(3, HALF_BLOCK, {b"rec/0": b"x"})
    _assert_at_block2(store, h2)
    store.close()
    with Store(tmp_path / "db") as reopened:
        _assert_at_block2(reopened, h2)


CHILD = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from state.store import Store

    class DieHalfway(dict):
        def items(self):
            for i, kv in enumerate(super().items()):
                if i == 3:
                    os._exit(17)  # the process dies with the batch half built
                yield kv

    store = Store(sys.argv[1])
    store.commit(1, {b"a": b"1", b"b": b"2", b"c": b"3"})
    print(store.commit(2, {b"a": b"10", b"b": None, b"d": b"4"}).hex(), flush=True)
    store.commit(3, {b"a": b"100", b"c": None, b"e": b"5", b"f": b"6"},
                 DieHalfway({b"rec/%d" % i: b"x" for i in range(10)}))
    print("unreachable", flush=True)
""")


def test_process_killed_mid_commit_reopens_at_previous_block(tmp_path):
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "db"), str(REPO)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 17, proc.stderr
    lines = proc.stdout.split()
    assert lines and "unreachable" not in lines
    with Store(tmp_path / "db") as reopened:
        _assert_at_block2(reopened, bytes.fromhex(lines[0]))
