"""Step tables: each rule of the paper's Algorithm 1, one by one, on the pure machine."""
from __future__ import annotations

from dataclasses import replace

import pytest

from consensus import state_machine as sm
from consensus.params import TimeoutKind
from consensus.state_machine import RoundState, Step, apply
from consensus.types import VoteType

V, W = b"v" * 32, b"w" * 32
PV, PC = VoteType.PREVOTE, VoteType.PRECOMMIT
never = lambda r: False  # noqa: E731
always = lambda r: True  # noqa: E731


def at(step: Step, round: int = 0, **kw) -> RoundState:
    return RoundState(height=1, round=round, step=step, **kw)


def test_line_10_to_21_start_round_non_proposer_schedules_timeout_propose():
    s, out = apply(RoundState(1), sm.NewRound(0), never)
    assert (s.round, s.step) == (0, Step.PROPOSE)
    assert out == (sm.TimeoutOut(TimeoutKind.PROPOSE, 0),)


def test_line_18_proposer_without_valid_value_asks_for_one():
    s, out = apply(RoundState(1), sm.NewRound(0), always)
    assert out[0] == sm.GetValueOut(0)
    s2, out2 = apply(s, sm.ProposeValue(0, V), always)
    assert out2 == (sm.ProposeOut(0, V, -1),) and s2 is s  # line 19


def test_line_15_proposer_with_valid_value_reproposes_it_with_valid_round():
    s = at(Step.PRECOMMIT, 2, valid_value=V, valid_round=1)
    s2, out = apply(s, sm.Timeout(TimeoutKind.PRECOMMIT, 2), always)  # -> StartRound(3)
    assert s2.round == 3 and out[0] == sm.ProposeOut(3, V, 1)


def test_line_18_value_arriving_late_is_ignored():
    s = at(Step.PREVOTE)
    assert apply(s, sm.ProposeValue(0, V), always) == (s, ())


@pytest.mark.parametrize("locked_round,locked_value,valid,expect", [
    (-1, None, True, V),    # line 23-24: valid, not locked
    (-1, None, False, None),  # line 26: invalid
    (0, W, True, None),     # line 26: locked on another value
    (0, V, True, V),        # line 24: locked on this value
])
def test_line_22_proposal_without_pol(locked_round, locked_value, valid, expect):
    s = at(Step.PROPOSE, 1, locked_round=locked_round, locked_value=locked_value)
    s2, out = apply(s, sm.ProposalInput(1, V, valid), never)
    assert out == (sm.VoteOut(PV, 1, expect),)
    assert s2.step == Step.PREVOTE  # line 27


def test_line_22_only_in_propose_step():
    s = at(Step.PREVOTE)
    assert apply(s, sm.ProposalInput(0, V, True), never) == (s, ())


@pytest.mark.parametrize("locked_round,locked_value,vr,valid,expect", [
    (-1, None, 1, True, V),   # line 29-30
    (1, W, 1, True, V),       # locked_round <= vr: the newer POL unlocks
    (2, W, 1, True, None),    # locked later than the POL on another value: nil (32)
    (2, V, 1, True, V),       # locked on this very value
    (-1, None, 1, False, None),  # invalid value
])
def test_line_28_proposal_with_pol(locked_round, locked_value, vr, valid, expect):
    s = at(Step.PROPOSE, 3, locked_round=locked_round, locked_value=locked_value)
    s2, out = apply(s, sm.ProposalAndPolkaPrevious(3, V, valid, vr), never)
    assert out == (sm.VoteOut(PV, 3, expect),) and s2.step == Step.PREVOTE  # line 33


def test_line_28_requires_vr_below_round():
    s = at(Step.PROPOSE, 1)
    assert apply(s, sm.ProposalAndPolkaPrevious(1, V, True, 1), never) == (s, ())


def test_line_34_polka_any_schedules_timeout_prevote_once():
    s, out = apply(at(Step.PREVOTE, 2), sm.PolkaAny(2), never)
    assert out == (sm.TimeoutOut(TimeoutKind.PREVOTE, 2),)
    assert apply(s, sm.PolkaAny(2), never) == (s, ())  # "for the first time"
    s3 = at(Step.PROPOSE, 2)
    assert apply(s3, sm.PolkaAny(2), never) == (s3, ())  # only while step = prevote


def test_line_36_in_prevote_step_locks_and_precommits():
    s, out = apply(at(Step.PREVOTE, 1), sm.ProposalAndPolkaCurrent(1, V), never)
    assert out == (sm.VoteOut(PC, 1, V),)  # line 40
    assert (s.locked_value, s.locked_round) == (V, 1)  # lines 38-39
    assert (s.valid_value, s.valid_round) == (V, 1)  # lines 42-43
    assert s.step == Step.PRECOMMIT  # line 41
    assert apply(s, sm.ProposalAndPolkaCurrent(1, V), never) == (s, ())  # once


