"""Every decoder a peer's bytes reach (testnet/fuzz_decoders.py) refuses anything with its
own clean error: hypothesis-made bytes and msgpack, plus a short budget of the seeded
structured fuzzer that `attrchain bench fuzz` runs long."""
from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from testnet.fuzz_decoders import DECODERS, fuzz_network_decoders, own_samples, valid_samples

msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.binary(max_size=70)
    | st.text(max_size=70),
    lambda children: st.lists(children, max_size=12) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=40,
)


def refused_cleanly_or_decoded(decoder, data: bytes) -> None:
    try:
        decoder.decode(data)
    except decoder.clean:
        pass


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=600))
def test_any_bytes_give_a_clean_decode_error(decoder, data):
    refused_cleanly_or_decoded(decoder, data)


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
@settings(max_examples=25, deadline=None)
@given(value=msgpack_values)
def test_any_msgpack_value_gives_a_clean_decode_error(decoder, value):
    refused_cleanly_or_decoded(decoder, msgpack.packb(value, use_bin_type=True))


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_a_valid_message_with_one_field_replaced_gives_a_clean_decode_error(decoder, data):
    sample = data.draw(st.sampled_from(own_samples(decoder, valid_samples())))
    fields = msgpack.unpackb(sample, raw=False, strict_map_key=False)
    if isinstance(fields, list) and fields:
        i = data.draw(st.integers(0, len(fields) - 1))
        fields[i] = data.draw(msgpack_values)
    refused_cleanly_or_decoded(decoder, msgpack.packb(fields, use_bin_type=True))


def test_the_seeded_fuzzer_finds_nothing_and_is_deterministic():
    first = fuzz_network_decoders(3000, seed=7)
    assert first == {"inputs": 3000, "unexpected": 0, "examples": []}
    assert fuzz_network_decoders(500, seed=7) == fuzz_network_decoders(500, seed=7)


def test_the_fuzzer_reports_an_unexpected_exception(monkeypatch):
    import testnet.fuzz_decoders as fz
    broken = fz.Decoder("broken", lambda b: b[10**6], (ValueError,))  # IndexError leaks
    monkeypatch.setattr(fz, "DECODERS", (broken,))
    report = fz.fuzz_network_decoders(5, seed=1)
    assert report["unexpected"] == 5 and report["examples"][0]["decoder"] == "broken"
    assert report["examples"][0]["error"].startswith("IndexError")
