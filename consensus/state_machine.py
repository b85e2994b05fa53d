"""The round state machine of the Tendermint paper (Buchman, Kwon, Milosevic, "The latest
gossip on BFT consensus", arXiv:1807.04938, Algorithm 1), Malachite style:

    apply(state, input, is_proposer) -> (state, outputs)

`state` is immutable; `input` is a fact the driver has established (a proposal from the
round's proposer together with the node's verdict on the value, a quorum the vote keeper
reached, a timeout). Every `upon` rule is one branch below, tagged with its paper line;
its `while` guard on the step is checked here, its quorum condition by the driver. If no
rule applies, the same state object is returned with no outputs.

Values are opaque: the machine only sees value ids. Line 49 moves to the next height in
the paper; here it ends in step COMMIT and the driver waits for StartHeight.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Callable, Union

from consensus.params import TimeoutKind
from consensus.types import VoteType


class Step(IntEnum):
    UNSTARTED = 0
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3
    COMMIT = 4  # decided; waiting for the next height


@dataclass(frozen=True, slots=True)
class RoundState:
    height: int
    round: int = -1
    step: Step = Step.UNSTARTED
    locked_value: bytes | None = None   # lines 6-7
    locked_round: int = -1
    valid_value: bytes | None = None    # lines 8-9
    valid_round: int = -1
    decision: bytes | None = None       # line 5
    decision_round: int = -1
    # "for the first time" guards of lines 34, 36 and 47 (per round; reset by StartRound)
    prevote_timeout_scheduled: bool = False
    polka_current_done: bool = False
    precommit_timeout_scheduled: bool = False


# ---------------------------------------------------------------- inputs
@dataclass(frozen=True, slots=True)
class NewRound:
    """Start round `round` (line 10: start of a height, round 0)."""
    round: int


@dataclass(frozen=True, slots=True)
class ProposeValue:
    """getValue() returned (line 18)."""
    round: int
    value_id: bytes


@dataclass(frozen=True, slots=True)
class ProposalInput:
    """PROPOSAL(h, round_p, v, -1) from the proposer, with valid(v) (line 22)."""
    round: int
    value_id: bytes
    valid: bool


@dataclass(frozen=True, slots=True)
class ProposalAndPolkaPrevious:
    """PROPOSAL(h, round_p, v, vr) AND 2f+1 PREVOTE(h, vr, id(v)), vr < round_p (line 28)."""
    round: int
    value_id: bytes
    valid: bool
    vr: int


@dataclass(frozen=True, slots=True)
class PolkaAny:
    """2f+1 PREVOTE(h, round_p, *) (line 34)."""
    round: int


@dataclass(frozen=True, slots=True)
class ProposalAndPolkaCurrent:
    """PROPOSAL(h, round_p, v, *) AND 2f+1 PREVOTE(h, round_p, id(v)), valid(v) (line 36)."""
    round: int
    value_id: bytes


@dataclass(frozen=True, slots=True)
class PolkaNil:
    """2f+1 PREVOTE(h, round_p, nil) (line 44)."""
    round: int


@dataclass(frozen=True, slots=True)
class PrecommitAny:
    """2f+1 PRECOMMIT(h, round_p, *) (line 47)."""
    round: int


@dataclass(frozen=True, slots=True)
class ProposalAndPrecommitValue:
    """PROPOSAL(h, r, v, *) AND 2f+1 PRECOMMIT(h, r, id(v)), valid(v), any round r (line 49)."""
    round: int
    value_id: bytes


@dataclass(frozen=True, slots=True)
class SkipRound:
    """f+1 messages of round > round_p (line 55)."""
    round: int


@dataclass(frozen=True, slots=True)
class Timeout:
    """OnTimeoutPropose/Prevote/Precommit(h, round) (lines 57, 61, 65)."""
    kind: TimeoutKind
    round: int


RoundInput = Union[NewRound, ProposeValue, ProposalInput, ProposalAndPolkaPrevious, PolkaAny,
                   ProposalAndPolkaCurrent, PolkaNil, PrecommitAny, ProposalAndPrecommitValue,
                   SkipRound, Timeout]


# ---------------------------------------------------------------- outputs
@dataclass(frozen=True, slots=True)
class ProposeOut:
    """broadcast PROPOSAL(h, round, value, pol_round) (line 19)."""
    round: int
    value_id: bytes
    pol_round: int


@dataclass(frozen=True, slots=True)
class GetValueOut:
    """Ask the application for a value to propose (line 18)."""
    round: int


@dataclass(frozen=True, slots=True)
class VoteOut:
    """broadcast PREVOTE / PRECOMMIT (lines 24, 26, 30, 32, 40, 45, 59, 63)."""
    type: VoteType
    round: int
    value_id: bytes | None


@dataclass(frozen=True, slots=True)
class TimeoutOut:
    """schedule OnTimeout*(h, round) (lines 21, 35, 48)."""
    kind: TimeoutKind
    round: int


@dataclass(frozen=True, slots=True)
class DecideOut:
    """decision_p[h_p] = v (line 51)."""
    round: int
    value_id: bytes


RoundOutput = Union[ProposeOut, GetValueOut, VoteOut, TimeoutOut, DecideOut]
Transition = tuple[RoundState, tuple[RoundOutput, ...]]
_NONE: tuple[RoundOutput, ...] = ()


def _start_round(s: RoundState, round: int, is_proposer: bool) -> Transition:
    """Function StartRound(round), lines 11-21."""
    s = replace(s, round=round, step=Step.PROPOSE,  # lines 12-13
                prevote_timeout_scheduled=False, polka_current_done=False,
                precommit_timeout_scheduled=False)
    if is_proposer:  # line 14
        if s.valid_value is not None:  # lines 15-16, 19
            return s, (ProposeOut(round, s.valid_value, s.valid_round),
                       TimeoutOut(TimeoutKind.PROPOSE, round))
        # line 18 (getValue may take time: as CometBFT and Malachite, the proposer also
        # schedules timeoutPropose so a slow value cannot stall the round)
        return s, (GetValueOut(round), TimeoutOut(TimeoutKind.PROPOSE, round))
    return s, (TimeoutOut(TimeoutKind.PROPOSE, round),)  # line 21


def apply(s: RoundState, inp: RoundInput, is_proposer: Callable[[int], bool]) -> Transition:
    """Apply one input; `is_proposer(round)` says whether this node proposes that round."""
    step = s.step
    if step == Step.COMMIT:
        return s, _NONE  # decided: nothing more at this height (line 49 ends the height)
    t = type(inp)

    if t is NewRound:  # line 10 (start of a height); later rounds come via 55 and 65
        if step == Step.UNSTARTED and inp.round >= 0:
            return _start_round(s, inp.round, is_proposer(inp.round))
        return s, _NONE

    if step == Step.UNSTARTED:
        return s, _NONE

    if t is ProposalAndPrecommitValue:  # line 49, any round r
        if s.decision is None:
            return (replace(s, decision=inp.value_id, decision_round=inp.round,  # line 51
                            step=Step.COMMIT),
                    (DecideOut(inp.round, inp.value_id),))
        return s, _NONE

    if t is SkipRound:  # line 55
        if inp.round > s.round:
            return _start_round(s, inp.round, is_proposer(inp.round))  # line 56
        return s, _NONE

    if inp.round != s.round:  # every other rule is about round_p
        return s, _NONE

    if t is ProposeValue:  # line 18 -> 19
        if step == Step.PROPOSE and s.valid_value is None:
            return s, (ProposeOut(s.round, inp.value_id, -1),)
        return s, _NONE

    if t is ProposalInput:  # line 22
        if step == Step.PROPOSE:
            v = inp.value_id
            if inp.valid and (s.locked_round == -1 or s.locked_value == v):  # line 23
                vote = VoteOut(VoteType.PREVOTE, s.round, v)  # line 24
            else:
                vote = VoteOut(VoteType.PREVOTE, s.round, None)  # line 26
            return replace(s, step=Step.PREVOTE), (vote,)  # line 27
        return s, _NONE

    if t is ProposalAndPolkaPrevious:  # line 28
        if step == Step.PROPOSE and 0 <= inp.vr < s.round:
            v = inp.value_id
            if inp.valid and (s.locked_round <= inp.vr or s.locked_value == v):  # line 29
                vote = VoteOut(VoteType.PREVOTE, s.round, v)  # line 30
            else:
                vote = VoteOut(VoteType.PREVOTE, s.round, None)  # line 32
            return replace(s, step=Step.PREVOTE), (vote,)  # line 33
        return s, _NONE

    if t is PolkaAny:  # line 34
        if step == Step.PREVOTE and not s.prevote_timeout_scheduled:
            return (replace(s, prevote_timeout_scheduled=True),
                    (TimeoutOut(TimeoutKind.PREVOTE, s.round),))  # line 35
        return s, _NONE

    if t is ProposalAndPolkaCurrent:  # line 36 (valid(v) checked by the driver)
        if step >= Step.PREVOTE and not s.polka_current_done:
            v = inp.value_id
            if step == Step.PREVOTE:  # line 37
                s = replace(s, locked_value=v, locked_round=s.round,  # lines 38-39
                            step=Step.PRECOMMIT,  # line 41
                            valid_value=v, valid_round=s.round,  # lines 42-43
                            polka_current_done=True)
                return s, (VoteOut(VoteType.PRECOMMIT, s.round, v),)  # line 40
            return (replace(s, valid_value=v, valid_round=s.round,  # lines 42-43
                            polka_current_done=True), _NONE)
        return s, _NONE

    if t is PolkaNil:  # line 44
        if step == Step.PREVOTE:
            return (replace(s, step=Step.PRECOMMIT),  # line 46
                    (VoteOut(VoteType.PRECOMMIT, s.round, None),))  # line 45
        return s, _NONE

    if t is PrecommitAny:  # line 47
        if not s.precommit_timeout_scheduled:
            return (replace(s, precommit_timeout_scheduled=True),
                    (TimeoutOut(TimeoutKind.PRECOMMIT, s.round),))  # line 48
        return s, _NONE

    if t is Timeout:
        if inp.kind == TimeoutKind.PROPOSE:  # line 57
            if step == Step.PROPOSE:  # line 58
                return (replace(s, step=Step.PREVOTE),  # line 60
                        (VoteOut(VoteType.PREVOTE, s.round, None),))  # line 59
        elif inp.kind == TimeoutKind.PREVOTE:  # line 61
            if step == Step.PREVOTE:  # line 62
                return (replace(s, step=Step.PRECOMMIT),  # line 64
                        (VoteOut(VoteType.PRECOMMIT, s.round, None),))  # line 63
        elif inp.kind == TimeoutKind.PRECOMMIT:  # line 65 (height and round checked above)
            return _start_round(s, s.round + 1, is_proposer(s.round + 1))  # line 67
        return s, _NONE

    raise TypeError(f"not a round input: {inp!r}")
