"""testnet/bench_intake.py runs end to end on a few small batches (figures are the script's
to print, not this test's to judge)."""
from testnet.bench_intake import run


def test_bench_intake_admits_every_tx_by_both_paths_and_reports_each():
    r = run(30, 8, 1)  # raises SystemExit if a path refused or lost a valid tx
    assert (r["txs"], r["batch"], r["rounds"]) == (30, 8, 1)
    assert r["gossip_us_per_tx"] > 0 and r["rpc_us_per_tx"] > 0 and r["verify_us"] > 0
