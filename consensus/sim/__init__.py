"""A deterministic, seeded, discrete-event simulator of the consensus core (no real time)."""
from consensus.sim.runner import Summary, run_seed

__all__ = ["Summary", "run_seed"]
