"""The mempool: pending transactions, bounded in count and bytes.

- Admission: the checker decodes the tx and verifies its signature ONCE; the decoded tx
  then sits in the checker's `decoded` cache, which block execution reads (node/runtime/chain.py
  `admitted`) so the ledger skips the second decode and verification (notes/limits.md:
  verification is ~30 % of execution).
- Per-sender nonce order: a sender's pending txs form a gap-free chain starting at its
  account nonce; a tx must extend its sender's chain.
- Gossip does not keep a sender's order (a batch relayed by one peer can overtake the
  batch before it sent directly, a peer queue can overflow), and the gossip layer never
  delivers a tx twice: a gossiped tx at most `max_wait_ahead` nonces ahead WAITS (bounded
  by `max_waiting`, oldest out first: node/runtime/waiting_txs.py) and joins its chain
  when the gap fills. RPC clients still get `nonce_gap`.
- When full, the lowest-fee tx that ends some other sender's chain is evicted (evicting from
  the middle would strand the txs after it); a newcomer that pays no more than that is refused.
- Reap: highest fee first across senders, nonce order within a sender, by count and bytes.
- Admission runs the full check once: signature, ante (nonce, fee payable) and the tx's
  kind on the admission state, all or nothing: a tx whose kind fails is refused.
- Recheck, after each commit: committed txs leave, stale nonces leave, and the rest are
  re-checked against the new state by their ante only (nonce in sequence, fee payable),
  as the Cosmos SDK's ReCheckTx and CometBFT's recheck do: not their signature (verified
  at admission) nor their kind (executed at admission, and again in the block). A failing
  tx takes its successors with it. So a tx whose kind became invalid meanwhile (its
  order filled, its asset taken) stays, is included, and fails in the block paying its
  fee, as in Cosmos (docs/ledger.md "Failed txs"). The recheck is off the consensus
  path: `committed` only removes the block's txs and marks every sender unchecked; the
  node's recheck task (`recheck`, a slice at a time) runs during the commit timeout, and
  meanwhile an admission rechecks its own sender first and `reap` all that remain.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Iterable, NamedTuple, Protocol

from node.runtime.waiting_txs import WaitingTxs


class TxRejected(Exception):
    """A tx refused at admission: `code` is stable, `reason` says why."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class PendingTx(NamedTuple):
    """Immutable; a NamedTuple, not a frozen dataclass: built at every admission check (2-3
    per tx per node), 0.4 us instead of 1.1 us (docs/bench.md "CPU per tx")."""
    tx_id: bytes
    raw: bytes
    sender: bytes
    nonce: int
    fee: int


class TxChecker(Protocol):
    def verify(self, raw: bytes, known_id: bytes | None = None) -> PendingTx:
        """Decode + stateless checks + signature; raise TxRejected. `known_id`: tx_id(raw)
        when this node hashed these bytes already (never an id a peer sent)."""

    def account_nonce(self, sender: bytes) -> int:
        """The sender's next nonce in committed state."""

    def check_state(self, tx: PendingTx) -> None:
        """Admission's stateful checks (nonce, fee, balance, the tx's kind) after the
        sender's pending txs; raise TxRejected."""

    def recheck(self, tx: PendingTx) -> None:
        """After a commit: the ante only (nonce, fee payable) after the sender's pending
        txs; raise TxRejected."""


