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


def test_demo_formats_without_floats():
    assert fmt(1_234_567) == "1.234567" and fmt(-5) == "-0.000005"
    assert pct(125_000) == "12.5" and pct(1_000_000) == "100" and pct(15_000) == "1.5"
