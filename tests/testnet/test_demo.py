"""`attrchain demo` runs its story through the real ledger and reports the earnings."""
from __future__ import annotations

from click.testing import CliRunner

from testnet.demo import command, fmt, pct


def test_demo_runs_and_shows_earnings_and_paths():
    result = CliRunner().invoke(command, ["--uses", "2"], terminal_width=200)
    assert result.exit_code == 0, result.output
    out = result.output
    # per agent use at 5 OPEN: fee 0.25, 4.75 arrives, Finn keeps 70 % = 3.325 (x 2 uses)
    assert "6.650000" in out and "use care-nav > triage-7b > notes/Ada" in out
    assert "claim from the pool of notes" in out and "Supply invariant holds" in out


def test_demo_measures_which_notes_the_answer_quoted():
    result = CliRunner().invoke(command, ["--uses", "1"], terminal_width=200)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.replace("│", " ").split())     # the same whatever rich wraps at
    # span-v1 over testnet/demo_data: Ada's and Chidi's passages, none of Bao's
    assert "quoted: Ada 35.7142 %, Chidi 31.4285 %; the unquoted 32.8573 % goes to the pool" in out
    assert "recomputes it (`attrchain poa verify`): match" in out
    # the pool part of one use (0.342 OPEN): static weights vs what the measurement paid
    assert "static weights vs measurement" in out
    assert "notes/Bao 30 % 0.102600 0.033711" in out and "notes/Chidi 10 % 0.034200 0.118722" in out


def test_demo_formats_without_floats():
    assert fmt(1_234_567) == "1.234567" and fmt(-5) == "-0.000005"
    assert pct(125_000) == "12.5" and pct(1_000_000) == "100" and pct(15_000) == "1.5"
