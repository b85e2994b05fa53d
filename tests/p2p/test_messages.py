"""Envelope codecs: round trips, and defensive decoding of hostile input."""
from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from p2p import messages as m
from p2p.ids import ChainTopics, protocol_id, topic_id

H = bytes(range(32))
SAMPLES = [
    m.TxBatch((b"tx1", b"tx2" * 100)),
    m.TxBatch(()),
    m.CompactProposal(b"proposal", b"header", (H, H), (b"ev",), b"commit"),
    m.CompactProposal(b"proposal", b"header", (), (), None),
    m.VoteMessage(b"vote"),
    m.EvidenceMessage(b"evidence"),
    m.StatusRequest(),
    m.Status(10, 2, H, 1),
    m.TxsRequest((H,)),
    m.TxsResponse((b"a", b"b")),
    m.BlocksRequest(1, 64),
    m.BlocksResponse(((b"block", b"commit"),)),
    m.VotesRequest(5, 0),
    m.VotesResponse((b"v1", b"v2")),
    m.SubmitTxRequest(b"tx"),
    m.SubmitTxResponse(0, "accepted", H),
    m.LightBlockRequest(0),
    m.LightBlockResponse(b"h", b"c", b"v"),
    m.ProofRequest(b"key", 3),
    m.ProofResponse(3, None, b"proof"),
    m.ProofResponse(3, b"value", b"proof"),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda s: type(s).__name__)
def test_every_envelope_round_trips_canonically(message):
    data = message.encode()
    decoded = m.decode_message(data, 1 << 20)
    assert decoded == message
    assert decoded.encode() == data
    assert type(message).decode(data, 1 << 20) == message


def test_decode_as_the_wrong_kind_is_refused():
    with pytest.raises(m.MessageError) as err:
        m.TxBatch.decode(m.VoteMessage(b"v").encode(), 1024)
    assert err.value.code == "unexpected_kind"


@pytest.mark.parametrize(
    "data, code",
    [
        (b"", "malformed"),
        (b"\xc1", "malformed"),  # a byte msgpack never uses
        (b"\x93\x01", "malformed"),  # truncated
        (msgpack.packb({"kind": 1}), "malformed"),  # a map, not an array
        (msgpack.packb([]), "malformed"),
        (msgpack.packb(["1", []]), "malformed"),  # kind must be an int
        (msgpack.packb([99, b"x"]), "unknown_kind"),
        (msgpack.packb([1]), "malformed"),  # missing field
        (msgpack.packb([1, [], b"extra"]), "malformed"),  # extra field
        (msgpack.packb([1, [1]]), "bad_field"),  # tx must be bytes
        (msgpack.packb([1, ["text"]]), "bad_field"),  # str is not bytes
        (msgpack.packb([11, -1, 0, H, 0]), "bad_field"),  # negative height
        (msgpack.packb([11, 1.5, 0, H, 0]), "bad_field"),  # floats never
        (msgpack.packb([11, True, 0, H, 0]), "bad_field"),  # bool is not an int
        (msgpack.packb([12, [b"short"]]), "bad_field"),  # tx ids are 32 bytes
        (msgpack.packb([14, 5, 4]), "bad_field"),  # inverted range
        (msgpack.packb([14, 1, 1000]), "bad_field"),  # range too long
        (msgpack.packb([1, [b"x" * (m.MAX_TX_SIZE + 1)]]), "too_large"),
    ],
)
def test_hostile_input_raises_a_coded_message_error(data, code):
    with pytest.raises(m.MessageError) as err:
        m.decode_message(data, 1 << 20)
    assert err.value.code == code


def test_size_limit_is_checked_before_decoding():
    data = m.TxBatch((b"x" * 1000,)).encode()
    with pytest.raises(m.MessageError) as err:
        m.decode_message(data, len(data) - 1)
    assert err.value.code == "too_large"
    assert m.decode_message(data, len(data)) == m.TxBatch((b"x" * 1000,))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes_never_raise_anything_but_message_error(data):
    try:
        m.decode_message(data, 1 << 20)
    except m.MessageError:
        pass


msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.binary(max_size=40)
    | st.text(max_size=10),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 30), st.lists(msgpack_values, max_size=6))
def test_well_formed_msgpack_of_the_wrong_shape_never_crashes(kind, fields):
    try:
        message = m.decode_message(msgpack.packb([kind, *fields], use_bin_type=True), 1 << 20)
    except m.MessageError:
        return
    assert message.encode() == msgpack.packb([kind, *fields], use_bin_type=True)


def test_ids_carry_chain_id_and_version():
    topics = ChainTopics("attr-1")
    assert topics.txs == "/attrchain/attr-1/txs/1"
    assert topics.protocol("blocks") == "/attrchain/attr-1/req/blocks/1"
    assert topics.kind_of_topic("/attrchain/attr-2/txs/1") is None
    assert topics.kind_of_protocol(protocol_id("attr-1", "status")) == "status"
    with pytest.raises(ValueError):
        topic_id("bad/chain", "txs")
    with pytest.raises(ValueError):
        topic_id("attr-1", "nonsense")