def test_line_36_in_precommit_step_only_updates_valid_value():
    s0 = at(Step.PRECOMMIT, 1, locked_value=W, locked_round=0)
    s, out = apply(s0, sm.ProposalAndPolkaCurrent(1, V), never)
    assert out == ()
    assert (s.valid_value, s.valid_round) == (V, 1)
    assert (s.locked_value, s.locked_round) == (W, 0)  # the lock is untouched


def test_line_36_not_in_propose_step():
    s = at(Step.PROPOSE, 1)
    assert apply(s, sm.ProposalAndPolkaCurrent(1, V), never) == (s, ())


def test_line_44_polka_nil_precommits_nil():
    s, out = apply(at(Step.PREVOTE), sm.PolkaNil(0), never)
    assert out == (sm.VoteOut(PC, 0, None),) and s.step == Step.PRECOMMIT
    s2 = at(Step.PRECOMMIT)
    assert apply(s2, sm.PolkaNil(0), never) == (s2, ())


def test_line_47_precommit_any_schedules_timeout_precommit_once_in_any_step():
    for step in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT):
        s, out = apply(at(step, 4), sm.PrecommitAny(4), never)
        assert out == (sm.TimeoutOut(TimeoutKind.PRECOMMIT, 4),)
        assert apply(s, sm.PrecommitAny(4), never) == (s, ())


def test_line_49_decides_for_any_round_once():
    s, out = apply(at(Step.PREVOTE, 5), sm.ProposalAndPrecommitValue(2, V), never)
    assert out == (sm.DecideOut(2, V),)
    assert (s.decision, s.decision_round, s.step) == (V, 2, Step.COMMIT)
    assert apply(s, sm.ProposalAndPrecommitValue(3, W), never) == (s, ())
    assert apply(s, sm.Timeout(TimeoutKind.PRECOMMIT, 5), never) == (s, ())  # height over


def test_line_55_skip_to_a_higher_round_only():
    s, out = apply(at(Step.PREVOTE, 1), sm.SkipRound(4), never)
    assert (s.round, s.step) == (4, Step.PROPOSE)
    assert out == (sm.TimeoutOut(TimeoutKind.PROPOSE, 4),)
    assert apply(s, sm.SkipRound(4), never) == (s, ())
    assert apply(s, sm.SkipRound(2), never) == (s, ())


def test_start_round_resets_first_time_guards():
    s = at(Step.PRECOMMIT, 1, prevote_timeout_scheduled=True, polka_current_done=True,
           precommit_timeout_scheduled=True)
    s2, _ = apply(s, sm.SkipRound(2), never)
    assert not (s2.prevote_timeout_scheduled or s2.polka_current_done
                or s2.precommit_timeout_scheduled)


def test_line_57_timeout_propose_prevotes_nil():
    s, out = apply(at(Step.PROPOSE, 2), sm.Timeout(TimeoutKind.PROPOSE, 2), never)
    assert out == (sm.VoteOut(PV, 2, None),) and s.step == Step.PREVOTE
    for stale in (at(Step.PROPOSE, 3), at(Step.PREVOTE, 2)):  # line 58 guard
        assert apply(stale, sm.Timeout(TimeoutKind.PROPOSE, 2), never) == (stale, ())


def test_line_61_timeout_prevote_precommits_nil():
    s, out = apply(at(Step.PREVOTE, 2), sm.Timeout(TimeoutKind.PREVOTE, 2), never)
    assert out == (sm.VoteOut(PC, 2, None),) and s.step == Step.PRECOMMIT
    for stale in (at(Step.PREVOTE, 3), at(Step.PRECOMMIT, 2)):  # line 62 guard
        assert apply(stale, sm.Timeout(TimeoutKind.PREVOTE, 2), never) == (stale, ())


def test_line_65_timeout_precommit_starts_next_round_in_any_step():
    for step in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT):
        s, out = apply(at(step, 2, locked_value=V, locked_round=1),
                       sm.Timeout(TimeoutKind.PRECOMMIT, 2), never)
        assert (s.round, s.step) == (3, Step.PROPOSE)
        assert s.locked_value == V  # the lock survives rounds
    stale = at(Step.PRECOMMIT, 3)
    assert apply(stale, sm.Timeout(TimeoutKind.PRECOMMIT, 2), never) == (stale, ())


def test_nothing_happens_before_the_height_starts():
    s = RoundState(1)
    for inp in (sm.ProposalInput(0, V, True), sm.PolkaAny(0), sm.SkipRound(3),
                sm.Timeout(TimeoutKind.PROPOSE, 0)):
        assert apply(s, inp, never) == (s, ())


def test_unknown_input_is_a_type_error():
    with pytest.raises(TypeError):
        apply(at(Step.PROPOSE), sm.ProposeOut(0, V, -1), never)  # type: ignore[arg-type]
