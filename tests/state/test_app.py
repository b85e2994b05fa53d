"""The Ledger shell: genesis, restart, queries with proofs, execute-then-commit, records,
the failed-tx rule, and a crash between execution and the batch write."""
from __future__ import annotations

import pytest

from ledger_helpers import ALICE, BOB, START_BALANCE, addr, apply_ok, balance, make_chain, nonce
from state.app import Ledger
from state.codec import decode_value
from state.devchain import DevChain
from state.errors import BlockError, Code
from state.genesis import Genesis
from state.keys import account_key, tx_record_key
from state.proof import verify_proof
from state.store import Store


def test_app_genesis_json_round_trip(tmp_path, chain):
    path = tmp_path / "genesis.json"
    chain.genesis.save(path)
    assert Genesis.load(path) == chain.genesis


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(chain_id=""),
    lambda d: d["validators"].clear(),
    lambda d: d["validators"][0].update(stake=999_999),
    lambda d: d["balances"].append(dict(d["balances"][0])),
    lambda d: d["params"].update(min_signed_ppm=1_000_001),
    lambda d: d["params"].update(evidence_max_age_blocks=10**9),
    lambda d: d["params"].update(bogus=1),
    lambda d: d["balances"][0].update(address=d["balances"][0]["address"][:-1] + "x"),
])
def test_invalid_genesis(chain, mutate):
    d = chain.genesis.to_json()
    mutate(d)
    with pytest.raises((ValueError, Exception)):
        Genesis.from_json(d)


def test_app_restart_keeps_state_and_continues(tmp_path):
    chain = make_chain(tmp_path / "db")
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 5))
    apply_ok(chain)
    h, app_hash = chain.ledger.height, chain.ledger.app_hash
    vs = [chain.ledger.validator_set(x) for x in (h, h + 1, h + 2)]
    chain.ledger.store.close()
    again = DevChain(Store(tmp_path / "db"), accounts=[(k, START_BALANCE) for k in (ALICE, BOB)])
    assert (again.ledger.height, again.ledger.app_hash) == (h, app_hash)
    assert [again.ledger.validator_set(x) for x in (h, h + 1, h + 2)] == vs
    r = again.apply([again.tx(ALICE, "transfer", addr(BOB), 5)])
    assert r.tx_results[0].ok and nonce(again, ALICE) == 2
    again.ledger.store.close()


def test_invalid_genesis_of_other_chain(tmp_path):
    chain = make_chain(tmp_path / "db")
    chain.ledger.store.close()
    other = Genesis.from_json({**chain.genesis.to_json(), "chain_id": "other"})
    with pytest.raises(ValueError, match="other"):
        Ledger(Store(tmp_path / "db"), other)


def test_app_query_proves_presence_and_absence(chain):
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 5))
    value, proof = chain.ledger.query(account_key(addr(ALICE)))
    assert decode_value(value) == [balance(chain, ALICE), 1]
    assert verify_proof(chain.ledger.app_hash, account_key(addr(ALICE)), value, proof)
    assert not verify_proof(chain.ledger.app_hash, account_key(addr(ALICE)), value + b"\x00", proof)
    missing = account_key(b"\x99" * 20)
    v2, p2 = chain.ledger.query(missing)
    assert v2 is None and verify_proof(chain.ledger.app_hash, missing, None, p2)


def test_app_query_at_past_height(chain):
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 5))
    h = chain.ledger.height
    old_hash = chain.ledger.app_hash
    apply_ok(chain, chain.tx(ALICE, "transfer", addr(BOB), 5))
    value, proof = chain.ledger.query(account_key(addr(BOB)), h)
    assert decode_value(value)[0] == START_BALANCE + 5
    assert verify_proof(old_hash, account_key(addr(BOB)), value, proof)


def test_app_execute_block_writes_nothing_and_is_repeatable(chain):
    apply_ok(chain)
    block = chain.make_block([chain.tx(ALICE, "transfer", addr(BOB), 5)])
    h, app_hash = chain.ledger.height, chain.ledger.app_hash
    r1 = chain.ledger.execute_block(block)
    r2 = chain.ledger.execute_block(block)
    assert r1.changes == r2.changes and r1.records == r2.records
    assert (chain.ledger.height, chain.ledger.app_hash) == (h, app_hash)
    assert chain.ledger.store.get(account_key(addr(BOB))) == chain.state[account_key(addr(BOB))]
    chain.commit(r1)
    assert chain.ledger.height == h + 1 and chain.ledger.app_hash == r1.app_hash != app_hash


def test_invalid_commit_wrong_height(chain):
    block = chain.make_block([])
    r = chain.ledger.execute_block(block)
    chain.commit(r)
    with pytest.raises(BlockError):
        chain.ledger.commit(r)


def test_app_crash_during_commit_keeps_previous_state(tmp_path):
    chain = make_chain(tmp_path / "db")
    apply_ok(chain)
    h, app_hash = chain.ledger.height, chain.ledger.app_hash
    result = chain.ledger.execute_block(chain.make_block([chain.tx(ALICE, "transfer", addr(BOB), 5)]))

    def crash(batch):
        raise OSError("power cut before the batch reached the disk")
    chain.ledger.store._write = crash
    with pytest.raises(OSError):
        chain.ledger.commit(result)
    chain.ledger.store.close()
    reopened = Ledger(Store(tmp_path / "db"))
    assert (reopened.height, reopened.app_hash) == (h, app_hash)
    assert decode_value(reopened.store.get(account_key(addr(BOB))))[0] == START_BALANCE
    # the same block applies cleanly after the restart
    reopened.commit(reopened.execute_block(result.block))
    assert reopened.height == h + 1
    reopened.store.close()


