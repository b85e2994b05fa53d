"""End to end: a validator behind a sentry, as CometBFT operators run one. Validator 3 has
peer exchange off and its sentry (the testnet's full node) as its only peer; the sentry
lists it in `private_peer_ids`. Blocks it proposes are committed, commits carry its precommits, a tx sent to it commits, and no PEX answer names it."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import trio

from e2e_harness import Net, wait_until
from node.config import load_config, save_config
from p2p.config import P2PConfig
from p2p.ids import PEX, ChainTopics
from p2p.libp2p_transport import open_libp2p_transport
from p2p.pex import decode_answer

pytestmark = [pytest.mark.xdist_group("e2e"), pytest.mark.slow, pytest.mark.timeout(200)]


def set_p2p(node, **values) -> None:
    path = Path(node.home) / "config" / "config.toml"
    cfg = load_config(path)
    for key, value in values.items():
        setattr(cfg.p2p, key, value)
    save_config(path, cfg)


def pex_answer(chain_id: str, target) -> list[str]:
    """The peer ids a stranger gets when it asks `target` for peers."""
    async def ask() -> list[str]:
        cfg = P2PConfig(chain_id=chain_id, identity_seed=os.urandom(32))
        async with open_libp2p_transport(cfg) as t:
            await t.connect(target.multiaddr, timeout=5)
            answer = await t.request(target.peer_id, ChainTopics(chain_id).protocol(PEX), b"")
            return [peer for peer, _ in decode_answer(answer)]
    return trio.run(ask)


def test_a_validator_behind_a_sentry_proposes_committed_blocks_and_is_never_given_out():
    d = Path(tempfile.mkdtemp(prefix="attrchain-e2e-sentry-"))
    net = Net(d, n_validators=4, n_full=1)
    try:
        v, sentry = net.validators, net.full[0]
        hidden = v[3]
        set_p2p(hidden, pex=False, persistent_peers=[sentry.multiaddr])
        set_p2p(sentry, pex=True, persistent_peers=[v[0].multiaddr, hidden.multiaddr],
                private_peer_ids=[hidden.peer_id])
        for i in range(3):  # the public validators no longer list validator 3
            set_p2p(v[i], persistent_peers=[o.multiaddr for o in v[:3] if o is not v[i]])
        for node in [*v, sentry]:
            net.start(node)
        net.wait_height([*v, sentry], 3, timeout=60)
        # validator 3 is in consensus: blocks it proposed (through its sentry) are committed,
        # and its precommits, one hop later than the others', are in commits (a late
        # precommit for the height just committed is relayed and counted, node/runtime/admission.py)
        hidden_addr = net.status(hidden)["validator_address"]

        def proposed_by_hidden() -> bool:
            return any(net.clients[v[0].name].get("/block", height=h)["header"]["proposer"] == hidden_addr
                       for h in range(1, net.height(v[0]) + 1))
        wait_until(proposed_by_hidden, 60, "a committed block proposed by the hidden validator")
        wait_until(lambda: hidden_addr in net.signers_of(v[0], net.height(v[0])), 30,
                   "the hidden validator's precommit in a commit")
        assert net.status(hidden)["peers"] == 1
        # a tx submitted to the hidden validator's RPC leaves through the sentry and commits
        res = net.transfer(hidden, "alice", "bob", 3, wait=True)
        assert res["committed"], res
        top = max(net.height(n) for n in v)
        net.wait_height([hidden], top + 1, timeout=30)  # it keeps up
        chain_id = net.info.chain_id
        for target in (sentry, v[0]):
            answer = pex_answer(chain_id, target)
            assert hidden.peer_id not in answer, (target.name, answer)
        assert v[0].peer_id in pex_answer(chain_id, sentry)  # answers are not simply empty
    finally:
        net.stop_all()
        shutil.rmtree(d, ignore_errors=True)
