"""round_view: where a driver stands, copied out as figures for readers outside the task."""
from __future__ import annotations

from consensus.driver import Driver
from consensus.messages import StartHeight, VoteReceived
from consensus.round_view import round_view
from consensus.types import VoteType

from tests.consensus.consensus_helpers import CHAIN, keys, signed_vote, valset, value


def test_the_round_its_votes_and_their_power_as_the_driver_saw_them():
    ks = keys(4)
    vs = valset(ks, [10, 20, 30, 40])
    d = Driver(CHAIN)  # an observer: it signs nothing
    assert round_view(d) is None  # no height started yet
    d.apply(StartHeight(1, vs))
    v = value("block-1")
    for k, t, val in [(ks[0], VoteType.PREVOTE, v), (ks[2], VoteType.PREVOTE, None),
                      (ks[1], VoteType.PRECOMMIT, v)]:
        d.apply(VoteReceived(signed_vote(k, t, 1, 0, val)))
    # another round (10 of 100: too little to skip to it): not shown
    d.apply(VoteReceived(signed_vote(ks[0], VoteType.PREVOTE, 1, 1, v)))
    rv = round_view(d)
    assert (rv.height, rv.round, rv.step) == (1, 0, "propose")
    assert rv.proposer == vs.proposer(1, 0).address
    assert (rv.total_power, rv.prevote_power, rv.precommit_power) == (100, 40, 20)
    by_addr = {x.address: x for x in rv.validators}
    assert [x.address for x in rv.validators] == [x.address for x in vs]
    assert by_addr[ks[0].address].prevote.value_id == v and by_addr[ks[2].address].prevote.value_id is None
    assert by_addr[ks[1].address].precommit.value_id == v and by_addr[ks[1].address].prevote is None
    assert by_addr[ks[3].address].prevote is None and by_addr[ks[3].address].voting_power == 40
