"""One p2p node in its own OS process, driven by JSON lines on stdin; used by the p2p
tests and `attrchain bench gossip`. It runs only the network layer (no ledger): txs are
opaque bytes, "blocks" are opaque blobs a test seals on one node, so catch-up over
request/response can be checked byte for byte.

Child:  python -m testnet.gossip_peer --seed-hex .. --chain-id .. [--peer MULTIADDR ...]
Parent: PeerProcess(...) spawns a child and `call()`s commands on it.

A tx made by `make_tx(node, i, size)` carries the submit time (ns) so receivers can
measure delivery latency across processes on the same machine.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import Any

TX_HEADER = struct.Struct(">HIQ")  # node index, tx index, submit time ns


def make_tx(node: int, index: int, size: int, now_ns: int = 0) -> bytes:
    head = TX_HEADER.pack(node, index, now_ns)
    pad = hashlib.sha256(head[:6]).digest()
    return head + (pad * (size // 32 + 1))[: max(0, size - len(head))]


def ids_digest(keys) -> str:
    h = hashlib.sha256()
    for node, index in sorted(keys):
        h.update(TX_HEADER.pack(node, index, 0))
    return h.hexdigest()


# --------------------------------------------------------------------------- child
async def run_child(args: argparse.Namespace) -> None:
    import trio

    from p2p.config import P2PConfig
    from p2p.ids import BLOCKS, STATUS, ChainTopics
    from p2p.libp2p_transport import open_libp2p_transport
    from p2p.messages import BlocksRequest, BlocksResponse, CompactProposal, Status, StatusRequest, VoteMessage
    from p2p.tx_gossip import open_tx_gossip
    from state.tx import tx_id

    topics = ChainTopics(args.chain_id)
    config = P2PConfig(
        chain_id=args.chain_id,
        identity_seed=bytes.fromhex(args.seed_hex),
        listen_addrs=(f"/ip4/127.0.0.1/tcp/{args.port}",),
        persistent_peers=tuple(args.peer),
        max_gossip_size=args.max_gossip_size,
        ban_threshold=args.ban_threshold,
        max_request_size=args.max_request_size,
        # --no-direct: list validators without us, so no gossipsub direct peering (mesh only)
        validator_peer_ids=("none",) if args.no_direct else (),
    )
    out_lock = threading.Lock()

    def emit(obj: dict) -> None:
        line = json.dumps(obj)
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    delivered: list[tuple[int, int]] = []
    unique: set[tuple[int, int]] = set()
    latencies_ns: list[int] = []
    blocks: dict[int, tuple[bytes, bytes]] = {}
    state: dict[str, float] = {}  # first/last submit and last delivery times (unix s)

    async with contextlib.AsyncExitStack() as stack:
        transport = await stack.enter_async_context(open_libp2p_transport(config))
        # The attacker subscribes to nothing: our own validator would refuse its garbage.
        txs = None if args.attacker else await stack.enter_async_context(
            open_tx_gossip(transport, topics.txs, tx_id=tx_id, flush_interval=args.flush_ms / 1000,
                           max_batch_bytes=args.max_batch_kb * 1024, batched=True))
        proposals = None if args.attacker else await transport.subscribe(topics.proposals)

        async def status_handler(peer: str, request: bytes) -> bytes:
            StatusRequest.decode(request, 1024)
            height = max(blocks, default=0)
            return Status(height, 0, hashlib.sha256(str(height).encode()).digest(), 1 if blocks else 0).encode()

        async def blocks_handler(peer: str, request: bytes) -> bytes:
            req = BlocksRequest.decode(request, 1024)
            found = [blocks[h] for h in range(req.from_height, req.to_height + 1) if h in blocks]
            return BlocksResponse(tuple(found)).encode()

        transport.set_request_handler(topics.protocol(STATUS), status_handler)
        transport.set_request_handler(topics.protocol(BLOCKS), blocks_handler)

        async def record_txs() -> None:
            async for batch in txs.received:
                now_ns = time.time_ns()
                for received in batch:
                    node, index, sent_ns = TX_HEADER.unpack_from(received.tx)
                    delivered.append((node, index))
                    unique.add((node, index))
                    if sent_ns:
                        latencies_ns.append(now_ns - sent_ns)
                state["last_delivery_t"] = now_ns / 1e9

        async def record_blocks() -> None:
            async for gossip in proposals:
                proposal = CompactProposal.decode(gossip.payload, config.max_gossip_size)
                height = int(proposal.proposal.decode())
                blocks[height] = (gossip.payload, b"commit-%d" % height)

        async def watch_peers() -> None:
            async for event in transport.peer_events():
                emit({"event": "peer", "peer": event.peer, "connected": event.connected, "t": time.time()})

        def blocks_digest() -> str:
            h = hashlib.sha256()
            for height in sorted(blocks):
                h.update(b"%d:" % height + hashlib.sha256(blocks[height][0]).digest() + blocks[height][1])
            return h.hexdigest()

        def zero_window_waits() -> list:
            out = []
            try:
                for conns in transport.host.get_network().get_connections_map().values():
                    for conn in conns:
                        for stream in list(getattr(conn.muxed_conn, "streams", {}).values()):
                            out.append((stream.send_window, getattr(stream, "_zero_window_waits", -1)))
            except Exception as exc:
                out.append(repr(exc))
            return out

        def status() -> dict:
            lat = sorted(latencies_ns)
            pick = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1e9) if lat else (lambda q: None)
            return {
                "peers": transport.peers(), "subscribed": transport.subscribed_peers(topics.txs),
                "delivered": len(delivered), "unique": len(unique), "digest": ids_digest(unique),
                "height": max(blocks, default=0), "blocks_digest": blocks_digest(), "counters": transport.counters.snapshot(),
                "cpu_s": time.process_time(), "p50_s": pick(0.50), "p99_s": pick(0.99),
                "banned": transport.penalties.banned(), "t": time.time(), **state,
                "tx_pending": len(txs._pending) if txs else 0,
                "outbound_queued": {t: q.statistics().current_buffer_used for t, q in transport._outbound.items()},
                "peer_queues": [len(q) for q in transport.pubsub.peer_queues.values()],
                "zero_window_waits": zero_window_waits(),
            }

        async def submit(node: int, start: int, count: int, size: int, rate: float) -> None:
            # Paced in 10 ms slices: `rate` txs/s on average, no scheduler trip per tx.
            t0 = trio.current_time()
            state["first_submit_t"] = state.get("first_submit_t") or time.time()
            done = 0
            while done < count:
                due = min(count, int((trio.current_time() - t0) * rate) + 1)
                now_ns = time.time_ns()
                for i in range(done, due):
                    txs.submit(make_tx(node, start + i, size, now_ns))
                done = due
                if done < count:
                    await trio.sleep(0.01)
            state["last_submit_t"] = time.time()
            emit({"event": "submitted", "count": count})

        async def wait(cmd: dict) -> bool:
            deadline = trio.current_time() + cmd.get("within", 30)
            while trio.current_time() < deadline:
                if (len(transport.peers()) >= cmd.get("peers", 0)
                        and len(transport.subscribed_peers(topics.txs)) >= cmd.get("subscribed", 0)
                        and len(unique) >= cmd.get("delivered", 0)
                        and max(blocks, default=0) >= cmd.get("height", 0)
                        and all(p not in transport.peers() for p in cmd.get("absent", []))):
                    return True
                await trio.sleep(0.01)  # polling a local condition, with a deadline
            return False

        async def seal(count: int) -> None:
            for _ in range(count):
                height = max(blocks, default=0) + 1
                ids = tuple(hashlib.sha256(b"%d-%d" % (height, j)).digest() for j in range(3))
                payload = CompactProposal(b"%d" % height, b"header-%d" % height, ids, (), None).encode()
                blocks[height] = (payload, b"commit-%d" % height)
                await transport.publish(topics.proposals, payload)

        async def catch_up(peer: str, start: int) -> dict:
            status_raw = await transport.request(peer, topics.protocol(STATUS), StatusRequest().encode(), 5)
            their = Status.decode(status_raw, 4096)
            fetched = 0
            while start <= their.height:
                end = min(their.height, start + 63)
                raw = await transport.request(peer, topics.protocol(BLOCKS), BlocksRequest(start, end).encode(), 5)
                for block, commit in BlocksResponse.decode(raw, config.max_response_size).blocks:
                    height = int(CompactProposal.decode(block, config.max_gossip_size).proposal.decode())
                    blocks[height] = (block, commit)
                    fetched += 1
                start = end + 1
            return {"their_height": their.height, "fetched": fetched}

        async def attack(target: str) -> dict:
            peer = await transport.connect(target, timeout=5)
            sent = []
            try:  # an over-size request first (run victims with --max-request-size < 10k)
                await transport.request(peer, topics.protocol(STATUS), b"\xc1" * 10_000, 3)
            except Exception as exc:
                sent.append(f"oversize_request:{getattr(exc, 'code', type(exc).__name__)}")
            garbage = [
                ("too_large", b"\x92\x01\x91\xc6" + struct.pack(">I", 600_000) + b"x" * 600_000),
                ("malformed", b"\xc1 not msgpack"),
                ("malformed", b"\x93\x01"),  # truncated array
                ("unknown_kind", b"\x92\xcc\x63\xc4\x01x"),  # [99, b"x"]
                ("bad_field", b"\x92\x01\x91\x01"),  # TxBatch with an int for a tx
                ("unexpected_kind", VoteMessage(b"v").encode()),  # a vote on the txs topic
            ]
            # Subscribe-free publishing reaches the target through fanout once it has
            # told us its subscriptions.
            deadline = trio.current_time() + 5
            while not transport.subscribed_peers(topics.txs) and trio.current_time() < deadline:
                await trio.sleep(0.01)
            for reason, payload in garbage:
                await transport.publish_unchecked(topics.txs, payload)
                sent.append(reason)
            return {"sent": sent, "target": peer}


        async def handle(cmd: dict) -> None:
            reply: dict[str, Any] = {"id": cmd.get("id"), "ok": True}
            try:
                name = cmd["cmd"]
                if name == "status":
                    pass
                elif name == "wait":
                    reply["ok"] = await wait(cmd)
                elif name == "submit":
                    nursery.start_soon(submit, args.index, cmd.get("start", 0), cmd["count"], cmd.get("size", 200), cmd.get("rate", 1e9))
                elif name == "seal":
                    await seal(cmd["count"])
                elif name == "catch_up":
                    reply.update(await catch_up(cmd["peer"], cmd.get("start", max(blocks, default=0) + 1)))
                elif name == "attack":
                    reply.update(await attack(cmd["target"]))
                elif name == "exit":
                    nursery.cancel_scope.cancel()
                    return
                else:
                    raise ValueError(f"unknown command {name}")
            except Exception as exc:
                reply.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            reply.update(status())
            emit(reply)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_peers)
            if not args.attacker:
                nursery.start_soon(record_txs)
                nursery.start_soon(record_blocks)
            emit({"event": "ready", "peer": transport.local_peer, "addrs": transport.listen_addrs(), "t": time.time()})
            while True:
                line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
                if not line:
                    nursery.cancel_scope.cancel()
                    break
                if line.strip():
                    nursery.start_soon(handle, json.loads(line))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed-hex", required=True)
    parser.add_argument("--chain-id", default="gossip-test")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--peer", action="append", default=[])
    parser.add_argument("--flush-ms", type=float, default=50)
    parser.add_argument("--max-batch-kb", type=int, default=128)
    parser.add_argument("--no-direct", action="store_true")
    parser.add_argument("--max-gossip-size", type=int, default=512 * 1024)
    parser.add_argument("--attacker", action="store_true")
    parser.add_argument("--ban-threshold", type=float, default=100.0)
    parser.add_argument("--max-request-size", type=int, default=256 * 1024)
    args = parser.parse_args(argv)
    import trio

    profile_to = os.environ.get("GOSSIP_PEER_PROFILE")  # a path prefix: dump cProfile stats
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            trio.run(run_child, args)
        finally:
            profiler.disable()
            profiler.dump_stats(f"{profile_to}.{args.index}")
    else:
        trio.run(run_child, args)


# --------------------------------------------------------------------------- parent
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_for(index: int, salt: str = "gossip") -> bytes:
    return hashlib.sha256(f"{salt}-{index}".encode()).digest()


# Seconds for a child to import, listen and say "ready". Loaded 2-core machines took
# 5.8 to 67.8 s to start four children one after another (up to ~17 s each on
# average); the old 30 s per child was within reach of that.
READY_TIMEOUT = 120.0


class PeerProcess:
    """A child node; commands block until the child answers (or `timeout`)."""

    def __init__(self, index: int, seed: bytes, port: int, peers: list[str], chain_id: str = "gossip-test",
                 extra: list[str] | None = None, ready_timeout: float = READY_TIMEOUT) -> None:
        cmd = [sys.executable, "-m", "testnet.gossip_peer", "--seed-hex", seed.hex(), "--chain-id", chain_id,
               "--index", str(index), "--port", str(port)]
        for peer in peers:
            cmd += ["--peer", peer]
        cmd += extra or []
        self.index = index
        self.port = port
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.lines: queue.Queue[dict] = queue.Queue()
        self.events: list[dict] = []
        self.stderr: list[str] = []
        self._next_id = 0
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.ready = self._expect(lambda m: m.get("event") == "ready", ready_timeout)
        self.peer_id: str = self.ready["peer"]
        self.addr: str = self.ready["addrs"][0]

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "event" in msg:
                self.events.append(msg)
            self.lines.put(msg)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)
            del self.stderr[:-200]

    def _expect(self, match, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and self.lines.empty():
                raise TimeoutError(f"peer {self.index}: no answer (exit={self.proc.poll()}):\n{''.join(self.stderr[-30:])}")
            try:
                msg = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if match(msg):
                return msg

    def call(self, cmd: str, timeout: float = 60, **fields) -> dict:
        self._next_id += 1
        ident = self._next_id
        self.proc.stdin.write(json.dumps({"cmd": cmd, "id": ident, **fields}) + "\n")
        self.proc.stdin.flush()
        return self._expect(lambda m: m.get("id") == ident, timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "exit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(5)
            except Exception:
                pass
        self.kill()


def start_network(count: int, chain_id: str = "gossip-test", extra: list[str] | None = None) -> list[PeerProcess]:
    """Start `count` nodes that all know each other as persistent peers (ports and ids
    are chosen up front, so every node gets the full list at start)."""
    from p2p.libp2p_transport import peer_id_from_seed  # parent only needs ids

    seeds = [seed_for(i, chain_id) for i in range(count)]
    ports = [free_port() for _ in range(count)]
    addrs = [f"/ip4/127.0.0.1/tcp/{p}/p2p/{peer_id_from_seed(s)}" for p, s in zip(ports, seeds)]
    nodes: list[PeerProcess] = []
    try:
        for i in range(count):
            nodes.append(PeerProcess(i, seeds[i], ports[i], [a for j, a in enumerate(addrs) if j != i], chain_id, extra))
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


if __name__ == "__main__":
    main()
