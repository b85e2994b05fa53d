"""`attrchain testnet bench`: the per-n command line (the testnets themselves are run by hand:
docs/bench.md)."""
import json

import pytest
from click.testing import CliRunner

import testnet.bench_testnet as bench
from node.cli import cli


def fake_run(calls):
    def run_bench(n, duration, step, start_rate, max_rate, timeout_commit_ms, directory, keep, **kw):
        calls.append((n, kw["rate"], timeout_commit_ms))
        return {"validators": n, "offered_tx_per_s": kw["rate"] or 900, "tx_per_s": 100.0 * n, "p50_s": 0.5,
                "p99_s": 1.25, "block_interval_s": 0.6, "cpu_us_per_tx_per_node": 200 + n, "peak_rss_mb": 150,
                "kept_up": n < 10,
                "nodes": [{"node": f"node{i}", "cpu_pct": 40.0 + i, "wait_pct": 10.0 + i} for i in range(n)]}
    return run_bench


def test_validators_runs_one_testnet_per_size_and_ends_with_the_runs_json(monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "run_bench", fake_run(calls))
    r = CliRunner().invoke(cli, ["testnet", "bench", "--validators", "4,7,10", "--rate", "500"])
    assert r.exit_code == 0, r.output
    assert calls == [(4, 500, 300), (7, 500, 300), (10, 500, 300)]
    lines = r.output.strip().splitlines()
    runs = json.loads(lines[-1])["runs"]
    assert [(x["validators"], x["cpu_us_per_tx_per_node"]) for x in runs] == [(4, 204), (7, 207), (10, 210)]
    table = lines[-5:-1]
    assert table[0].split()[:3] == ["validators", "offered", "tx/s"]
    assert table[1].split()[3] == "yes"
    assert table[3].split() == ["10", "500", "1000", "no", "0.50", "1.25", "0.6", "210", "40-49", "10-19", "150"]


def test_without_rate_each_size_searches(monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "run_bench", fake_run(calls))
    r = CliRunner().invoke(cli, ["testnet", "bench", "-n", "7"])
    assert r.exit_code == 0, r.output
    assert calls == [(7, None, 300)]


def test_idle_measures_idle_testnets_with_one_second_blocks(monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "run_idle", lambda n, s, tc, d, k: calls.append((n, s, tc)) or {"validators": n})
    r = CliRunner().invoke(cli, ["testnet", "bench", "--idle", "--duration", "20"])
    assert r.exit_code == 0, r.output
    assert calls == [(4, 20, 1000)]
    assert json.loads(r.output.strip().splitlines()[-1]) == {"runs": [{"validators": 4}]}


@pytest.mark.parametrize("arg", ["4,x", "0,4", "4,17", ","])
def test_a_bad_size_list_is_refused_before_any_testnet_starts(monkeypatch, arg):
    monkeypatch.setattr(bench, "run_bench", lambda *a, **k: pytest.fail("started"))
    r = CliRunner().invoke(cli, ["testnet", "bench", "--validators", arg])
    assert r.exit_code == 2 and f"{arg!r}" in r.output


def test_n_and_validators_together_are_refused():
    r = CliRunner().invoke(cli, ["testnet", "bench", "-n", "4", "--validators", "4,7"])
    assert r.exit_code == 2 and "not both" in r.output


@pytest.mark.parametrize("n", range(1, 17))
def test_each_curator_signs_through_exactly_one_node(n):
    owners = [k for c in range(bench.N_CURATORS) for k in range(n) if c in bench.curators_of(k, n)]
    assert len(owners) == bench.N_CURATORS  # every curator once: no two submitters race for its nonces
    assert all(bench.curators_of(k, n) for k in range(n))