class Mempool:
    def __init__(self, checker: TxChecker, max_txs: int, max_bytes: int, max_tx_bytes: int,
                 max_waiting: int = 10_000, max_wait_ahead: int = 64):
        self.checker = checker
        self.max_wait_ahead = max_wait_ahead
        self.waiting = WaitingTxs(max_waiting)  # gossiped txs whose predecessor has not arrived
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.max_tx_bytes = max_tx_bytes
        self.by_id: dict[bytes, PendingTx] = {}
        self.by_sender: dict[bytes, list[PendingTx]] = {}  # nonce-ordered, gap-free
        self._seq: dict[bytes, int] = {}  # arrival order, for fair tie-breaks
        self._counter = itertools.count()
        self.total_bytes = 0
        # senders whose chain has not been rechecked since the last commit (ordered)
        self._unchecked: dict[bytes, None] = {}
        self.rejected: dict[str, int] = {}  # reason code -> count (metrics)
        self.evicted = 0

    # -- queries
    def __len__(self) -> int:
        return len(self.by_id)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self.by_id

    def get(self, tx_id: bytes) -> PendingTx | None:
        return self.by_id.get(tx_id)

    def raw(self, tx_id: bytes) -> bytes | None:
        """The bytes of a pending or waiting tx."""
        p = self.by_id.get(tx_id) or self.waiting.get(tx_id)
        return None if p is None else p.raw

    # -- admission
    def add(self, raw: bytes, wait: bool = False, known_id: bytes | None = None) -> PendingTx | None:
        """Admit `raw`; with `wait` (gossip), a tx a few nonces ahead waits for the
        gap to fill instead of being refused: None then. `known_id`: as TxChecker.verify's
        (a tx is hashed once per node on its way in: docs/bench.md "Hashed, decoded, verified")."""
        try:
            tx = self._add(raw, wait, known_id)
        except TxRejected as e:
            self.rejected[e.code] = self.rejected.get(e.code, 0) + 1
            raise
        if tx is not None:
            self._admit_waiting(tx.sender)
        return tx

    def _add(self, raw: bytes, wait: bool = False, known_id: bytes | None = None) -> PendingTx | None:
        if len(raw) > self.max_tx_bytes:
            raise TxRejected("tx_too_large", f"{len(raw)} bytes > mempool.max_tx_bytes {self.max_tx_bytes}")
        tx = self.checker.verify(raw, known_id)
        if tx.tx_id in self.by_id:
            raise TxRejected("duplicate", "tx already in mempool")
        if tx.sender in self._unchecked:  # its chain first, so the admission state holds it
            self._recheck_sender(tx.sender)
        chain = self.by_sender.get(tx.sender, [])
        expected = chain[-1].nonce + 1 if chain else self.checker.account_nonce(tx.sender)
        if tx.nonce < expected:
            raise TxRejected("nonce_too_low", f"nonce {tx.nonce} < next expected {expected}")
        if tx.nonce > expected:
            if wait and tx.nonce - expected <= self.max_wait_ahead:
                self.waiting.add(tx)
                return None
            raise TxRejected("nonce_gap", f"nonce {tx.nonce} > next expected {expected}")
        victims = self._victims_for(tx)
        self.checker.check_state(tx)
        for v in victims:
            self._remove(v)
            self.evicted += 1
        self._insert(tx)
        if victims:
            # the evicted txs were applied to the checker's admission state: rebuild it
            reset = getattr(self.checker, "reset", None)
            if reset is not None:
                reset()
                self.update([])
        return tx

    def _admit_waiting(self, sender: bytes) -> None:
        """Admit the txs that waited for `sender`'s chain to reach them, in nonce order."""
        while self.waiting:
            chain = self.by_sender.get(sender)
            expected = chain[-1].nonce + 1 if chain else self.checker.account_nonce(sender)
            tx = self.waiting.take(sender, expected)
            if tx is None:
                return
            try:
                self._add(tx.raw, known_id=tx.tx_id)
            except TxRejected as e:
                self.rejected[e.code] = self.rejected.get(e.code, 0) + 1
                return

    def _victims_for(self, tx: PendingTx) -> list[PendingTx]:
        """The txs to evict so `tx` fits (none removed yet); raises mempool_full."""
        count, size = len(self.by_id) + 1, self.total_bytes + len(tx.raw)
        if count <= self.max_txs and size <= self.max_bytes:
            return []  # fits: skip copying every chain (was 56 % of a node's CPU under load)
        chains = {s: list(c) for s, c in self.by_sender.items() if s != tx.sender}
        victims: list[PendingTx] = []
        while count > self.max_txs or size > self.max_bytes:
            best = None
            for chain in chains.values():
                if chain:
                    t = chain[-1]
                    if best is None or (t.fee, -self._seq[t.tx_id]) < (best.fee, -self._seq[best.tx_id]):
                        best = t
            if best is None or best.fee >= tx.fee:
                raise TxRejected("mempool_full", f"mempool full and fee {tx.fee} does not beat the lowest evictable fee")
            chains[best.sender].pop()
            victims.append(best)
            count -= 1
            size -= len(best.raw)
        return victims

    def _insert(self, tx: PendingTx) -> None:
        self.by_id[tx.tx_id] = tx
        self.by_sender.setdefault(tx.sender, []).append(tx)
        self._seq[tx.tx_id] = next(self._counter)
        self.total_bytes += len(tx.raw)

    def _remove(self, tx: PendingTx) -> None:
        del self.by_id[tx.tx_id]
        del self._seq[tx.tx_id]
        self.total_bytes -= len(tx.raw)
        chain = self.by_sender[tx.sender]
        chain.remove(tx)
        if not chain:
            del self.by_sender[tx.sender]

    # -- proposal
    def reap(self, max_txs: int, max_bytes: int) -> list[PendingTx]:
        """Highest fee first, each sender's txs in nonce order, within both limits; only
        txs rechecked against the last commit (the rest of the recheck runs first)."""
        self.recheck()
        heap: list[tuple[int, int, bytes, int]] = []
        for sender, chain in self.by_sender.items():
            head = chain[0]
            heap.append((-head.fee, self._seq[head.tx_id], sender, 0))
        heapq.heapify(heap)
        out: list[PendingTx] = []
        used = 0
        while heap and len(out) < max_txs:
            _, _, sender, i = heapq.heappop(heap)
            tx = self.by_sender[sender][i]
            if used + len(tx.raw) > max_bytes:
                continue  # this sender's chain stops here; smaller txs of others may fit
            out.append(tx)
            used += len(tx.raw)
            chain = self.by_sender[sender]
            if i + 1 < len(chain):
                nxt = chain[i + 1]
                heapq.heappush(heap, (-nxt.fee, self._seq[nxt.tx_id], sender, i + 1))
        return out

    # -- after a commit
    def committed(self, committed_ids: Iterable[bytes]) -> None:
        """A block was committed: its txs leave now, and every other sender waits for its
        recheck (`recheck`). The node runs that off the consensus task's path, during the
        commit timeout; meanwhile whatever reads a sender's chain rechecks it first: an
        admission its sender's, `reap` all that remain (module doc, "Recheck")."""
        for tx_id in committed_ids:
            tx = self.by_id.get(tx_id)
            if tx is not None:
                self._remove(tx)
        self.waiting.drop_stale(self.checker.account_nonce)  # out when the block made them stale
        self._unchecked = dict.fromkeys(self.by_sender)
        self._unchecked.update(dict.fromkeys(self.waiting.senders()))

    def recheck(self, max_senders: int | None = None) -> int:
        """Recheck up to `max_senders` of the senders a commit left unchecked (all by
        default), oldest chain first. Returns #dropped; `rechecks_pending` says if more remain."""
        dropped = 0
        while self._unchecked and (max_senders is None or max_senders > 0):
            sender = next(iter(self._unchecked))
            dropped += self._recheck_sender(sender)
            if max_senders is not None:
                max_senders -= 1
        return dropped

    @property
    def rechecks_pending(self) -> int:
        return len(self._unchecked)

    def update(self, committed_ids: Iterable[bytes]) -> int:
        """`committed`, then the whole recheck at once. Returns #dropped."""
        self.committed(committed_ids)
        return self.recheck()

    def _recheck_sender(self, sender: bytes) -> int:
        """The sender's chain against the new state, in nonce order, by the ante only; then
        its waiting txs whose gap the block filled. Returns #dropped."""
        del self._unchecked[sender]
        dropped = 0
        chain = list(self.by_sender.get(sender, ()))
        next_nonce = self.checker.account_nonce(sender) if chain else 0
        kept = 0
        for i, tx in enumerate(chain):
            if tx.nonce < next_nonce:  # its nonce was used by another tx: it alone goes
                self._remove(tx)
                dropped += 1
                continue
            try:
                if tx.nonce != next_nonce + kept:
                    raise TxRejected("nonce_gap", "")
                self.checker.recheck(tx)
            except TxRejected:
                # a failed tx strands every later nonce of this sender
                for t in chain[i:]:
                    self._remove(t)
                    dropped += 1
                break
            kept += 1
        self._admit_waiting(sender)
        return dropped
