"""`attrchain demo` runs its story through the real ledger and reports the earnings."""
from __future__ import annotations

from click.testing import CliRunner

from testnet.demo import command, fmt, pct


def test_demo_runs_and_shows_earnings_and_paths():
    result = CliRunner(env={"COLUMNS": "200"}).invoke(command, ["--uses", "2"], terminal_width=200)
    assert result.exit_code == 0, result.output
    out = result.output
    # per agent use at 5 OPEN: fee 0.25, 4.75 arrives, Finn keeps 70 % = 3.325 (x 2 uses), accrued
    assert "6.650000" in out and "use care-nav > triage-7b > notes/Ada" in out
    assert "claim from the pool of notes" in out and "Supply invariant holds" in out
    # Vic's first use (1.045 OPEN kept by the model) came before the sale: Eve's, paid at the
    # fill; after it, 2 agent uses x 0.78375 + 1.045 = 2.6125 OPEN split 75 / 25 (accrued)
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:6]]
            for line in out.splitlines() if "triage-7b" in line and line.count("│") > 5}
    assert rows["Eve"] == ["triage-7b", "750,000", "1.045000", "1.959375"]
    assert rows["Gus"] == ["triage-7b", "250,000", "0.000000", "0.653125"]
    assert "book of triage-7b, asks: 250,000 shares at 8 uopen" in out


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
