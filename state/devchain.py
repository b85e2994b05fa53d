"""A single-process chain for tests, the demo and benchmarks.

`DevChain` owns the keys of its validators and some funded accounts, signs transactions
with the right nonces, and builds blocks that pass `Ledger.validate_header`: correct
hashes, proposer, and a last commit signed by the chosen validators of the previous
height. No consensus runs; it is what one honest proposer with all keys would do.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from nacl.signing import SigningKey

from state.accounts import get_nonce
from state.address import address_from_pubkey
from state.app import BlockResult, Ledger
from state.block import Block
from state.context import Context
from state.genesis import Genesis, GenesisValidator
from state.params import Params
from state.tx import sign_tx, tx_id

DEFAULT_STAKE = 100_000_000_000          # 100,000 OPEN each: 100,000 units of power
BLOCK_INTERVAL_MS = 1_000


def seeded_key(label: str) -> SigningKey:
    """A deterministic key from a label (tests and benchmarks only)."""
    return SigningKey(hashlib.sha256(label.encode()).digest())


@dataclass
class DevValidator:
    consensus_key: SigningKey
    operator_key: SigningKey

    @property
    def consensus_address(self) -> bytes:
        return address_from_pubkey(bytes(self.consensus_key.verify_key))

    @property
    def operator(self) -> bytes:
        return address_from_pubkey(bytes(self.operator_key.verify_key))


def make_genesis(chain_id: str, accounts: list[tuple[SigningKey, int]], validators: list[DevValidator],
                 params: Params | None = None, stakes: list[int] | None = None,
                 time_ms: int = 1_700_000_000_000) -> Genesis:
    stakes = stakes or [DEFAULT_STAKE] * len(validators)
    return Genesis(
        chain_id=chain_id,
        genesis_time_ms=time_ms,
        balances=tuple((address_from_pubkey(bytes(k.verify_key)), amount) for k, amount in accounts),
        validators=tuple(GenesisValidator(bytes(v.consensus_key.verify_key), v.operator, s)
                         for v, s in zip(validators, stakes)),
        params=params or Params(),
    )


class DevChain:
    def __init__(self, store, *, chain_id: str = "attrchain-dev", accounts: list[tuple[SigningKey, int]] = (),
                 n_validators: int = 4, params: Params | None = None, stakes: list[int] | None = None,
                 validator_balance: int = 10_000_000_000, track_state: bool = False) -> None:
        self.validators = [DevValidator(seeded_key(f"{chain_id}/consensus/{i}"),
                                        seeded_key(f"{chain_id}/operator/{i}"))
                           for i in range(n_validators)]
        all_accounts = list(accounts) + [(v.operator_key, validator_balance) for v in self.validators]
        self.genesis = make_genesis(chain_id, all_accounts, self.validators, params, stakes)
        self.ledger = Ledger(store, self.genesis)
        self.chain_id = chain_id
        self._nonces: dict[bytes, int] = {}
        self._keys_by_consensus = {v.consensus_address: v.consensus_key for v in self.validators}
        self.extra_consensus_keys: dict[bytes, SigningKey] = {}
        # a full copy of the state (tests: supply invariant, determinism), if asked for
        self.state: dict[bytes, bytes] | None = None
        if track_state:
            self.state = {k: v for k, v in self.genesis.initial_state().items()}
        self.on_commit: list = []      # callables(result) run after each committed block

    # --- transactions ------------------------------------------------------------------------
    def next_nonce(self, key: SigningKey) -> int:
        addr = address_from_pubkey(bytes(key.verify_key))
        n = self._nonces.get(addr)
        if n is None:
            ctx = Context(self.ledger.store.get, self.ledger._block_info(self.ledger.height + 1, 0))
            n = get_nonce(ctx, addr)
        self._nonces[addr] = n + 1
        return n

    def sync_nonces(self) -> None:
        """Forget cached nonces (after a block in which some txs failed the ante checks)."""
        self._nonces.clear()

    def tx(self, key: SigningKey, kind: str, *fields, fee: int | None = None, nonce: int | None = None) -> bytes:
        fee = self.ledger.params.min_fee if fee is None else fee
        nonce = self.next_nonce(key) if nonce is None else nonce
        return sign_tx(key, self.chain_id, nonce, fee, kind, list(fields))

    # --- blocks ------------------------------------------------------------------------------------
    def signing_key_of(self, consensus_address: bytes) -> SigningKey:
        return self._keys_by_consensus.get(consensus_address) or self.extra_consensus_keys[consensus_address]

    def make_commit(self, height: int, block_id: bytes, signers: list[bytes] | None = None, round: int = 0):
        from consensus.types import Commit, Vote, VoteType
        vs = self.ledger.validator_set(height)
        addrs = [m.address for m in vs] if signers is None else signers
        votes = []
        for a in addrs:
            v = Vote(VoteType.PRECOMMIT, height, round, block_id, a)
            sig = self.signing_key_of(a).sign(v.sign_bytes(self.chain_id)).signature
            votes.append(Vote(VoteType.PRECOMMIT, height, round, block_id, a, sig))
        return Commit.from_votes(votes)

    def make_block(self, txs: list[bytes] = (), *, evidence: list[bytes] = (),
                   signers: list[bytes] | None = None, time_ms: int | None = None) -> Block:
        """The next block. `signers`: consensus addresses whose precommits form the last
        commit (default: the whole set of the previous height)."""
        ledger = self.ledger
        height = ledger.height + 1
        _, last_time, last_id = ledger.last_block()
        if time_ms is None:
            time_ms = (last_time or self.genesis.genesis_time_ms) + BLOCK_INTERVAL_MS
        commit = None if height == 1 else self.make_commit(height - 1, last_id, signers)
        return ledger.next_block(list(txs), time_ms=time_ms, evidence=list(evidence), last_commit=commit,
                                 proposer=ledger.validator_set(height).proposer(height, 0).address)

    def apply(self, txs: list[bytes] = (), *, verified: bool = False, **kw) -> BlockResult:
        """Build, execute and commit the next block. `verified=True` passes every tx id as
        already verified (as a node does for txs it admitted)."""
        block = self.make_block(txs, **kw)
        ids = frozenset(tx_id(t) for t in txs) if verified else frozenset()
        return self.commit(self.ledger.execute_block(block, ids))

    def commit(self, result: BlockResult) -> BlockResult:
        """Commit an executed block, keeping the tracked state copy and hooks in step."""
        self.ledger.commit(result)
        if self.state is not None:
            for k, v in result.changes.items():
                if v is None:
                    self.state.pop(k, None)
                else:
                    self.state[k] = v
        for hook in self.on_commit:
            hook(result)
        if not all(r.charged for r in result.tx_results):
            self.sync_nonces()          # some nonce was not consumed
        return result
