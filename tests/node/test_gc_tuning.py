"""node/runtime/gc_tuning.py: a running node's collector (docs/bench.md "Garbage collection").
Run in a child interpreter: freezing and thresholds are process-wide."""
import subprocess
import sys

CHILD = """
import gc, weakref
from node.runtime.gc_tuning import YOUNG_THRESHOLD, tune_gc
start_up = [[i] for i in range(50_000)]      # what start-up built: frozen, never scanned again
before = gc.get_freeze_count()                # 0 on 3.11; 3.12+ start with some objects frozen
tune_gc()
assert gc.get_freeze_count() >= before + len(start_up), (before, gc.get_freeze_count())
assert gc.get_threshold()[0] == YOUNG_THRESHOLD and gc.isenabled()
class Cycle: pass
a, b = Cycle(), Cycle(); a.b, b.a = b, a      # garbage only the collector can free
gone = weakref.ref(a); del a, b
gc.collect()
assert gone() is None, "a cycle made after tune_gc must still be collected"
print("ok")
"""


def test_tune_gc_freezes_start_up_raises_the_young_threshold_and_still_collects_cycles():
    r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
