"""Pruning: kept heights still prove, pruned ones answer `pruned`, the app hash is the
archive's, exactly the nodes reachable from kept roots survive (none leaked, none lost,
also when a value comes back and recreates old nodes), and a crash mid-prune is safe."""
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from state.proof import verify_proof
from state.store import Store, StoreError
from state.tree import child_nodes

REPO = Path(__file__).resolve().parents[2]
# a small pool: values flip back and forth, so old subtrees are recreated
POOL = [b"k%d" % i for i in range(40)]


def reachable_nodes(store: Store) -> set[bytes]:
    """Hashes of the nodes reachable from every retained root (a mark phase)."""
    seen: set[bytes] = set()
    for h in range(store.base, store.height + 1):
        stack = [store._load_root(h)]
        while stack:
            ref = stack.pop()
            if ref is None or len(ref) != 32 or ref in seen:
                continue
            seen.add(ref)
            stack.extend(child_nodes(store._read_node(ref)))
    return seen


def stored_nodes(store: Store) -> set[bytes]:
    return {k[1:] for k in store._db.iterator(prefix=b"N", include_value=False)}


def check_retained(store: Store, history: dict) -> None:
    for h, (app_hash, state) in history.items():
        if h < store.base:
            with pytest.raises(StoreError) as e:
                store.prove(POOL[0], h)
            assert e.value.code == "pruned"
            with pytest.raises(StoreError):
                store.get_at(POOL[0], h)
            continue
        assert store.app_hash_at(h) == app_hash
        for k in POOL:
            value, proof = store.prove(k, h)
            assert value == state.get(k) == store.get_at(k, h)
            assert verify_proof(app_hash, k, value, proof)
    assert stored_nodes(store) == reachable_nodes(store)


def apply_changes(model: dict, changes: dict) -> dict:
    """Apply a block's changes (None deletes) to `model`; return a copy of the result."""
    for k, v in changes.items():
        if v is None:
            model.pop(k, None)
        else:
            model[k] = v
    return dict(model)


def test_a_store_with_the_stale_index_of_one_entry_per_hash_prunes_the_same(tmp_path):
    """Stores written before the stale index was packed (one `T height kind hash` entry per
    hash) prune exactly as packed ones: same nodes kept, same versions readable."""
    history = {}
    model: dict = {}
    with Store(tmp_path / "old") as old:
        for height in range(1, 9):
            changes = {POOL[(height * 7 + i) % len(POOL)]: (None if i % 5 == 4 else b"v%d" % height)
                       for i in range(12)}
            history[height] = (old.commit(height, changes), apply_changes(model, changes))
        unpacked = 0
        with old._db.write_batch() as batch:              # rewrite the index as the old layout
            for key, listed in old._db.iterator(prefix=b"T"):
                batch.delete(key)
                for i in range(0, len(listed), 32):
                    batch.put(key + listed[i:i + 32], b"")
                    unpacked += 1
        assert unpacked > 8
        old.prune(5)
        check_retained(old, history)
        assert not list(old._db.iterator(start=b"T", stop=b"T" + (6).to_bytes(8, "big")))


blocks = st.lists(st.dictionaries(st.sampled_from(POOL), st.none() | st.sampled_from([b"a", b"b", b"c"]),
                                  max_size=10), min_size=2, max_size=14)


@settings(max_examples=40, deadline=None)
@given(blocks, st.integers(1, 4), st.integers(0, 2))
def test_pruned_store_matches_archive_and_keeps_exactly_the_reachable_nodes(bs, keep, cache_choice):
    model: dict = {}
    history = {}
    with tempfile.TemporaryDirectory() as d:
        with Store(d + "/p", node_cache_size=[0, 5, 10_000][cache_choice]) as pruned, Store(d + "/a") as archive:
            for height, changes in enumerate(bs, start=1):
                root = pruned.commit(height, changes)
                assert root == archive.commit(height, changes)  # app hash unchanged
                history[height] = (root, apply_changes(model, changes))
                pruned.prune(max(1, height - keep + 1))
                check_retained(pruned, history)
            pruned.compact()
            check_retained(pruned, history)
        with Store(d + "/p") as reopened:  # the base survives a restart
            assert reopened.base == max(1, len(bs) - keep + 1)
            check_retained(reopened, history)


def test_prune_refuses_bad_heights_and_is_idempotent(tmp_path):
    with Store(tmp_path / "s") as s:
        for h in range(1, 6):
            s.commit(h, {b"x": b"%d" % h})
        with pytest.raises(StoreError) as e:
            s.prune(6)
        assert e.value.code == "bad_height"
        assert s.prune(3)["heights"] == 2
        assert s.prune(3)["heights"] == 0 and s.prune(2)["heights"] == 0
        assert s.base == 3
        assert s.get_at(b"x", 3) == b"3"


def test_versions_of_deleted_keys_disappear_entirely(tmp_path):
    with Store(tmp_path / "s") as s:
        s.commit(1, {b"gone": b"1", b"stay": b"1"})
        s.commit(2, {b"gone": None})
        s.commit(3, {b"stay": b"3"})
        s.prune(3)
        versions = list(s._db.iterator(prefix=b"V", include_value=False))
        assert len(versions) == 1  # only stay@3
        assert s.get_at(b"gone", 3) is None and s.get_at(b"stay", 3) == b"3"


def test_records_are_deleted_in_the_same_batch(tmp_path):
    with Store(tmp_path / "s") as s:
        s.commit(1, {b"a": b"1"}, {b"blk/1": b"block one"})
        s.commit(2, {b"a": b"2"}, {b"blk/2": b"block two"})
        s.prune(2, [b"blk/1"])
        assert s.get_record(b"blk/1") is None and s.get_record(b"blk/2") == b"block two"


CRASH = textwrap.dedent("""
    import os, sys
    from state.store import Store
    s = Store(sys.argv[1])
    real = s._db.write_batch
    def dying_batch(**kw):
        batch = real(**kw)
        class Dying:
            def __init__(self):
                self.deletes = 0
            def delete(self, key):
                batch.delete(key)
                self.deletes += 1
                if self.deletes == 7 and sys.argv[2] == "mid":
                    os._exit(3)  # killed with the batch half built
            def put(self, key, value):
                batch.put(key, value)
            def write(self):
                batch.write()
                if sys.argv[2] == "after":
                    os._exit(3)  # killed right after the write
        return Dying()
    s._db = type("Db", (), {"write_batch": staticmethod(dying_batch),
                            "get": s._db.get, "iterator": s._db.iterator})()
    s.prune(4)
""")


@pytest.mark.parametrize("when, base", [("mid", 1), ("after", 4)])
def test_a_crash_mid_prune_leaves_the_old_or_the_new_base(tmp_path, when, base):
    path = tmp_path / "s"
    history = {}
    model: dict = {}
    with Store(path) as s:
        for h in range(1, 7):
            changes = {POOL[i]: b"%d" % (h % 3) for i in range(h, h + 12)}
            model.update(changes)
            history[h] = (s.commit(h, changes), dict(model))
    run = subprocess.run([sys.executable, "-c", CRASH, str(path), when], cwd=REPO,
                         capture_output=True, text=True)
    assert run.returncode == 3, run.stderr
    with Store(path) as s:
        assert s.base == base and s.height == 6
        check_retained(s, history)
        s.prune(5)  # and pruning goes on from there
        check_retained(s, history)
