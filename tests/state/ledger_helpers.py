"""Helpers of the ledger tests (imported as `from ledger_helpers import ...`; the
fixtures that use them are in conftest.py). A uniquely named module, because every test
directory has a conftest.py and `from conftest import` resolves to whichever was
imported first when the whole suite runs in one worker (pytest -n 2).

The `chain` fixture is a DevChain on a fresh LevelDB store with four validators and four funded
accounts (alice, bob, carol, dave). It keeps a full copy of the state and checks the
supply invariant after EVERY committed block of every test that uses it.

`assert_rejected(chain, raw, code)` is the one way tests check a refusal:
1. admission (`check_tx`) refuses with `code`, and the committed height, app hash and
   every state value are unchanged;
2. executed inside a block, the tx gets `code` and the block's state changes equal those
   of the same block without it (so the app hash would be the same), except -- for
   refusals by the kind's own rules -- the fee and nonce the sender paid (see
   docs/ledger.md, "Failed txs"), which are checked exactly.
"""
from __future__ import annotations

from state.accounts import get_account
from state.address import address_from_pubkey
from state.context import Context
from state.devchain import DevChain, seeded_key
from state.errors import Code
from state.params import Params
from state.codec import decode_value
from state.keys import ACCOUNT, FEE_POOL
from state.store import Store
from state.supply import check_supply_invariant
from state.tx import decode_tx, tx_id

START_BALANCE = 1_000_000_000_000      # 1,000,000 OPEN

ALICE = seeded_key("alice")
BOB = seeded_key("bob")
CAROL = seeded_key("carol")
DAVE = seeded_key("dave")
ACCOUNTS = [ALICE, BOB, CAROL, DAVE]


def addr(key) -> bytes:
    return address_from_pubkey(bytes(key.verify_key))


def make_chain(path, **kw) -> DevChain:
    kw.setdefault("accounts", [(k, START_BALANCE) for k in ACCOUNTS])
    chain = DevChain(Store(path), track_state=True, **kw)
    check_supply_invariant(chain.state)
    chain.on_commit.append(lambda result: check_supply_invariant(chain.state))
    return chain


def view(chain: DevChain) -> Context:
    """A read-only-by-convention context over the committed state."""
    return Context(chain.ledger.store.get, chain.ledger._block_info(chain.ledger.height + 1, 0))


def balance(chain: DevChain, who) -> int:
    a = who if isinstance(who, bytes) else addr(who)
    return get_account(view(chain), a)[0]


def nonce(chain: DevChain, who) -> int:
    a = who if isinstance(who, bytes) else addr(who)
    return get_account(view(chain), a)[1]


def apply_ok(chain: DevChain, *txs: bytes, **kw):
    """Apply a block and assert every tx in it succeeded."""
    result = chain.apply(list(txs), **kw)
    for r in result.tx_results:
        assert r.code == Code.OK, (r.code, r.log)
    return result


