"""RFC 6962 list root (the tx root): CometBFT's vectors, proofs for every index, tampering."""
from hashlib import sha256

from hypothesis import given, settings
from hypothesis import strategies as st

from state.simple_merkle import EMPTY_HASH, merkle_proof, merkle_root, verify_merkle_proof

# crypto/merkle/tree_test.go (TestHashFromByteSlices) in CometBFT
COMETBFT_VECTORS = [
    ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ([b"\x01\x02\x03"], "054edec1d0211f624fed0cbca9d4f9400b0e491c43742af2c5b0abebf0c990d8"),
    ([b""], "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    ([b"\x01\x02\x03", b"\x04\x05\x06"],
     "82e6cfce00453804379b53962939eaa7906b39904be0813fcadd31b100773c4b"),
    ([b"\x01\x02", b"\x03\x04", b"\x05\x06", b"\x07\x08", b"\x09\x0a"],
     "f326493eceab4f2d9ffbc78c59432a0a005d6ea98392045c74df5d14a113be18"),
]


def test_cometbft_vectors():
    for leaves, expected in COMETBFT_VECTORS:
        assert merkle_root(leaves).hex() == expected
    assert EMPTY_HASH == sha256(b"").digest()


def test_proof_for_every_index_verifies_and_only_there():
    for n in range(1, 34):
        leaves = [b"tx%d" % i for i in range(n)]
        root = merkle_root(leaves)
        for i in range(n):
            proof = merkle_proof(leaves, i)
            assert verify_merkle_proof(root, leaves[i], i, n, proof)
            # the same leaf claimed at another index, or with another total, fails
            if n > 1:
                assert not verify_merkle_proof(root, leaves[i], (i + 1) % n, n, proof)
            assert not verify_merkle_proof(root, leaves[i] + b"!", i, n, proof)


def test_tampered_aunt_and_root_rejected():
    leaves = [b"a", b"b", b"c", b"d", b"e", b"f", b"g"]
    root = merkle_root(leaves)
    proof = merkle_proof(leaves, 5)
    for j in range(len(proof)):
        bad = list(proof)
        bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
        assert not verify_merkle_proof(root, leaves[5], 5, 7, bad)
    assert not verify_merkle_proof(root, leaves[5], 5, 7, proof[:-1])
    assert not verify_merkle_proof(root, leaves[5], 5, 7, proof + [bytes(32)])
    assert not verify_merkle_proof(bytes(32), leaves[5], 5, 7, proof)


def test_garbage_arguments_return_false():
    root = merkle_root([b"x", b"y"])
    proof = merkle_proof([b"x", b"y"], 0)
    for args in [(None, b"x", 0, 2, proof), (root, "x", 0, 2, proof), (root, b"x", -1, 2, proof),
                 (root, b"x", 2, 2, proof), (root, b"x", 0, 0, proof), (root, b"x", 0, 2, None),
                 (root, b"x", 0, 2, [b"short"]), (root, b"x", True, 2, proof),
                 (root, b"x", 0, 2, [1, 2])]:
        assert verify_merkle_proof(*args) is False


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=40), st.data())
def test_root_matches_a_recursive_reference(leaves, data):
    def ref(items):
        if len(items) == 1:
            return sha256(b"\x00" + items[0]).digest()
        k = 1
        while k * 2 < len(items):
            k *= 2
        return sha256(b"\x01" + ref(items[:k]) + ref(items[k:])).digest()

    root = merkle_root(leaves)
    assert root == ref(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1))
    assert verify_merkle_proof(root, leaves[i], i, len(leaves), merkle_proof(leaves, i))
