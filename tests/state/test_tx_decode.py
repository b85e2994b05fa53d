"""Encoding, signature and ante checks common to every kind, and the schema of each kind."""
from __future__ import annotations

import msgpack
import pytest

from ledger_helpers import ALICE, BOB, addr, apply_ok, assert_rejected, nonce
from state.address import decode_address, encode_address
from state.errors import Code, TxError
from state.tx import KINDS, MAX_TX_BYTES, Tx, decode_tx, encode_signed, sign_tx, verify_signature


def pack(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def signed(key, body: list) -> bytes:
    b = pack(body)
    return encode_signed(b, key.sign(b).signature)


def body(chain, key=ALICE, nonce_=0, fee=None, kind="transfer", fields=None) -> list:
    fee = chain.ledger.params.min_fee if fee is None else fee
    fields = [addr(BOB), 5] if fields is None else fields
    return [chain.chain_id, bytes(key.verify_key), nonce_, fee, kind, fields]


def test_tx_decode_round_trip(chain):
    raw = chain.tx(ALICE, "transfer", addr(BOB), 5)
    stx = decode_tx(raw)
    assert stx.kind == "transfer" and stx.args.to == addr(BOB) and stx.args.amount == 5
    assert stx.sender == addr(ALICE) and stx.raw == raw and len(stx.id) == 32
    verify_signature(stx)
    assert stx.tx == Tx(chain.chain_id, bytes(ALICE.verify_key), 0, chain.ledger.params.min_fee,
                        "transfer", (addr(BOB), 5))


def test_tx_decode_address_text_round_trip():
    a = addr(ALICE)
    text = encode_address(a)
    assert text.startswith("open1") and decode_address(text) == a
    assert decode_address(text.upper()) == a


@pytest.mark.parametrize("text", ["", "open1", "cosmos1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
                                  "open1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqbbbbb", "Open1Qq"])
def test_invalid_bad_address_text(text):
    with pytest.raises(TxError) as e:
        decode_address(text)
    assert e.value.code == Code.BAD_ADDRESS


def test_invalid_address_checksum():
    text = encode_address(addr(ALICE))
    flipped = text[:-1] + ("q" if text[-1] != "q" else "p")
    with pytest.raises(TxError, match="checksum"):
        decode_address(flipped)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_tx_decode_every_kind_has_a_schema(kind):
    assert KINDS[kind].fields is not None


@pytest.mark.parametrize("raw", [b"", b"\xc1", b"\x92\x01", pack([b"x"]), pack({"a": 1}),
                                 pack([b"\x00", b"\x00" * 64]) + b"\x00"])
def test_invalid_malformed_encoding(chain, raw):
    assert_rejected(chain, raw, Code.MALFORMED_ENCODING, charged=False)


def test_invalid_malformed_body(chain):
    b = pack([chain.chain_id, bytes(ALICE.verify_key), 0])
    assert_rejected(chain, encode_signed(b, ALICE.sign(b).signature), Code.MALFORMED_ENCODING)


def test_invalid_non_canonical_encoding(chain):
    raw = chain.tx(ALICE, "transfer", addr(BOB), 5)
    body_bytes, sig = msgpack.unpackb(raw)
    # the same bytes in a bin32 header instead of bin8: decodes equal, encodes differently
    noncanon = b"\x92" + b"\xc6" + len(body_bytes).to_bytes(4, "big") + body_bytes + b"\xc4\x40" + sig
    assert msgpack.unpackb(noncanon) == [body_bytes, sig]
    assert_rejected(chain, noncanon, Code.MALFORMED_ENCODING)


def test_invalid_tx_too_large(chain):
    raw = signed(ALICE, body(chain, kind="create_datanet",
                             fields=["n", "x" * (MAX_TX_BYTES), 0, 0, []]))
    assert_rejected(chain, raw, Code.TX_TOO_LARGE)


def test_invalid_wrong_chain_id(chain):
    raw = sign_tx(ALICE, "another-chain", 0, chain.ledger.params.min_fee, "transfer", [addr(BOB), 5])
    assert_rejected(chain, raw, Code.WRONG_CHAIN_ID)


def test_invalid_bad_signature(chain):
    b = pack(body(chain))
    assert_rejected(chain, encode_signed(b, BOB.sign(b).signature), Code.BAD_SIGNATURE)


def test_invalid_signature_over_other_body(chain):
    b = pack(body(chain))
    other = pack(body(chain, fields=[addr(BOB), 6]))
    assert_rejected(chain, encode_signed(b, ALICE.sign(other).signature), Code.BAD_SIGNATURE)


def test_invalid_signature_length(chain):
    b = pack(body(chain))
    assert_rejected(chain, encode_signed(b, ALICE.sign(b).signature[:63]), Code.BAD_SIGNATURE)


def test_invalid_bad_pubkey(chain):
    b = body(chain)
    b[1] = b"\x01" * 31
    assert_rejected(chain, encode_signed(pack(b), b"\x00" * 64), Code.BAD_PUBKEY)


def test_invalid_unknown_kind(chain):
    assert_rejected(chain, signed(ALICE, body(chain, kind="mint", fields=[5])), Code.UNKNOWN_KIND)


def test_invalid_kind_wrong_type(chain):
    assert_rejected(chain, signed(ALICE, body(chain, kind=7)), Code.WRONG_TYPE)


def test_invalid_missing_field(chain):
    assert_rejected(chain, signed(ALICE, body(chain, fields=[addr(BOB)])), Code.MISSING_FIELD)


def test_invalid_extra_field(chain):
    assert_rejected(chain, signed(ALICE, body(chain, fields=[addr(BOB), 5, 6])), Code.EXTRA_FIELD)


def test_invalid_fields_not_array(chain):
    assert_rejected(chain, signed(ALICE, body(chain, fields={"to": 1})), Code.WRONG_TYPE)


@pytest.mark.parametrize("amount", [True, 5.0, "5", None, b"\x05"])
def test_invalid_wrong_type(chain, amount):
    assert_rejected(chain, signed(ALICE, body(chain, fields=[addr(BOB), amount])), Code.WRONG_TYPE)


def test_invalid_nonce_out_of_range(chain):
    assert_rejected(chain, signed(ALICE, body(chain, nonce_=-1)), Code.OUT_OF_RANGE)


def test_invalid_fee_negative(chain):
    assert_rejected(chain, signed(ALICE, body(chain, fee=-1)), Code.OUT_OF_RANGE)


def test_invalid_fee_too_low(chain):
    assert_rejected(chain, chain.tx(ALICE, "transfer", addr(BOB), 5, fee=chain.ledger.params.min_fee - 1),
                    Code.FEE_TOO_LOW)


def test_invalid_stale_nonce(chain):
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 5))
    assert_rejected(chain, chain.tx(ALICE, "transfer", addr(BOB), 5, nonce=0), Code.STALE_NONCE, charged=False)


