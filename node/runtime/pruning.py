"""Keep only the last `keep_recent` heights of state and blocks ([storage] in the config).

After each commit the node calls `Pruner.after_commit()`, in the consensus task: pruning
must not interleave with a commit (a commit can recreate a node that pruning is about to
delete; docs/store.md, Pruning). One call prunes at most `prune_max_heights` heights, in
one synced batch (state/store.py `Store.prune`), so a node switched from archive to
pruning catches up over many blocks instead of stalling one. LevelDB compaction of the
pruned tables runs every `compact_interval` pruned heights, in a worker thread (plyvel
releases the GIL while it compacts) so consensus goes on meanwhile.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from node.logs import get_logger, log_event
from state.records import prune_heights

if TYPE_CHECKING:
    from node.config import StorageSection
    from state.store import Store

log = get_logger("attrchain.pruning")


class Pruner:
    def __init__(self, store: "Store", storage: "StorageSection"):
        self.store = store
        self.keep_recent = storage.keep_recent
        self.max_heights = storage.prune_max_heights
        self.compact_interval = storage.compact_interval
        self._since_compact = 0
        self._compact_due = trio.Event()

    def after_commit(self) -> dict[str, int] | None:
        """Prune up to `max_heights` heights that fell out of the window; None if archive
        or nothing to do."""
        if not self.keep_recent:
            return None
        store = self.store
        target = store.height - self.keep_recent + 1
        if target <= store.base:
            return None
        retain = min(target, store.base + self.max_heights)
        stats = prune_heights(store, retain)
        log_event(log, logging.DEBUG, "pruned", retain=retain, **stats)
        self._since_compact += stats["heights"]
        if self._since_compact >= self.compact_interval:
            self._since_compact = 0
            self._compact_due.set()
        return stats

    def compaction_due(self) -> bool:
        """Whether enough heights were pruned since the last compaction (and forget it):
        for a caller that compacts itself, such as the soak benchmark."""
        due = self._compact_due.is_set()
        self._compact_due = trio.Event()
        return due

    async def run_compaction(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Service: compact the pruned tables whenever enough heights were pruned."""
        task_status.started()
        while True:
            await self._compact_due.wait()
            self.compaction_due()
            await trio.to_thread.run_sync(self.store.compact)
            log_event(log, logging.INFO, "compacted", base=self.store.base)
