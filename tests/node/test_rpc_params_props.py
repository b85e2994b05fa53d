"""Property tests (hypothesis) of every RPC parameter parser and of the JSON body reader:
for ANY input each returns a bounded value or refuses with a 4xx RpcError (never another
exception), and accepts exactly what it documents."""
import json
import re

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.keys import encode_address
from node.numbers import MAX_UINT, parse_uint
from node.rpc.rpc_origin import OriginPolicy
from node.rpc.rpc_params import (MAX_HEIGHT, MAX_JSON_DEPTH, MAX_KEY_BYTES, MAX_TIMEOUT_MS, RpcError, address_param,
                             height_param, hex_param, json_depth, key_param, parse_json, read_body, timeout_param,
                             tx_from_doc, txs_from_doc)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
digits_or_not = st.one_of(st.text(), st.text(alphabet="0123456789", max_size=25),
                          st.text(alphabet="0123456789\u00b2\u0663\uff11_-+ \n", max_size=25))


def outcome(call):
    try:
        return call()
    except RpcError as e:
        assert 400 <= e.status < 500 and e.code and e.reason
        return e


def is_ascii_decimal(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 19


@SETTINGS
@given(digits_or_not)
def test_parse_uint_accepts_exactly_ascii_decimals_in_range(text):
    try:
        v = parse_uint(text, "n")
    except ValueError as e:
        assert "n must be a decimal integer" in str(e)
        assert not is_ascii_decimal(text) or int(text) > MAX_UINT
    else:
        assert is_ascii_decimal(text) and v == int(text) and 0 <= v <= MAX_UINT


@SETTINGS
@given(st.one_of(st.none(), digits_or_not))
def test_height_param(value):
    got = outcome(lambda: height_param(value))
    if isinstance(got, RpcError):
        assert got.code == "bad_param" and "height" in got.reason
        assert not (is_ascii_decimal(value) and 1 <= int(value) <= MAX_HEIGHT)
    elif got is None:
        assert value in (None, "")
    else:
        assert is_ascii_decimal(value) and got == int(value) and 1 <= got <= MAX_HEIGHT


@SETTINGS
@given(st.integers(1, MAX_HEIGHT))
def test_every_valid_height_round_trips(h):
    assert height_param(str(h)) == h


@SETTINGS
@given(st.one_of(st.none(), digits_or_not))
def test_timeout_param(value):
    got = outcome(lambda: timeout_param(value, 2500))
    if isinstance(got, RpcError):
        assert got.code == "bad_param" and "timeout_ms" in got.reason
        assert not (is_ascii_decimal(value) and 1 <= int(value) <= MAX_TIMEOUT_MS)
    elif value is None:
        assert got == 2.5
    else:
        assert got == int(value) / 1000 and 0 < got <= MAX_TIMEOUT_MS / 1000


@SETTINGS
@given(st.one_of(st.none(), st.text(), st.text(alphabet="0123456789abcdefABCDEFx \u0663", max_size=70)),
       st.sampled_from([None, 32]))
def test_hex_param(value, length):
    got = outcome(lambda: hex_param("hash", value, length))
    if isinstance(got, RpcError):
        assert got.code == ("missing_param" if value is None else "bad_param") and "'hash'" in got.reason
    else:
        assert got.hex() == value.removeprefix("0x").lower() and (length is None or len(got) == length)


@SETTINGS
@given(st.text(alphabet="0123456789abcdefABCDEFgxX \t\n\u0663\uff11", max_size=12))
def test_hex_param_accepts_exactly_0x_then_pairs_of_ascii_hex_digits(value):
    """No whitespace between pairs (bytes.fromhex would skip it), no other digits."""
    strict = re.fullmatch(r"(?:0x)?(?:[0-9a-fA-F]{2})*", value) is not None
    assert not isinstance(outcome(lambda: hex_param("tx", value)), RpcError) == strict


@SETTINGS
@given(st.binary())
def test_hex_param_round_trips_any_bytes(raw):
    assert hex_param("tx", raw.hex()) == raw == hex_param("tx", "0x" + raw.hex().upper().replace("X", "x"))


@SETTINGS
@given(st.one_of(st.text(), st.text(alphabet="0123456789abcdefghjklmnpqrstuvwxyz", max_size=60).map("open1".__add__)))
def test_address_param_gives_20_bytes_or_bad_address(text):
    got = outcome(lambda: address_param(text))
    assert (isinstance(got, RpcError) and got.code == "bad_address") or len(got) == 20


@SETTINGS
@given(st.binary(min_size=20, max_size=20))
def test_every_address_round_trips(raw):
    assert address_param(encode_address(raw)) == raw == address_param(raw.hex())


@SETTINGS
@given(st.one_of(st.text(), st.binary(max_size=300).map(bytes.hex)))
def test_key_param_is_1_to_256_bytes(text):
    got = outcome(lambda: key_param(text))
    if isinstance(got, RpcError):
        assert got.code == "bad_param"
    else:
        assert 1 <= len(got) <= MAX_KEY_BYTES and got.hex() == text.lower()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=30)


