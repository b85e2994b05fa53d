"""Where a driver stands, as plain figures: its height, round and step, and each validator's
prevote and precommit in that round with their power tallies (what CometBFT's
/consensus_state shows). A copy: readers outside the consensus task (the RPC) get these,
never the driver itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from consensus.driver import Driver
from consensus.types import Vote


@dataclass(frozen=True)
class ValidatorVotes:
    address: bytes
    voting_power: int
    prevote: Vote | None     # None: no prevote of it seen in this round
    precommit: Vote | None


@dataclass(frozen=True)
class RoundView:
    height: int
    round: int
    step: str                # the state machine's step, lower case ("propose", ...)
    proposer: bytes          # the address of this round's proposer
    total_power: int
    prevote_power: int       # power of the validators whose prevote was seen (any value or nil)
    precommit_power: int
    validators: tuple[ValidatorVotes, ...]   # in the validator set's order


def round_view(driver: Driver) -> RoundView | None:
    """The driver's current round, or None before its first height started."""
    s, valset = driver.state, driver.valset
    if s is None or valset is None:
        return None
    rnd = max(s.round, 0)
    rv = driver.keeper.rounds.get(rnd) if driver.keeper is not None else None
    prevotes, precommits = rv.votes if rv is not None else ({}, {})
    validators = tuple(ValidatorVotes(v.address, v.voting_power, prevotes.get(v.address),
                                      precommits.get(v.address)) for v in valset)
    return RoundView(
        height=driver.height, round=rnd, step=s.step.name.lower(),
        proposer=valset.proposer(driver.height, rnd).address, total_power=valset.total_power,
        prevote_power=sum(v.voting_power for v in validators if v.prevote is not None),
        precommit_power=sum(v.voting_power for v in validators if v.precommit is not None),
        validators=validators)
