"""Every number a CLI user types goes through one bounded parser (issue 9, item 8): an
out-of-range or non-ASCII number is a one-line click error (exit 1), never a traceback."""
import pytest
from click.testing import CliRunner

from node.cli import cli
from node.cli.tx_commands import field_parser
from node.keys import Keyring, encode_address
from state.tx import KINDS

HUGE = "99999999999999999999"
ADDRESS = encode_address(b"\x01" * 20)
SAMPLE = {"address (open1...)": ADDRESS, "asset or order id, or hash (64 hex)": "ab" * 32, "buy or sell": "buy",
          "ed25519 public key (64 hex)": "cd" * 32, "text": "x", "URI": "ipfs://x",
          "true/false": "true", "comma-separated addresses": ADDRESS,
          "ASSET_ID:WEIGHT_PPM,...": "ab" * 32 + ":1000", "encoded vote (hex)": "ab",
          "CONTRIBUTION_ID:SCORE_PPM,... (empty: none)": "ab" * 32 + ":1000", "scorer name (span-v1)": "span-v1",
          "integer (uopen, ppm or count)": "1"}


def field_args(schema) -> dict[str, str]:
    return {f"--{name.replace('_', '-')}": SAMPLE[field_parser(check)[1]] for name, check in schema.fields}


def integer_fields() -> list[tuple[str, str]]:
    return [(kind, f"--{name.replace('_', '-')}") for kind, schema in sorted(KINDS.items())
            for name, check in schema.fields if field_parser(check)[1].startswith("integer")]


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    d = tmp_path_factory.mktemp("ring")
    Keyring(d).add("alice")
    return d


def run(args: list[str]):
    return CliRunner().invoke(cli, args)


def assert_click_error(r, option: str) -> None:
    assert r.exit_code == 1, (r.exit_code, r.output, r.exception)  # 1: bad input (2: tx refused)
    errors = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and option in errors[0] and "must be a decimal integer in" in errors[0], r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("group", [["tx"], ["light", "tx"]])
@pytest.mark.parametrize("value", [HUGE, "-1", "\u00b2", "1_0", "1e3"])
def test_every_integer_field_of_every_tx_kind_is_bounded(ring, group, value):
    assert len(integer_fields()) >= 5
    for kind, option in integer_fields():
        args = field_args(KINDS[kind]) | {option: value}
        r = run([*group, kind, *[x for kv in args.items() for x in kv], "--from", "alice",
                 "--keyring-dir", str(ring), "--node", "127.0.0.1:1", "--nonce", "0"]
                + (["--chain-id", "c"] if group == ["tx"] else ["--dir", str(ring)]))
        assert_click_error(r, option)


@pytest.mark.parametrize("group", [["tx"], ["light", "tx"]])
@pytest.mark.parametrize("option", ["--fee", "--nonce"])
def test_fee_and_nonce_are_bounded(ring, group, option):
    args = field_args(KINDS["transfer"]) | {"--nonce": "0", option: HUGE}
    r = run([*group, "transfer", *[x for kv in args.items() for x in kv], "--from", "alice",
             "--keyring-dir", str(ring), "--node", "127.0.0.1:1"])
    assert_click_error(r, option)


@pytest.mark.parametrize("args, option", [
    (["query", "account", ADDRESS, "--node", "127.0.0.1:1", "--height", HUGE], "--height"),
    (["query", "block", HUGE, "--node", "127.0.0.1:1"], "HEIGHT"),
    (["query", "commit", "0", "--node", "127.0.0.1:1"], "HEIGHT"),
    (["query", "validators", "\u0663", "--node", "127.0.0.1:1"], "HEIGHT"),
    (["light", "init", "--trusted-height", HUGE, "--trusted-hash", "ab"], "--trusted-height"),
    (["light", "init", "--trusting-period-ms", HUGE], "--trusting-period-ms"),
    (["light", "verify", "--height", HUGE], "--height"),
    (["light", "query", "account", ADDRESS, "--height", HUGE], "--height"),
    (["light", "query", "key", "ab", "--height", "\u00b2"], "--height"),
    (["light", "bench", "--heights", HUGE], "--heights"),
])
def test_heights_and_periods_are_bounded(args, option):
    assert_click_error(run(args), option)


def test_a_source_weight_must_be_ascii_decimal(ring):
    args = field_args(KINDS["register_model"])
    args["--sources"] = "ab" * 32 + ":\u00b2"
    r = run(["tx", "register_model", *[x for kv in args.items() for x in kv], "--from", "alice",
             "--keyring-dir", str(ring), "--node", "127.0.0.1:1", "--nonce", "0", "--chain-id", "c"])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert "--sources" in r.output and "weight" in r.output