def depth(v) -> int:
    if isinstance(v, list):
        return 1 + max(map(depth, v), default=0)
    if isinstance(v, dict):
        return 1 + max(map(depth, v.values()), default=0)
    return 0


@SETTINGS
@given(json_values)
def test_json_depth_is_the_nesting_and_shallow_documents_parse(v):
    text = json.dumps(v)
    assert json_depth(text) == depth(v)
    if depth(v) <= MAX_JSON_DEPTH:
        assert parse_json(text.encode()) == v


@SETTINGS
@given(st.integers(MAX_JSON_DEPTH + 1, 5000), st.sampled_from("[{"))
def test_deeper_documents_are_refused_before_parsing(n, opener):
    text = ("[" * n + "]" * n) if opener == "[" else ('{"a":' * n + "1" + "}" * n)
    e = outcome(lambda: parse_json(text.encode()))
    assert isinstance(e, RpcError) and e.code == "bad_json" and str(MAX_JSON_DEPTH) in e.reason


@SETTINGS
@given(st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_body_parses_to_a_shape_or_a_4xx(raw):
    doc = outcome(lambda: parse_json(raw))
    if isinstance(doc, RpcError):
        assert doc.code == "bad_json"
        return
    tx = outcome(lambda: tx_from_doc(doc))
    assert isinstance(tx, (bytes, RpcError))
    txs = outcome(lambda: txs_from_doc(doc, 3))
    assert isinstance(txs, RpcError) or (isinstance(txs, list) and len(txs) <= 3)


@SETTINGS
@given(st.lists(st.binary(max_size=8).map(bytes.hex), max_size=8), st.integers(0, 8))
def test_txs_from_doc_caps_the_count_before_decoding(txs, cap):
    got = outcome(lambda: txs_from_doc({"txs": txs}, cap))
    if len(txs) > cap:
        assert got.code == "too_many_txs" and str(cap) in got.reason
    else:
        assert got == [bytes.fromhex(t) for t in txs]
    # over the cap, the entries are not even looked at
    assert outcome(lambda: txs_from_doc({"txs": ["zz"] * (cap + 1)}, cap)).code == "too_many_txs"


@SETTINGS
@given(st.lists(st.binary(max_size=64), max_size=6), st.one_of(st.none(), digits_or_not), st.integers(0, 200))
def test_read_body_returns_the_body_or_refuses_it(chunks, declared, max_bytes):
    async def stream():
        for c in chunks:
            yield c

    async def main():
        return await read_body(stream(), declared, max_bytes, 5.0)
    got = outcome(lambda: trio.run(main))
    body = b"".join(chunks)
    if isinstance(got, RpcError):
        assert got.code in ("bad_header", "body_too_large")
        assert got.code == "bad_header" or len(body) > max_bytes or int(declared) > max_bytes
    else:
        assert got == body and len(body) <= max_bytes


@SETTINGS
@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
def test_origin_policy_answers_any_headers(origin, host):
    for policy in (OriginPolicy(), OriginPolicy(["https://wallet.example"]), OriginPolicy(["*"])):
        why = policy.refusal(origin, host)
        assert why is None or isinstance(why, str)
    assert OriginPolicy(["*"]).refusal(origin, host) is None
    if origin is not None and origin.rstrip("/").lower() != "https://wallet.example":
        assert OriginPolicy(["https://wallet.example"]).refusal(origin, host) is not None
