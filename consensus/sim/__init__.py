"""A deterministic, seeded, discrete-event simulator of the consensus core (no real time)."""