def stub_testnet(monkeypatch, phase, **more):
    """run_bench without processes: `phase` stands for run_phase, `more` for other helpers."""
    class Info:
        nodes = [type("Node", (), {"name": "node0", "rpc": "127.0.0.1:1"})()]

    from contextlib import contextmanager

    @contextmanager
    def testnet(*a, **k):
        yield "/tmp/x", Info()
    monkeypatch.setattr(bench, "running_testnet", testnet)
    monkeypatch.setattr(bench, "read_pid", lambda node: 1)
    monkeypatch.setattr(bench, "proc_clocks", lambda info: {})
    for name, value in {"run_phase": phase, "plan_phase": lambda *a: [],
                        "wait_for": lambda *a, **k: None, "setup_world": lambda *a: None,
                        "verifies_per_s": lambda: 1000.0, "_drain": lambda *a: None,
                        "summarize_nodes": lambda *a: [], "node_counters": lambda info: {}}.items():
        monkeypatch.setattr(bench, name, value)
    monkeypatch.setattr(bench.threading, "Thread", lambda *a, **k: type("T", (), {"start": lambda s: None,
                                                                               "join": lambda s, timeout=None: None})())
    for name, value in more.items():
        monkeypatch.setattr(bench, name, value)


def test_a_search_sustains_90_percent_of_the_best_step_not_the_last(monkeypatch):
    """The search's loop variable once shadowed --rate: the sustained phase ran at the
    rate of the step that FELL BEHIND."""
    steps = iter([(1000, True, 1000.0), (1250, False, 900.0)])
    sustained = []

    def phase(info, world, tracker, planned, rate, seconds, grace=3.0):
        if seconds == 5:
            r, ok, got = next(steps)
            assert r == rate
            return bench.PhaseResult(rate, seconds, 10, 10, 10, 0.5, 1.0, got, ok)
        sustained.append(rate)
        return bench.PhaseResult(rate, seconds, 10, 10, 10, 0.5, 1.0, rate, True)

    stub_testnet(monkeypatch, phase)
    result = bench.run_bench(4, 60, 5, 1000, 2000, 300, None, False, echo=lambda *a: None)
    assert sustained == [900] and result["offered_tx_per_s"] == 900


def test_each_node_reports_its_cpu_and_its_wait_for_a_cpu_over_the_window(monkeypatch):
    """Wait = runnable but not running (schedstat): a node starved by a loaded machine
    shows it; one waiting on the network does not."""
    class Info:
        nodes = [type("Node", (), {"name": f"node{i}"})() for i in range(2)]
    monkeypatch.setattr(bench, "proc_clocks", lambda info: {"node0": (12.0, 30.0), "node1": (7.0, 2.0)})
    monkeypatch.setattr(bench, "read_pid", lambda node: 1)
    monkeypatch.setattr(bench, "is_running", lambda node: True)
    monkeypatch.setattr(bench, "proc_peak_rss_mb", lambda pid: 100.0)
    nodes = bench.summarize_nodes(Info(), {"node0": (2.0, 10.0), "node1": (2.0, 1.0)}, 40.0)
    assert [(nd["cpu_pct"], nd["wait_pct"]) for nd in nodes] == [(25.0, 50.0), (12.5, 2.5)]



def test_the_sustained_phase_is_signed_before_the_cpu_window_opens(monkeypatch):
    """The load generator's CPU per tx is the load's (posting, polling, the reviews), not
    the signing of the whole phase; the nodes' window holds no signing pause either."""
    events = []

    def phase(info, world, tracker, planned, rate, seconds, grace=3.0):
        events.append("post")
        tracker.blocks.append((2, 0.0, 0, 1000))  # 1,000 txs committed in the window
        return bench.PhaseResult(rate, seconds, 10, 10, 10, 0.5, 1.0, rate, True)
    cpu = iter([1.0, 1.25])
    stub_testnet(monkeypatch, phase, plan_phase=lambda *a: events.append("sign") or [],
                 proc_clocks=lambda info: events.append("clocks") or {},
                 self_cpu_s=lambda: events.append("cpu") or next(cpu))
    result = bench.run_bench(4, 30, 5, 1000, 2000, 300, None, False, echo=lambda *a: None, rate=1000)
    assert events[:4] == ["sign", "clocks", "cpu", "post"]
    assert result["loadgen_cpu_us_per_tx"] == 250  # 0.25 s over 1,000 txs