def assert_rejected(chain: DevChain, raw: bytes, code: Code, *, charged: bool | None = None,
                    signers=None, evidence=()) -> None:
    ledger = chain.ledger
    height, app_hash = ledger.height, ledger.app_hash
    state_before = dict(chain.state)

    # 1. admission
    r = ledger.check_tx(raw)
    assert r.code == code, (r.code, r.log)
    assert r.log, "a refusal names its reason"
    assert (ledger.height, ledger.app_hash) == (height, app_hash)
    assert all(ledger.store.get(k) == v for k, v in state_before.items())

    # 2. inside a block, compared with the same block without it
    with_tx = chain.make_block([raw], signers=signers, evidence=list(evidence))
    without = chain.make_block([], signers=signers, evidence=list(evidence), time_ms=with_tx.header.time_ms)
    res_with = ledger.execute_block(with_tx)
    res_without = ledger.execute_block(without)
    assert res_with.tx_results[0].code == code, (res_with.tx_results[0].code, res_with.tx_results[0].log)
    was_charged = res_with.tx_results[0].charged
    if charged is not None:
        assert was_charged == charged
    changed = {k for k in res_with.changes.keys() | res_without.changes.keys()
               if res_with.changes.get(k, b"?") != res_without.changes.get(k, b"?")}
    if not was_charged:
        assert changed == set(), "an unpaid refused tx changes nothing"
        assert res_with.changes == res_without.changes
    else:
        stx = decode_tx(raw)
        fee, sender = stx.tx.fee, stx.sender
        b_bal, b_nonce = get_account(view(chain), sender)
        ctx_with = Context(lambda k: res_with.changes[k] if k in res_with.changes else ledger.store.get(k),
                           ledger._block_info(height + 1, 0))
        ctx_without = Context(lambda k: res_without.changes[k] if k in res_without.changes else ledger.store.get(k),
                              ledger._block_info(height + 1, 0))
        # only accounts differ: the sender paid the fee and used its nonce, validators got it
        assert all(k.startswith(ACCOUNT) or k == FEE_POOL for k in changed), changed
        pool = lambda res: decode_value(res.changes[FEE_POOL]) if res.changes.get(FEE_POOL) else 0  # noqa: E731
        total_delta = pool(res_with) - pool(res_without)
        for k in changed - {FEE_POOL}:
            a = k[len(ACCOUNT):]
            w, wo = get_account(ctx_with, a), get_account(ctx_without, a)
            if a == sender:
                assert w[1] == wo[1] + 1 == b_nonce + 1
            else:
                assert w[1] == wo[1]
            total_delta += w[0] - wo[0]
        assert total_delta == 0, "the fee moved from the sender to the validators, nothing else"
        paid = get_account(ctx_without, sender)[0] - get_account(ctx_with, sender)[0]
        operators = {v.operator for v in chain.validators}
        if sender in operators:      # it gets its share of its own fee back
            assert 0 <= paid <= fee
        else:
            assert paid == fee
    # the committed state is untouched by execute_block
    assert (ledger.height, ledger.app_hash) == (height, app_hash)
    assert tx_id(raw) == res_with.tx_results[0].tx_id
    chain.sync_nonces()


# Short windows so staking tests run in a few blocks.
SMALL_PARAMS = Params(signed_blocks_window=10, min_signed_ppm=500_000, downtime_jail_blocks=5,
                      unbonding_blocks=8, evidence_max_age_blocks=6, attestation_blocks=2, challenge_blocks=2)


def all_but(chain: DevChain, *indexes: int) -> list[bytes]:
    """Consensus addresses of the previous height's set except the given dev validators."""
    skip = {chain.validators[i].consensus_address for i in indexes}
    return [m.address for m in chain.ledger.validator_set(chain.ledger.height) if m.address not in skip]


def jail_for_downtime(chain: DevChain, index: int, max_blocks: int = 100) -> int:
    """Apply empty blocks whose last commits lack validator `index` until it is jailed;
    returns the height of the block that jailed it."""
    from state.staking import get_validator
    op = chain.validators[index].operator
    for _ in range(max_blocks):
        signers = all_but(chain, index) if chain.ledger.height >= 1 else None
        r = chain.apply([], signers=signers)
        if get_validator(view(chain), op).jailed:
            return r.height
    raise AssertionError("validator was never jailed")


def sign_vote(chain: DevChain, key, height: int, value_id: bytes | None, *, round: int = 0,
              vote_type: int = 1, chain_id: str | None = None) -> bytes:
    from consensus.types import Vote, VoteType
    a = address_from_pubkey(bytes(key.verify_key))
    v = Vote(VoteType(vote_type), height, round, value_id, a)
    sig = key.sign(v.sign_bytes(chain_id or chain.chain_id)).signature
    return Vote(VoteType(vote_type), height, round, value_id, a, sig).encode()


def double_sign(chain: DevChain, index: int, height: int, **kw) -> tuple[bytes, bytes]:
    """Two conflicting prevotes of dev validator `index` at `height`."""
    key = chain.validators[index].consensus_key
    return sign_vote(chain, key, height, b"\x01" * 32, **kw), sign_vote(chain, key, height, b"\x02" * 32, **kw)
