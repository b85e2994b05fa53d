"""`make test` runs `pytest -n 2 --dist loadgroup`: every test of one xdist_group must run
on one worker (the e2e group's testnets and the p2p group's hosts are not to run beside
each other, and a group's module fixtures are set up once)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SUITE = '''
import os, pytest

def record(name):
    with open(os.path.join(os.environ["OUT"], name), "w") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"])

@pytest.mark.xdist_group("g")
@pytest.mark.parametrize("i", range(8))
def test_grouped(i):
    record(f"grouped-{i}")

@pytest.mark.parametrize("i", range(8))
def test_free(i):
    record(f"free-{i}")
'''


def test_a_group_runs_on_one_worker_under_loadgroup(tmp_path):
    suite, out = tmp_path / "suite", tmp_path / "out"
    suite.mkdir(), out.mkdir()
    (suite / "test_suite.py").write_text(SUITE)
    env = dict(os.environ, OUT=str(out), PYTHONPATH=str(TESTS))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "xdist_groups",
         "-n", "2", "--dist", "loadgroup", "--rootdir", str(suite), "-c", os.devnull, str(suite)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    workers = {p.name: p.read_text() for p in out.iterdir()}
    assert len(workers) == 16
    assert len({w for name, w in workers.items() if name.startswith("grouped-")}) == 1, workers