def test_app_tx_records_index_results(chain):
    ok = chain.tx(ALICE, "transfer", addr(BOB), 5)
    failed = chain.tx(ALICE, "unstake", 5)
    r = chain.apply([ok, failed])
    h = r.height
    assert decode_value(chain.ledger.store.get_record(r.tx_results[0].tx_id and tx_record_key(r.tx_results[0].tx_id))) \
        == [h, 0, 0, ""]
    rec = decode_value(chain.ledger.store.get_record(tx_record_key(r.tx_results[1].tx_id)))
    assert rec[:3] == [h, 1, int(Code.NOT_A_VALIDATOR)] and "validator" in rec[3]


def test_app_getters_read_the_committed_account_block_and_tx_records(chain):
    ok = chain.tx(ALICE, "transfer", addr(BOB), 5)
    r = chain.apply([ok])
    ledger = chain.ledger
    assert ledger.account(addr(ALICE)) == (balance(chain, ALICE), nonce(chain, ALICE)) and nonce(chain, ALICE) == 1
    assert ledger.account(b"\x01" * 20) == (0, 0)
    assert ledger.tx_record(r.tx_results[0].tx_id) == (r.height, 0, 0, "")
    assert ledger.tx_record(b"\x00" * 32) is None
    assert ledger.block_record(r.height) == r.block.encode() and ledger.block_record(r.height + 1) is None

def test_app_failed_tx_in_block_pays_fee_and_uses_nonce(chain):
    """The documented rule: a tx refused by its kind's rules inside a block pays its fee and
    consumes its nonce; its other effects are discarded."""
    fee = chain.ledger.params.min_fee
    r = chain.apply([chain.tx(ALICE, "transfer", addr(BOB), START_BALANCE)])
    assert r.tx_results[0].code == Code.INSUFFICIENT_FUNDS and r.tx_results[0].charged
    assert balance(chain, ALICE) == START_BALANCE - fee and nonce(chain, ALICE) == 1
    assert balance(chain, BOB) == START_BALANCE


def test_app_ante_failure_in_block_changes_nothing(chain):
    r = chain.apply([chain.tx(ALICE, "transfer", addr(BOB), 1, nonce=7)])
    assert r.tx_results[0].code == Code.FUTURE_NONCE and not r.tx_results[0].charged
    assert balance(chain, ALICE) == START_BALANCE and nonce(chain, ALICE) == 0


def test_app_check_tx_state_resets_on_commit(chain):
    raw = chain.tx(ALICE, "transfer", addr(BOB), 5)
    assert chain.ledger.check_tx(raw).ok
    assert chain.ledger.check_tx(chain.tx(ALICE, "transfer", addr(BOB), 5, nonce=0)).code == Code.STALE_NONCE
    apply_ok(chain)                      # an empty block: the admitted tx was not included
    assert chain.ledger.check_tx(raw).ok  # recheck after commit: admissible again
    assert chain.ledger.store.get(account_key(addr(ALICE))) == chain.state[account_key(addr(ALICE))]
    assert nonce(chain, ALICE) == 0


def test_app_context_child_scopes_merge_or_vanish(chain):
    from ledger_helpers import view
    root = view(chain)
    key = b"test/x"
    ok, failed = root.child(), root.child()
    ok.put(key, b"1")
    ok.collect_fee(5)
    ok.emit("e")
    failed.put(key, b"2")
    failed.collect_fee(7)
    inner = ok.child()
    inner.put(b"test/y", b"3")
    assert inner.get(key) == b"1" and root.get(key) is None
    inner.merge()
    ok.merge()                    # `failed` is simply dropped
    assert root.get(key) == b"1" and root.get(b"test/y") == b"3"
    assert root.fees == 5 and root.events == [("e",)]
    root.delete(key)
    assert root.get(key) is None and root.changes()[key] is None


def test_app_check_tx_with_decoded_and_reset(chain):
    from state.tx import decode_tx
    raw = chain.tx(ALICE, "transfer", addr(BOB), 5)
    assert chain.ledger.check_tx(raw, decoded=decode_tx(raw)).ok
    assert chain.ledger.check_tx(raw).code == Code.STALE_NONCE      # admitted: nonce taken
    chain.ledger.reset_check_state()                                  # e.g. evicted from the mempool
    assert chain.ledger.check_tx(raw).ok


def test_app_check_tx_refuses_a_failing_kind_whole_where_a_block_charges_its_fee(chain):
    """One pipeline, two outcomes: a tx whose kind fails (a transfer beyond the balance)
    pays its fee and takes its nonce in a block, but at admission it changes nothing."""
    too_much = chain.tx(ALICE, "transfer", addr(BOB), START_BALANCE * 2, nonce=0)
    r = chain.ledger.check_tx(too_much)
    assert r.code == Code.INSUFFICIENT_FUNDS and not r.charged
    assert chain.ledger.check_tx(chain.tx(ALICE, "transfer", addr(BOB), 5, nonce=0)).ok   # nonce 0 still free
    chain.ledger.reset_check_state()
    block = chain.apply([too_much])
    assert block.tx_results[0].code == Code.INSUFFICIENT_FUNDS and block.tx_results[0].charged
    assert nonce(chain, ALICE) == 1 and balance(chain, ALICE) < START_BALANCE