def test_invalid_replayed_tx(chain):
    raw = chain.tx(ALICE, "transfer", addr(BOB), 5)
    apply_ok(chain, raw)
    assert_rejected(chain, raw, Code.STALE_NONCE, charged=False)


def test_invalid_future_nonce(chain):
    assert_rejected(chain, chain.tx(ALICE, "transfer", addr(BOB), 5, nonce=1), Code.FUTURE_NONCE, charged=False)


def test_tx_decode_check_tx_queues_consecutive_nonces(chain):
    txs = [chain.tx(ALICE, "transfer", addr(BOB), 5) for _ in range(3)]
    assert [chain.ledger.check_tx(t).code for t in txs] == [Code.OK] * 3
    # the same tx twice is refused at admission: its nonce is taken
    assert chain.ledger.check_tx(txs[0]).code == Code.STALE_NONCE
    apply_ok(chain, *txs)
    assert nonce(chain, ALICE) == 3


def test_tx_decode_duplicate_in_block_second_refused(chain):
    raw = chain.tx(ALICE, "transfer", addr(BOB), 5)
    result = chain.apply([raw, raw])
    assert [r.code for r in result.tx_results] == [Code.OK, Code.STALE_NONCE]
    assert nonce(chain, ALICE) == 1


def test_tx_decode_verified_ids_skip_signature(chain):
    """A tx id passed as verified is not re-verified: check_tx did it once."""
    b = pack(body(chain))
    forged = encode_signed(b, BOB.sign(b).signature)
    block = chain.make_block([forged])
    from state.tx import tx_id
    assert chain.ledger.execute_block(block).tx_results[0].code == Code.BAD_SIGNATURE
    assert chain.ledger.execute_block(block, frozenset({tx_id(forged)})).tx_results[0].code == Code.OK
