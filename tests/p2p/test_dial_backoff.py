"""The per-peer dial timeout: doubles on each cut attempt up to the cap, resets on a
connection, stays bounded in memory."""
import pytest

from p2p.dial_backoff import MAX_TRACKED, DialBackoff


def test_timeout_doubles_per_cut_attempt_up_to_the_cap_and_resets_on_connection():
    backoff = DialBackoff(1.0, 10.0)
    seen = []
    for _ in range(6):
        seen.append(backoff.timeout("slow"))
        backoff.timed_out("slow")
    assert seen == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.timeout("fast") == 1.0  # one peer's slowness does not touch another's
    backoff.connected("slow")
    assert backoff.timeout("slow") == 1.0


def test_tracked_peers_are_bounded_and_bad_limits_are_refused():
    backoff = DialBackoff(1.0, 10.0)
    for i in range(MAX_TRACKED + 5):
        backoff.timed_out(f"peer-{i}")
    assert len(backoff._raised) <= MAX_TRACKED
    assert backoff.timeout(f"peer-{MAX_TRACKED + 4}") == 2.0
    for first, cap in ((0.0, 1.0), (2.0, 1.0)):
        with pytest.raises(ValueError, match="max_dial_timeout"):
            DialBackoff(first, cap)
