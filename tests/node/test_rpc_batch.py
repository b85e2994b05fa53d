"""POST /broadcast_txs_sync: many txs in one request (the load generator's path)."""
import httpx

from node.runtime.metrics import NodeMetrics
from node.rpc import make_app, serve_rpc


class BatchBackend:
    def __init__(self):
        self.metrics = NodeMetrics()
        self.seen: list[bytes] = []
        self.prechecked: list[list[bytes]] = []

    async def precheck(self, raws):
        assert not self.seen  # the whole batch, before any admission
        self.prechecked.append(list(raws))

    async def broadcast_tx_sync(self, raw):
        self.seen.append(raw)
        return {"hash": raw.hex(), "code": 0 if raw != b"\x00" else "malformed_encoding", "log": ""}


async def test_broadcast_txs_sync_answers_each_tx_in_order_and_refuses_bad_bodies(nursery):
    backend = BatchBackend()
    binds = await nursery.start(serve_rpc, make_app(backend, max_body_bytes=20_000), "127.0.0.1:0")
    async with httpx.AsyncClient(base_url="http://" + binds[0]) as c:
        txs = [bytes([i, i]) for i in range(1, 200)] + [b"\x00"]
        r = await c.post("/broadcast_txs_sync", json={"txs": [t.hex() for t in txs]})
        assert r.status_code == 200
        results = r.json()["results"]
        assert [x["hash"] for x in results] == [t.hex() for t in txs]
        assert [x["code"] for x in results][-2:] == [0, "malformed_encoding"]
        assert backend.seen == txs and backend.prechecked == [txs]
        # a malformed body is refused as a whole: nothing reaches the backend
        for resp, status, code in [
            (await c.post("/broadcast_txs_sync", content=b"{nope"), 400, "bad_json"),
            (await c.post("/broadcast_txs_sync", json={"tx": "ab"}), 400, "bad_param"),
            (await c.post("/broadcast_txs_sync", json={"txs": ["ab", 3]}), 400, "bad_param"),
            (await c.post("/broadcast_txs_sync", json={"txs": ["ab", "zz"]}), 400, "bad_param"),
            (await c.post("/broadcast_txs_sync", json={"txs": ["ab" * 20_000]}), 413, "body_too_large"),
            (await c.get("/broadcast_txs_sync"), 405, "http_error"),
        ]:
            assert resp.status_code == status, resp.text
            assert resp.json()["error"]["code"] == code
        assert len(backend.seen) == len(txs)
