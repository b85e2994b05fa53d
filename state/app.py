"""The ledger application: admission (check_tx), block execution, commit, queries.

`process_block` is the state transition, composed of plain `process_*` functions in the
style of ethereum/consensus-specs; `Ledger` is the thin stateful shell a node drives:

    result = ledger.execute_block(block, verified_tx_ids)   # writes nothing
    app_hash = ledger.commit(result)                         # one WriteBatch

A transaction in a block goes through two stages (see docs/ledger.md, "Failed txs"):
1. ante: decode, chain id, min fee, signature, nonce, fee payable. A failure here changes
   nothing (no fee, no nonce) and the tx result records the code;
2. the kind's process function, in a child context: a failure discards the kind's
   writes, but the fee is charged and the nonce consumed, as in the Cosmos SDK and
   Ethereum: the block space was used, and a failed tx can never be replayed later.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from state.accounts import checked_sub, get_account, set_account
from state.block import (
    Block,
    Header,
    compute_data_hash,
    compute_evidence_hash,
    compute_last_commit_hash,
)
from state.codec import decode_value
from state.context import BlockInfo, Context
from state.errors import BlockError, Code, TxError
from state.keys import CHAIN_ID, PARAMS, account_key
from state.params import Params
from state.records import (
    LastBlock,
    TxRecord,
    block_records,
    genesis_records,
    read_block,
    read_last_block,
    read_tx,
    read_validator_set,
)
from state.registry import END_BLOCK, PROCESSORS
from state.staking import (
    compute_next_validator_set,
    process_double_sign,
    process_fee_distribution,
    process_liveness,
    process_unbonding_queue,
)
from state.tx import SignedTx, decode_tx, tx_id, validate_basic, verify_signature


# --- results ----------------------------------------------------------------------------
@dataclass(slots=True)
class TxResult:
    tx_id: bytes
    code: Code = Code.OK
    log: str = ""
    kind: str = ""
    events: list = field(default_factory=list)
    charged: bool = False      # the fee was paid and the nonce consumed

    @property
    def ok(self) -> bool:
        return self.code == Code.OK


@dataclass(slots=True)
class BlockResult:
    block: Block
    block_id: bytes
    tx_results: list[TxResult]
    changes: dict[bytes, bytes | None]       # state changes (None = delete)
    records: dict[bytes, bytes]              # block, tx index, results, validator set of H+2
    next_validator_set: object               # ValidatorSet that signs height+2
    events: list = field(default_factory=list)   # begin/end block events (slashes, jails)
    app_hash: bytes | None = None            # set by Ledger.commit

    @property
    def height(self) -> int:
        return self.block.header.height


# --- the transition -----------------------------------------------------------------------
def process_ante(ctx: Context, tx: SignedTx) -> None:
    """Nonce and fee: the checks every tx passes before its kind runs."""
    balance, nonce = get_account(ctx, tx.sender)
    # Verify the nonce is the account's next sequence number
    if tx.tx.nonce < nonce:
        raise TxError(Code.STALE_NONCE, f"nonce {tx.tx.nonce} already used; next is {nonce}")
    if tx.tx.nonce > nonce:
        raise TxError(Code.FUTURE_NONCE, f"nonce {tx.tx.nonce} is ahead; next is {nonce}")
    # Verify the sender can pay the fee
    balance = checked_sub(balance, tx.tx.fee, "balance (for the fee)")
    # every check is done before the first write, so the ante needs no scope of its own
    ctx.collect_fee(tx.tx.fee)
    set_account(ctx, tx.sender, balance, nonce + 1)


def process_tx(ctx: Context, raw: bytes, verified: bool, stx: SignedTx | None = None, *,
               all_or_nothing: bool = False) -> TxResult:
    """Apply one tx to `ctx`; never raises TxError (the code is the result).
    `stx`: the tx already decoded from exactly `raw` (at admission), if the caller has it.
    In a block a tx that passes the ante pays its fee even when its kind then fails; at
    admission (`all_or_nothing`, Ledger.check_tx) such a tx is refused and changes nothing."""
    if stx is None:
        try:
            stx = decode_tx(raw, ctx.params.max_tx_bytes)
        except TxError as e:
            return TxResult(tx_id(raw), e.code, e.message)
    result = TxResult(stx.id, kind=stx.tx.kind)
    scope = ctx.child() if all_or_nothing else ctx
    try:
        validate_basic(stx, ctx.chain_id, ctx.params.min_fee)
        if not verified:
            verify_signature(stx)
        process_ante(scope, stx)      # writes nothing unless it succeeds
    except TxError as e:
        result.code, result.log = e.code, e.message
        return result
    body = scope.child()
    try:
        PROCESSORS[stx.tx.kind](body, stx)
    except TxError as e:
        result.code, result.log = e.code, e.message
        result.charged = not all_or_nothing
        return result
    body.merge()
    if all_or_nothing:
        scope.merge()
    result.charged = True
    result.events = body.events
    return result


def process_block_evidence(ctx: Context, evidence: list[bytes]) -> None:
    """Evidence included by the proposer: every item must be valid, or the block is."""
    from consensus.types import DuplicateVoteEvidence
    seen = set()
    for raw in evidence:
        try:
            ev = DuplicateVoteEvidence.decode(raw)
        except ValueError as e:
            raise BlockError("bad_evidence", f"evidence does not decode: {e}") from None
        if ev.validator in seen:
            raise BlockError("duplicate_evidence", "two evidences against one validator")
        seen.add(ev.validator)
        scope = ctx.child()
        try:
            process_double_sign(scope, ev)
        except TxError as e:
            raise BlockError("bad_evidence", e.message) from None
        scope.merge()


def process_block(ctx: Context, block: Block, verified_tx_ids, last_valset, next_valset,
                  admitted: Mapping[bytes, SignedTx] | None = None):
    """The state transition of one block. Returns (tx results, validator set of H+2)."""
    commit = block.last_commit
    signers = set() if commit is None else {cs.validator for cs in commit.signatures}
    process_block_evidence(ctx, block.evidence)
    if commit is not None:
        process_liveness(ctx, commit.height, last_valset, signers)
    process_unbonding_queue(ctx)
    if admitted:
        results = []
        for raw in block.txs:
            stx = admitted.get(tx_id(raw))
            if stx is not None and stx.raw == raw:
                results.append(process_tx(ctx, raw, True, stx))
            else:
                results.append(process_tx(ctx, raw, False))
    elif verified_tx_ids:
        results = [process_tx(ctx, raw, tx_id(raw) in verified_tx_ids) for raw in block.txs]
    else:
        results = [process_tx(ctx, raw, False) for raw in block.txs]
    for step in END_BLOCK:
        step(ctx)
    process_fee_distribution(ctx, last_valset if commit is not None else None, signers)
    return results, compute_next_validator_set(ctx, next_valset)


# --- the shell ------------------------------------------------------------------------------
class Ledger:
    """The application a node drives. `store` is a state.store.Store."""

    def __init__(self, store, genesis=None) -> None:
        self.store = store
        self._valsets: dict[int, object] = {}
        if store.get(CHAIN_ID) is None:
            if genesis is None:
                raise ValueError("empty store and no genesis")
            self._init_chain(genesis)
        self.chain_id: str = decode_value(store.get(CHAIN_ID))
        if genesis is not None and genesis.chain_id != self.chain_id:
            raise ValueError(f"store holds chain {self.chain_id!r}, genesis is {genesis.chain_id!r}")
        self.params: Params = Params.decode(store.get(PARAMS))
        self._check_ctx: Context | None = None

    def _init_chain(self, genesis) -> None:
        vs1 = genesis.initial_validator_set()
        vs2 = vs1.advance()
        self.store.commit(0, genesis.initial_state(), genesis_records(vs1, vs2))

    # --- reads ------------------------------------------------------------------------------
    @property
    def height(self) -> int:
        return self.store.height

    @property
    def app_hash(self) -> bytes:
        return self.store.app_hash

    def last_block(self) -> LastBlock:
        """(height, time_ms, block id) of the last committed block; (0, 0, b"") before block 1."""
        return read_last_block(self.store)

    def validator_set(self, height: int):
        """The ValidatorSet that signs `height` (known up to committed height + 2)."""
        vs = self._valsets.get(height)
        if vs is None:
            vs = read_validator_set(self.store, height)
            if vs is None:
                return None
            if len(self._valsets) > 1024:
                self._valsets.clear()
            self._valsets[height] = vs
        return vs

    def query(self, key: bytes, height: int | None = None) -> tuple[bytes | None, bytes]:
        return self.store.prove(key, height)

    def account(self, address: bytes) -> tuple[int, int]:
        """(balance, nonce) on the committed state; an account never seen has (0, 0)."""
        raw = self.store.get(account_key(address))
        return (0, 0) if raw is None else tuple(decode_value(raw)[:2])  # type: ignore[return-value]

    def block_record(self, height: int) -> bytes | None:
        """The encoded block committed at `height`."""
        return read_block(self.store, height)

    def tx_record(self, tx_id: bytes) -> TxRecord | None:
        """(height, index in the block, code, log) of a committed tx."""
        return read_tx(self.store, tx_id)

    # --- building ---------------------------------------------------------------------------------
    def next_block(self, txs: list[bytes], *, time_ms: int, proposer: bytes,
                   evidence: list[bytes] | None = None, last_commit=None) -> Block:
        """The block for height+1 on the committed state: the one place a header is built
        (its hashes, validator sets and app hash are the ledger's to compute)."""
        height = self.height + 1
        evidence = list(evidence or [])
        header = Header(
            chain_id=self.chain_id, height=height, time_ms=time_ms,
            last_block_id=self.last_block()[2],
            last_commit_hash=compute_last_commit_hash(last_commit),
            data_hash=compute_data_hash(txs),
            evidence_hash=compute_evidence_hash(evidence),
            validators_hash=self.validator_set(height).hash(),
            next_validators_hash=self.validator_set(height + 1).hash(),
            app_hash=self.app_hash,
            proposer=proposer,
        )
        return Block(header, list(txs), evidence, last_commit)

    def _block_info(self, height: int, time_ms: int, proposer: bytes = b"") -> BlockInfo:
        return BlockInfo(self.chain_id, height, time_ms, self.params, proposer, self.validator_set)

    # --- admission -------------------------------------------------------------------------------
    def reset_check_state(self) -> None:
        """Forget the txs admitted since the last commit (e.g. after a mempool eviction);
        commit does this itself."""
        self._check_ctx = None

    def check_tx(self, tx_bytes: bytes, verified: bool = False, decoded: SignedTx | None = None) -> TxResult:
        """Admission to the mempool: the full checks against the committed state plus the txs
        admitted since the last commit (so a sender can queue nonces n, n+1, ...). Rejected
        txs change nothing. `verified=True` skips the signature;
        `decoded` (the SignedTx of exactly these bytes, already decoded and verified) skips
        decoding too."""
        if decoded is not None and decoded.raw == tx_bytes:
            verified = True
        else:
            decoded = None
        ctx = self._admission_ctx()
        result = process_tx(ctx, tx_bytes, verified, decoded, all_or_nothing=True)
        ctx.fees = 0
        return result

    def recheck_tx(self, stx: SignedTx) -> TxResult:
        """The recheck, after a commit, of a tx admitted before it (the Cosmos SDK's
        ReCheckTx): its ante only (nonce in sequence, fee payable) on the admission state.
        Its signature was verified and its kind run at admission; a kind that now fails
        fails in the block, paying the fee (module doc). Applies the ante's effects, so the
        sender's next pending tx is rechecked after it."""
        ctx = self._admission_ctx()
        result = TxResult(stx.id, kind=stx.tx.kind)
        try:
            process_ante(ctx, stx)
        except TxError as e:
            result.code, result.log = e.code, e.message
        ctx.fees = 0
        return result

    def _admission_ctx(self) -> Context:
        if self._check_ctx is None:
            _, time_ms, _ = self.last_block()
            self._check_ctx = Context(self.store.get, self._block_info(self.height + 1, time_ms))
        return self._check_ctx

    # --- blocks ----------------------------------------------------------------------------------
    def validate_header(self, block: Block) -> None:
        """Raise BlockError unless `block` can follow the committed state."""
        h = block.header
        height = self.height + 1
        _, last_time, last_id = self.last_block()

        def verify(cond: bool, reason: str, message: str) -> None:
            if not cond:
                raise BlockError(reason, message)

        verify(h.chain_id == self.chain_id, "wrong_chain", f"block for chain {h.chain_id!r}")
        verify(h.height == height, "wrong_height", f"expected height {height}, got {h.height}")
        verify(h.app_hash == self.app_hash, "wrong_app_hash", "header app_hash is not the state after the last block")
        verify(h.last_block_id == last_id, "wrong_last_block_id", "header does not extend the last block")
        verify(height == 1 or h.time_ms > last_time, "time_not_increasing", "block time must increase")
        vs, next_vs = self.validator_set(height), self.validator_set(height + 1)
        verify(h.validators_hash == vs.hash(), "wrong_validators_hash", "validators_hash mismatch")
        verify(h.next_validators_hash == next_vs.hash(), "wrong_next_validators_hash", "next_validators_hash mismatch")
        verify(vs.get(h.proposer) is not None, "unknown_proposer", "proposer is not a validator")
        verify(h.data_hash == compute_data_hash(block.txs), "wrong_data_hash", "data_hash is not the tx root")
        verify(h.evidence_hash == compute_evidence_hash(block.evidence), "wrong_evidence_hash", "evidence_hash mismatch")
        verify(h.last_commit_hash == compute_last_commit_hash(block.last_commit), "wrong_last_commit_hash",
               "last_commit_hash mismatch")
        verify(len(block.txs) <= self.params.max_block_txs, "too_many_txs", "block exceeds max_block_txs")
        commit = block.last_commit
        if height == 1:
            verify(commit is None, "unexpected_last_commit", "block 1 has no last commit")
            return
        verify(commit is not None, "missing_last_commit", "a block above 1 carries the last commit")
        verify(commit.height == height - 1 and commit.value_id == last_id, "wrong_last_commit",
               "last commit is not for the last block")
        from consensus.types import InvalidCommit
        try:
            self.validator_set(height - 1).verify_commit(self.chain_id, commit)
        except InvalidCommit as e:
            raise BlockError("invalid_last_commit", str(e)) from None

    def execute_block(self, block: Block, verified_tx_ids=frozenset(),
                      admitted: Mapping[bytes, SignedTx] | None = None) -> BlockResult:
        """Execute `block` on the committed state; write nothing. Raises BlockError if the
        block itself is invalid. Signatures of txs whose id is in `verified_tx_ids` are not
        verified again (check_tx did). `admitted` (tx id -> SignedTx decoded and verified
        at admission) spares decoding them again as well."""
        self.validate_header(block)
        height = block.header.height
        ctx = Context(self.store.get, self._block_info(height, block.header.time_ms, block.header.proposer))
        last_vs = self.validator_set(height - 1) if height > 1 else None
        results, vs2 = process_block(ctx, block, verified_tx_ids, last_vs, self.validator_set(height + 1),
                                     admitted)
        block_id = block.id()
        return BlockResult(block, block_id, results, ctx.changes(), block_records(block, block_id, results, vs2),
                           vs2, ctx.events)

    def commit(self, result: BlockResult) -> bytes:
        """Write the block's state changes and records in one batch; return the app hash."""
        if result.height != self.height + 1:
            raise BlockError("wrong_height", f"cannot commit height {result.height} after {self.height}")
        result.app_hash = self.store.commit(result.height, result.changes, result.records)
        self._valsets[result.height + 2] = result.next_validator_set
        self._check_ctx = None
        return result.app_hash
