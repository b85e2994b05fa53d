"""Inclusion and non-inclusion proofs: round trips at several heights, and every kind of
tampering (value, key, proof bytes, app hash) rejected; verify_proof never raises."""
import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from state.proof import verify_proof
from state.store import Store
from state.tree import EMPTY_ROOT


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "db")
    yield s
    s.close()


def _terminal(proof: bytes):
    return msgpack.unpackb(proof)[2]


def _history(store):
    """Four heights with inserts, updates and deletes; returns {height: state dict}."""
    states = {}
    model: dict = {}
    blocks = [
        {b"k%d" % i: b"v%d" % i for i in range(60)},
        {**{b"k%d" % i: b"w%d" % i for i in range(0, 60, 3)}, **{b"n%d" % i: b"x" for i in range(20)}},
        {**{b"k%d" % i: None for i in range(0, 60, 2)}, b"n3": None},
        {b"k0": b"back", b"k2": b"again"},
    ]
    for h, changes in enumerate(blocks, 1):
        store.commit(h, changes)
        for k, v in changes.items():
            if v is None:
                model.pop(k, None)
            else:
                model[k] = v
        states[h] = dict(model)
    return states


def test_round_trip_present_and_absent_at_every_height(store):
    states = _history(store)
    probe = [b"k%d" % i for i in range(60)] + [b"n%d" % i for i in range(20)] + \
        [b"absent%d" % i for i in range(40)]
    kinds = set()
    for h, state in states.items():
        app_hash = store.app_hash_at(h)
        for key in probe:
            value, proof = store.prove(key, h)
            assert value == state.get(key)
            assert verify_proof(app_hash, key, value, proof)
            kinds.add((value is None, _terminal(proof) is None))
            # the proof is bound to this height's root when the value differs elsewhere
            for other_h, other_state in states.items():
                if other_state.get(key) != value:
                    assert not verify_proof(store.app_hash_at(other_h), key, value, proof)
    # present, absent at an empty slot, absent under another key's leaf: all exercised
    assert kinds == {(False, True), (True, True), (True, False)}


def test_latest_height_is_the_default(store):
    _history(store)
    assert store.prove(b"k1") == store.prove(b"k1", store.height)


def test_tampered_value_key_and_app_hash_rejected(store):
    states = _history(store)
    app_hash = store.app_hash
    for key in (b"k1", b"k0", b"n5", b"absent1", b"k4"):
        value, proof = store.prove(key)
        assert verify_proof(app_hash, key, value, proof)
        # another value (or claiming absence / presence instead)
        assert not verify_proof(app_hash, key, (value or b"") + b"!", proof)
        if value is not None:
            assert not verify_proof(app_hash, key, None, proof)
            assert not verify_proof(app_hash, key, value[:-1], proof)
        # another key (an absence proof may rightly cover another absent key on its
        # path, so it is checked against a key that is present)
        assert not verify_proof(app_hash, key + b"x" if value is not None else b"k1",
                                value, proof)
        # another app hash: one flipped bit, or an older root
        assert not verify_proof(bytes([app_hash[0] ^ 1]) + app_hash[1:], key, value, proof)
        assert not verify_proof(EMPTY_ROOT, key, value, proof)
    assert states  # (history built)


def test_every_flipped_byte_of_a_proof_is_rejected(store):
    _history(store)
    app_hash = store.app_hash
    cases = [(b"k1", "present")]
    for i in range(200):  # absence proofs of both shapes
        key = b"absent%d" % i
        value, proof = store.prove(key)
        shape = "absent-empty" if _terminal(proof) is None else "absent-other-leaf"
        if shape not in {c[1] for c in cases}:
            cases.append((key, shape))
    assert len(cases) == 3
    for key, _shape in cases:
        value, proof = store.prove(key)
        for i in range(len(proof)):
            for bit in (0x01, 0x80):
                bad = proof[:i] + bytes([proof[i] ^ bit]) + proof[i + 1:]
                assert not verify_proof(app_hash, key, value, bad), (key, i, bit)
        assert not verify_proof(app_hash, key, value, proof[:-1])
        assert not verify_proof(app_hash, key, value, proof + b"\x00")


