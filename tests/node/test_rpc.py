import httpx

from node.runtime.metrics import NodeMetrics
from node.rpc import RpcError, make_app, serve_rpc


class FakeBackend:
    def __init__(self):
        self.metrics = NodeMetrics()
        self.seen: list[bytes] = []

    async def status(self):
        return {"height": 7}

    async def broadcast_tx_sync(self, raw):
        if raw == b"\x00":
            raise RpcError(400, "malformed_tx", "tx does not decode")
        self.seen.append(raw)
        return {"code": 0, "hash": raw.hex()}

    async def broadcast_tx_commit(self, raw, timeout_s):
        return {"height": 3, "timeout_s": timeout_s}

    async def tx(self, tx_id):
        raise RpcError(404, "not_found", "no such tx")

    async def block(self, height):
        return {"height": height}

    async def commit(self, height):
        return {"height": height}

    async def validators(self, height):
        return {"height": height}

    async def query(self, kind, params, height):
        return {"kind": kind, "params": params, "height": height}




async def test_rpc_endpoints_and_errors(nursery):
    backend = FakeBackend()
    binds = await nursery.start(serve_rpc, make_app(backend, max_body_bytes=1000, commit_timeout_ms=2500),
                                "127.0.0.1:0")
    base = "http://" + binds[0]
    async with httpx.AsyncClient(base_url=base) as c:
        assert (await c.get("/status")).json() == {"height": 7}
        r = await c.get("/broadcast_tx_sync", params={"tx": "0xabcd"})
        assert r.status_code == 200 and r.json()["hash"] == "abcd"
        r = await c.post("/broadcast_tx_sync", json={"tx": "ef"})
        assert r.json()["hash"] == "ef" and backend.seen == [b"\xab\xcd", b"\xef"]
        # malformed requests: 4xx with a reason, nothing reaches the backend
        for resp, status, code in [
            (await c.get("/broadcast_tx_sync", params={"tx": "zz"}), 400, "bad_param"),
            (await c.get("/broadcast_tx_sync"), 400, "missing_param"),
            (await c.post("/broadcast_tx_sync", content=b"{not json"), 400, "bad_json"),
            (await c.post("/broadcast_tx_sync", json=[1]), 400, "bad_param"),
            (await c.post("/broadcast_tx_sync", content=b"x" * 2000), 413, "body_too_large"),
            (await c.get("/broadcast_tx_sync", params={"tx": "00"}), 400, "malformed_tx"),
            (await c.get("/block", params={"height": "-1"}), 400, "bad_param"),
            (await c.get("/block", params={"height": "0"}), 400, "bad_param"),
            (await c.get("/tx", params={"hash": "ab"}), 400, "bad_param"),
            (await c.get("/tx", params={"hash": "ab" * 32}), 404, "not_found"),
            (await c.get("/query/nope", params={"id": "ab"}), 404, "unknown_query"),
            (await c.get("/query/account"), 400, "missing_param"),
            (await c.get("/no/such/path"), 404, "http_error"),
            (await c.delete("/status"), 405, "http_error"),
            (await c.get("/broadcast_tx_commit", params={"tx": "ab", "timeout_ms": "x"}), 400, "bad_param"),
        ]:
            assert resp.status_code == status, resp.text
            assert resp.json()["error"]["code"] == code and resp.json()["error"]["reason"]
        assert len(backend.seen) == 2
        assert (await c.get("/block", params={"height": "5"})).json() == {"height": 5}
        assert (await c.get("/block")).json() == {"height": None}
        r = await c.get("/broadcast_tx_commit", params={"tx": "ab"})
        assert r.json()["timeout_s"] == 2.5
        r = await c.get("/query/upstream", params={"id": "aa", "height": "4"})
        assert r.json() == {"kind": "upstream", "params": {"id": "aa"}, "height": 4}
        doc = (await c.get("/openapi.json")).json()
        assert doc["openapi"].startswith("3.") and "/broadcast_tx_commit" in doc["paths"]
        assert "/query/earnings" in doc["paths"]
        assert {"/query/holdings", "/query/orders", "/query/order", "/query/book", "/query/fills"} <= set(doc["paths"])
        r = await c.get("/query/book", params={"id": "bb"})
        assert r.json() == {"kind": "book", "params": {"id": "bb"}, "height": None}
        r = await c.get("/query/holdings", params={"address": "open1x"})
        assert r.json()["params"] == {"address": "open1x"}
        m = (await c.get("/metrics")).text
        assert 'attrchain_rpc_errors_total{status="400"} 10.0' in m
        assert "attrchain_mempool_size" in m
    nursery.cancel_scope.cancel()


def test_the_client_lets_go_of_an_idle_connection_before_the_server_closes_it():
    """Equal idle limits raced: a request sent as the server closed the connection met
    'Connection reset by peer' (tests/e2e/test_explorer.py's story, loaded machine)."""
    from node.cli.rpc_client import RpcClient
    from node.rpc.rpc import KEEP_ALIVE_TIMEOUT_S

    client = RpcClient("127.0.0.1:1")
    try:
        expiry = client.http._transport._pool._keepalive_expiry
    finally:
        client.close()
    assert expiry is not None and expiry <= KEEP_ALIVE_TIMEOUT_S / 2
