"""The node's view of the ledger: Store + Ledger, the block store, and seen commits.

Blocks, tx records and validator sets are records the ledger writes with each block's
state in ONE batch (state/app.py). The commit that decided block H travels in block H+1
(`last_commit`); for the newest block the node keeps the "seen commit" in a small file
written atomically BEFORE the block is committed, so after any crash the node can still
serve (block H, commit H) to peers catching up.
"""
from __future__ import annotations

from pathlib import Path

from consensus.types import Commit, InvalidCommit, ValidatorSet
from node.runtime import faults
from node.runtime.durable import atomic_write
from state.app import BlockResult, Ledger
from state.block import Block
from state.errors import BlockError
from state.genesis import Genesis
from state.store import Store


class Chain:
    def __init__(self, state_dir: Path, genesis: Genesis, seen_commit_file: Path):
        self.store = Store(str(state_dir))
        self.store.warm_cache()  # after a restart, load the tree once instead of node by node
        self.ledger = Ledger(self.store, genesis)
        self.genesis = genesis
        self.chain_id = self.ledger.chain_id
        self.seen_commit_file = seen_commit_file
        self._executed: dict[bytes, BlockResult] = {}  # block id -> result (current height)
        # tx id -> SignedTx decoded AND signature-verified at admission (the mempool
        # checker's cache, the one "admitted" cache): execution neither decodes nor
        # verifies those again
        self.admitted: dict | None = None

    def close(self) -> None:
        self.store.close()

    # -- reads
    @property
    def height(self) -> int:
        return self.store.height

    @property
    def app_hash(self) -> bytes:
        return self.store.app_hash

    @property
    def earliest_block_height(self) -> int:
        """The lowest height whose block (and commit) this node can serve: 1, or above
        what pruning removed (node/runtime/pruning.py) or what a state sync skipped."""
        h = max(1, self.store.pruned_below)
        return h if h > self.height or self.block_bytes(h) is not None else h + 1

    def last_block(self) -> tuple[int, int, bytes]:
        return self.ledger.last_block()

    def validator_set(self, height: int) -> ValidatorSet | None:
        return self.ledger.validator_set(height)

    def has_validator(self, height: int, address: bytes) -> bool:
        vs = self.validator_set(height)
        return vs is not None and vs.get(address) is not None

    def block_bytes(self, height: int) -> bytes | None:
        return self.ledger.block_record(height)

    def block(self, height: int) -> Block | None:
        raw = self.block_bytes(height)
        return None if raw is None else Block.decode(raw)

    def commit(self, height: int) -> Commit | None:
        """The commit of block `height`: from block height+1, or the seen commit."""
        if height < 1 or height > self.height:
            return None
        nxt = self.block(height + 1)
        if nxt is not None and nxt.last_commit is not None:
            return nxt.last_commit
        seen = self.seen_commit()
        return seen if seen is not None and seen.height == height else None

    def commit_bytes(self, height: int) -> bytes | None:
        c = self.commit(height)
        return None if c is None else c.encode()

    def seen_commit(self) -> Commit | None:
        try:
            return Commit.decode(self.seen_commit_file.read_bytes())
        except FileNotFoundError:
            return None

    def extend_seen_commit(self, commit: Commit) -> bool:
        """Replace the newest block's seen commit by `commit` if it is for the same block
        and carries more signatures (late precommits); returns whether it did."""
        seen = self.seen_commit()
        if (seen is None or commit.height != self.height or commit.value_id != seen.value_id
                or len(commit.signatures) <= len(seen.signatures)):
            return False
        atomic_write(self.seen_commit_file, commit.encode())
        return True

    def tx_record(self, tx_id: bytes) -> tuple[int, int, int, str] | None:
        return self.ledger.tx_record(tx_id)

    # -- building and executing blocks
    def make_block(self, txs: list[bytes], proposer: bytes, now_ms: int,
                   evidence: list[bytes] | None = None) -> Block:
        """A block for height+1 from the committed state (the proposer's getValue)."""
        height = self.height + 1
        last_time = self.last_block()[1]
        return self.ledger.next_block(txs, time_ms=max(now_ms, last_time + 1), proposer=proposer,
                                      evidence=evidence,
                                      last_commit=self.commit(height - 1) if height > 1 else None)

    def execute(self, block: Block) -> BlockResult:
        """Validate and execute (nothing written); cached by block id. Raises BlockError."""
        bid = block.id()
        res = self._executed.get(bid)
        if res is None:
            res = self.ledger.execute_block(block, admitted=self.admitted)
            if len(self._executed) > 16:
                self._executed.clear()
            self._executed[bid] = res
        return res

    def commit_block(self, block: Block, commit: Commit) -> BlockResult:
        """Persist the seen commit, then the block's state and records in one batch."""
        if commit.value_id != block.id() or commit.height != block.height:
            raise BlockError("commit_mismatch", "commit is not for this block")
        result = self.execute(block)
        atomic_write(self.seen_commit_file, commit.encode())
        faults.crash_point("seen_commit", block.height)  # test-only (node/runtime/faults.py)
        self.ledger.commit(result)
        faults.crash_point("block_stored", block.height)
        self._executed.clear()
        if self.admitted:  # committed txs are never executed again: free their decodes
            for r in result.tx_results:
                self.admitted.pop(r.tx_id, None)
        return result

    def apply_synced(self, block: Block, commit: Commit) -> BlockResult:
        """A block fetched from a peer: its commit must be signed by > 2/3 of the set."""
        vs = self.validator_set(block.height)
        if vs is None:
            raise BlockError("unknown_validator_set", f"no validator set for height {block.height}")
        try:
            vs.verify_commit(self.chain_id, commit)
        except InvalidCommit as e:
            raise BlockError("invalid_commit", str(e)) from None
        return self.commit_block(block, commit)

