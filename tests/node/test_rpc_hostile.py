"""A hostile HTTP client against the RPC app (issue 9, item 5): every parameter and body
refused with a clear 4xx, internals never shown, limits enforced."""
import json
import logging

import httpx
import trio

from node.runtime.metrics import NodeMetrics
from node.rpc import RpcError, make_app, serve_rpc


class Backend:
    def __init__(self):
        self.metrics = NodeMetrics()
        self.seen: list[bytes] = []

    async def status(self):
        raise RuntimeError("secret internal state at 0xdeadbeef")

    async def precheck(self, raws):
        pass  # the node checks a batch's signatures over threads here (node/runtime/sig_pool.py)

    async def broadcast_tx_sync(self, raw):
        self.seen.append(raw)
        return {"hash": raw.hex(), "code": 0, "log": ""}

    async def broadcast_tx_commit(self, raw, timeout_s):
        self.seen.append(raw)
        return {"timeout_s": timeout_s}

    async def block(self, height):
        return {"height": height}

    commit = validators = block

    async def query(self, kind, params, height):
        return {"height": height}


def client(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:26657")


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and r.json()["error"]["reason"], r.text


async def test_unicode_and_out_of_range_numbers_are_400_not_500():
    backend = Backend()
    async with client(make_app(backend)) as c:
        for path in ("/block", "/commit", "/validators", "/query/account"):
            for bad in ("\u00b2", "\u0663", "1_000", " 7", "7\n", "+7", "0", "1" * 19, "9" * 400):
                params = {"height": bad, "address": "open1x"}
                assert_error(await c.get(path, params=params), 400, "bad_param")
        for bad in ("\u00b2", "\u0661\u0660", "0", "600001", "1e3", "-5", "9" * 5000):
            r = await c.get("/broadcast_tx_commit", params={"tx": "ab", "timeout_ms": bad})
            assert_error(r, 400, "bad_param")
            assert "timeout_ms" in r.json()["error"]["reason"]
        assert (await c.get("/block", params={"height": "42"})).json() == {"height": 42}
        assert backend.seen == []


async def test_deep_json_is_400_and_nothing_reaches_the_backend():
    backend = Backend()
    async with client(make_app(backend)) as c:
        for body in ("[" * 1000 + "]" * 1000, '{"tx": ' + "[" * 100_000, '{"txs": [' + '{"a":' * 30 + "1" + "}" * 30 + "]}"):
            for path in ("/broadcast_tx_sync", "/broadcast_tx_commit", "/broadcast_txs_sync"):
                assert_error(await c.post(path, content=body), 400, "bad_json")
        assert_error(await c.post("/broadcast_tx_sync", content=b'{"tx": "\xff"}'), 400, "bad_json")
        assert_error(await c.post("/broadcast_tx_sync", content="[" + "9" * 5000 + "]"), 400, "bad_json")
        # strings full of brackets are not nesting
        r = await c.post("/broadcast_tx_sync", content=json.dumps({"tx": "ab", "x": "[" * 100}))
        assert r.status_code == 200, r.text
        assert backend.seen == [b"\xab"]


async def test_an_unexpected_exception_is_a_generic_500_and_logged_with_traceback(caplog):
    caplog.set_level(logging.ERROR)
    async with client(make_app(Backend())) as c:
        r = await c.get("/status")
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal", "reason": "internal error (logged by the node)"}}
    assert "secret" not in r.text and "RuntimeError" not in r.text
    [rec] = [x for x in caplog.records if x.getMessage() == "rpc_internal_error"]
    assert rec.fields["path"] == "/status"
    assert "Traceback" in rec.fields["traceback"] and "secret internal state" in rec.fields["traceback"]


async def test_broadcast_txs_sync_is_capped_per_request():
    backend = Backend()
    async with client(make_app(backend, max_batch_txs=10)) as c:
        r = await c.post("/broadcast_txs_sync", json={"txs": ["ab"] * 11})
        assert_error(r, 413, "too_many_txs")
        assert "10" in r.json()["error"]["reason"]
        assert backend.seen == []
        r = await c.post("/broadcast_txs_sync", json={"txs": ["ab"] * 10})
        assert len(r.json()["results"]) == 10


async def test_a_long_refusal_log_is_cut_so_the_answer_stays_bounded():
    class Verbose(Backend):
        async def broadcast_tx_sync(self, raw):
            return {"hash": raw.hex(), "code": "x", "log": "y" * 100_000}
    async with client(make_app(Verbose(), max_batch_txs=10)) as c:
        r = await c.post("/broadcast_txs_sync", json={"txs": ["ab"] * 10})
        assert r.status_code == 200 and len(r.content) < 10 * 1000
        assert all(x["log"].startswith("yyy") for x in r.json()["results"])


async def test_a_foreign_origin_cannot_broadcast_but_reads_and_cli_clients_can():
    backend = Backend()
    async with client(make_app(backend)) as c:
        evil = {"origin": "https://evil.example", "content-type": "text/plain"}
        for path in ("/broadcast_tx_sync", "/broadcast_tx_commit", "/broadcast_txs_sync"):
            r = await c.post(path, content=json.dumps({"tx": "ab", "txs": ["ab"]}), headers=evil)
            assert_error(r, 403, "forbidden_origin")
        assert_error(await c.get("/broadcast_tx_sync", params={"tx": "ab"}, headers=evil), 403, "forbidden_origin")
        # DNS rebinding: the page's own name resolves to 127.0.0.1, its Host header names it
        r = await c.get("/broadcast_tx_sync", params={"tx": "ab"}, headers={"host": "evil.example:26657"})
        assert_error(r, 403, "forbidden_origin")
        assert backend.seen == []
        assert (await c.get("/block", headers=evil)).status_code == 200
        for host in ("127.0.0.1:26657", "localhost:26657", "[::1]:26657", "10.0.0.5"):
            r = await c.post("/broadcast_tx_sync", json={"tx": "ab"}, headers={"host": host})
            assert r.status_code == 200, (host, r.text)
    allowed = make_app(backend, allowed_origins=["https://wallet.example"])
    async with client(allowed) as c:
        ok = {"origin": "https://wallet.example", "host": "wallet.example"}
        assert (await c.post("/broadcast_tx_sync", json={"tx": "cd"}, headers=ok)).status_code == 200
        assert_error(await c.post("/broadcast_tx_sync", json={"tx": "cd"}, headers={"origin": "https://other.example"}),
                     403, "forbidden_origin")
    assert backend.seen.count(b"\xab") == 4 and backend.seen.count(b"\xcd") == 1


async def test_a_body_that_never_arrives_is_timed_out(nursery):
    backend = Backend()
    app = make_app(backend, body_timeout_ms=300)
    [bind] = await nursery.start(serve_rpc, app, "127.0.0.1:0")
    host, port = bind.rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(b"POST /broadcast_tx_sync HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                          b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"tx\": ")
    answer = b""
    with trio.fail_after(10):
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = await stream.receive_some(4096)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "body_timeout"
    assert backend.seen == []
    await stream.aclose()
    nursery.cancel_scope.cancel()


def test_rpc_error_is_still_importable_from_node_rpc():
    assert RpcError(400, "x", "y").status == 400


async def test_a_client_that_hangs_up_mid_body_is_not_an_internal_error(nursery, caplog):
    caplog.set_level(logging.ERROR)
    backend = Backend()
    [bind] = await nursery.start(serve_rpc, make_app(backend), "127.0.0.1:0")
    host, port = bind.rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(b"POST /broadcast_tx_sync HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                          b"content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"tx\": ")
    await stream.aclose()
    async with httpx.AsyncClient(base_url="http://" + bind) as c:  # the server still answers
        with trio.fail_after(10):
            while not (await c.get("/metrics")).text.count('attrchain_rpc_errors_total{status="400"}'):
                await trio.sleep(0.02)
    assert not [r for r in caplog.records if r.getMessage() == "rpc_internal_error"]
    assert backend.seen == []
    nursery.cancel_scope.cancel()
