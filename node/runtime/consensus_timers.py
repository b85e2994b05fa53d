"""The consensus task's clock on trio: the executor's timer port and the re-gossip tick.

Both only send inputs into the consensus task's channel; their tasks run in the consensus
task's own nursery (`start`), so they end with it and nothing else starts them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import trio

from consensus.messages import Timeout
from consensus.params import TimeoutKind

GOSSIP_INTERVAL_MS = 1000  # the executor's re-gossip period (and its help pacing)


# ---- the consensus task's own inputs (others': node/runtime/consensus_api.py) ----
@dataclass(frozen=True)
class StartNextHeight:
    after_height: int


@dataclass(frozen=True)
class DriverTimeout:
    timeout: Any


@dataclass(frozen=True)
class GossipTick:
    """A gossip period passed: the executor re-gossips if it is due."""


class ConsensusTimers:
    def __init__(self, inputs: trio.MemorySendChannel[Any]):
        self.inputs = inputs
        self._nursery: trio.Nursery | None = None

    def start(self, nursery: trio.Nursery) -> None:
        """Run the timers in `nursery` (the consensus task's) from now on; start the tick."""
        self._nursery = nursery
        nursery.start_soon(self._tick)

    async def _tick(self) -> None:
        while True:
            await trio.sleep(GOSSIP_INTERVAL_MS / 1000)
            try:
                self.inputs.send_nowait(GossipTick())
            except trio.WouldBlock:
                pass  # the task is busy, so not stuck: the next period asks again

    def schedule(self, timeout: Timeout, duration_ms: int) -> None:
        """The executor's timer port: one task per `ScheduleTimeout`."""
        # the deadline from now, not from when `fire` first runs: a task that runs in
        # between (the mempool's recheck after a commit) does not lengthen the timeout
        deadline = trio.current_time() + duration_ms / 1000

        async def fire() -> None:
            await trio.sleep_until(deadline)
            if timeout.kind == TimeoutKind.COMMIT:
                await self.inputs.send(StartNextHeight(timeout.height))
            else:
                await self.inputs.send(DriverTimeout(timeout))
        assert self._nursery is not None
        self._nursery.start_soon(fire)