def test_absence_proof_cannot_point_at_the_key_itself_or_off_path(store):
    from hashlib import sha256

    _history(store)
    app_hash = store.app_hash
    for i in range(200):
        key = b"absent%d" % i
        _, proof = store.prove(key)
        if _terminal(proof) is not None:
            break
    version, levels, (other_kh, other_vh) = msgpack.unpackb(proof)
    assert verify_proof(app_hash, key, None, proof)
    # claiming the leaf found is the key's own (same key hash) is refused
    forged = msgpack.packb([version, levels, [sha256(key).digest(), other_vh]])
    assert not verify_proof(app_hash, key, None, forged)
    # a leaf whose hash does not share the path's prefix is refused
    forged = msgpack.packb([version, levels, [bytes(32), other_vh]])
    assert not verify_proof(app_hash, key, None, forged)


def test_empty_tree(store):
    store.commit(1, {})
    assert store.app_hash == EMPTY_ROOT
    value, proof = store.prove(b"anything")
    assert value is None and verify_proof(EMPTY_ROOT, b"anything", None, proof)
    assert not verify_proof(EMPTY_ROOT, b"anything", b"v", proof)
    assert not verify_proof(bytes(31) + b"\x01", b"anything", None, proof)


def test_single_key_tree_and_delete_to_empty(store):
    from hashlib import sha256

    root1 = store.commit(1, {b"only": b"one"})
    assert root1 == sha256(b"\x00" + sha256(b"only").digest() + sha256(b"one").digest()).digest()
    value, proof = store.prove(b"only")
    assert value == b"one" and verify_proof(root1, b"only", b"one", proof)
    assert not verify_proof(root1, b"only", b"two", proof)
    v2, absent = store.prove(b"other")
    assert v2 is None and verify_proof(root1, b"other", None, absent)
    assert not verify_proof(root1, b"only", None, absent)

    root2 = store.commit(2, {b"only": None})
    assert root2 == EMPTY_ROOT
    value, proof = store.prove(b"only", 2)
    assert value is None and verify_proof(root2, b"only", None, proof)
    # height 1 still proves the old value (historical proof)
    value, proof = store.prove(b"only", 1)
    assert value == b"one" and verify_proof(store.app_hash_at(1), b"only", b"one", proof)


def test_two_keys_then_one_collapses_back_to_a_leaf_root(store):
    from hashlib import sha256

    store.commit(1, {b"a": b"1", b"b": b"2"})
    root = store.commit(2, {b"b": None})
    assert root == sha256(b"\x00" + sha256(b"a").digest() + sha256(b"1").digest()).digest()


GARBAGE_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.binary(max_size=80)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.one_of(st.none(), st.binary(max_size=5)))
def test_random_bytes_never_verify_and_never_raise(proof, value):
    result = verify_proof(EMPTY_ROOT, b"k", value, proof)
    # the only thing that proves anything against the empty root is the empty-tree proof
    assert result is False or (value is None and msgpack.unpackb(proof) == [1, [], None])
    assert verify_proof(b"\x07" * 32, b"k", value, proof) is False


@settings(max_examples=200, deadline=None)
@given(GARBAGE_VALUES, GARBAGE_VALUES)
def test_structured_garbage_never_raises(levels, terminal):
    proof = msgpack.packb([1, levels, terminal], use_bin_type=True)
    result = verify_proof(b"\x07" * 32, b"k", None, proof)
    assert result is False


def test_wrong_argument_types_return_false(store):
    store.commit(1, {b"k": b"v"})
    value, proof = store.prove(b"k")
    good = (store.app_hash, b"k", value, proof)
    assert verify_proof(*good)
    for i, bad in [(0, None), (0, store.app_hash[:31]), (0, "x" * 32), (1, "k"), (1, None),
                   (2, "v"), (2, 5), (3, None), (3, proof.decode("latin-1")), (3, [proof])]:
        args = list(good)
        args[i] = bad
        assert verify_proof(*args) is False
