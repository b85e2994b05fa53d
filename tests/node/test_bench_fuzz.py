"""`attrchain bench fuzz`: a short budget in CI (the long one is run by hand)."""
import json
import sys
import types

from click.testing import CliRunner

import testnet.fuzz_rpc as fuzz_rpc_module
from node.cli import cli
from node.rpc.rpc_params import RpcError


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_a_short_fuzz_budget_over_the_rpc_finds_nothing_unexpected(monkeypatch):
    monkeypatch.setitem(sys.modules, "testnet.fuzz_decoders", None)  # import fails: RPC only
    r = CliRunner().invoke(cli, ["bench", "fuzz", "--inputs", "4000", "--seed", "7"])
    doc = last_json(r.output)
    assert r.exit_code == 0, r.output
    assert doc["inputs"] == 4000 and doc["unexpected"] == 0 and doc["inputs_per_s"] > 0
    assert sum(doc["rpc"]["targets"].values()) == 4000
    assert all(doc["rpc"]["targets"][t] > 0 for t in ("height", "timeout_ms", "hex", "json_body", "app_request"))
    assert "RPC only" in doc["network_decoders"]


def test_the_network_half_runs_when_its_module_exists(monkeypatch):
    seen = []

    def fuzz_network_decoders(n, seed):
        seen.append((n, seed))
        return {"inputs": n, "unexpected": 0, "examples": []}
    monkeypatch.setitem(sys.modules, "testnet.fuzz_decoders",
                        types.SimpleNamespace(fuzz_network_decoders=fuzz_network_decoders))
    r = CliRunner().invoke(cli, ["bench", "fuzz", "--inputs", "1001", "--seed", "3"])
    doc = last_json(r.output)
    assert r.exit_code == 0 and seen == [(500, 3)]
    assert doc["inputs"] == 1001 and doc["rpc"]["inputs"] == 501 and doc["network"]["inputs"] == 500


def test_the_fuzzer_catches_a_parser_that_lets_unicode_digits_through(monkeypatch):
    def isdigit_height(value):  # the parser before issue 9
        if value is None or value == "":
            return None
        if not value.isdigit() or len(value) > 18 or int(value) < 1:
            raise RpcError(400, "bad_param", "height")
        return int(value)
    monkeypatch.setattr(fuzz_rpc_module, "height_param", isdigit_height)
    monkeypatch.setitem(sys.modules, "testnet.fuzz_decoders", None)
    r = CliRunner().invoke(cli, ["bench", "fuzz", "--inputs", "4000", "--seed", "2"])
    doc = last_json(r.output)
    assert r.exit_code == 1 and doc["unexpected"] > 0
    assert doc["rpc"]["examples"][0]["target"] == "height"
