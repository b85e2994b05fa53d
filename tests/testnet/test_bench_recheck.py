"""testnet/bench_recheck.py runs end to end on a small mempool (figures are the script's to
print, not this test's to judge)."""
from testnet.bench_recheck import run


def test_bench_recheck_reports_both_costs_and_keeps_every_valid_tx():
    r = run(40, 2)  # raises SystemExit if the recheck dropped a valid tx
    assert r["txs"] == 40
    assert r["admission_us_per_tx"] > 0 and r["recheck_us_per_tx"] > 0
