"""HTTP JSON RPC in the spirit of CometBFT's, as a starlette app served by hypercorn on trio.

The app only parses and validates requests, then calls the `RpcBackend` (the node), which
answers with JSON-able dicts or raises `RpcError`. Malformed input is a 4xx with
`{"error": {"code": ..., "reason": ...}}` and never reaches the node's consensus task.
Every endpoint is described in the OpenAPI document served at /openapi.json.
"""
from __future__ import annotations

import json
from typing import Any, Protocol

import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from node.metrics import NodeMetrics


class RpcError(Exception):
    def __init__(self, status: int, code: str, reason: str, data: dict[str, Any] | None = None):
        super().__init__(reason)
        self.status, self.code, self.reason, self.data = status, code, reason, data


class RpcBackend(Protocol):
    metrics: NodeMetrics

    async def status(self) -> dict: ...
    async def broadcast_tx_sync(self, raw: bytes) -> dict: ...
    async def broadcast_tx_commit(self, raw: bytes, timeout_s: float) -> dict: ...
    async def tx(self, tx_id: bytes) -> dict: ...
    async def block(self, height: int | None) -> dict: ...
    async def commit(self, height: int | None) -> dict: ...
    async def validators(self, height: int | None) -> dict: ...
    async def query(self, kind: str, params: dict[str, str], height: int | None) -> dict: ...


QUERY_KINDS = {
    "account": ("address", "an account: balance, nonce, stake"),
    "asset": ("id", "an asset (datanet, contribution, model, agent), its largest holders and vault"),
    "upstream": ("id", "the attribution graph above an asset (its sources, recursively)"),
    "downstream": ("id", "the assets built on an asset, recursively"),
    "earnings": ("address", "what an account earned, by asset"),
    "holdings": ("address", "an account's revenue rights across assets: shares, locked, earned, accrued"),
    "orders": ("address", "an account's open orders"),
    "order": ("id", "one order by id (open or closed)"),
    "book": ("id", "the order book of an asset: price levels a side, best first, and the last price"),
    "fills": ("id", "the recent fills and last price of an asset"),
    "key": ("key", "a raw state key (hex) with its Merkle proof"),
}


def _hex_param(name: str, value: str | None, length: int | None = None) -> bytes:
    if value is None:
        raise RpcError(400, "missing_param", f"parameter {name!r} is required")
    v = value.removeprefix("0x")
    try:
        raw = bytes.fromhex(v)
    except ValueError:
        raise RpcError(400, "bad_param", f"parameter {name!r} is not hex") from None
    if length is not None and len(raw) != length:
        raise RpcError(400, "bad_param", f"parameter {name!r} must be {length} bytes, got {len(raw)}")
    return raw


def _height_param(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise RpcError(400, "bad_param", f"height must be a positive integer, got {value!r}")
    h = int(value)
    if h < 1:
        raise RpcError(400, "bad_param", "height must be >= 1")
    return h


def _timeout_param(value: str | None, default_ms: int) -> float:
    if value is None:
        return default_ms / 1000
    if not value.isdigit() or not 0 < int(value) <= 600_000:
        raise RpcError(400, "bad_param", "timeout_ms must be an integer in 1..600000")
    return int(value) / 1000


def build_openapi() -> dict:
    def op(summary: str, params: list[tuple[str, str, bool]], method: str = "get") -> dict:
        return {method: {
            "summary": summary,
            "parameters": [{"name": n, "in": "query", "required": req, "description": d,
                            "schema": {"type": "string"}} for n, d, req in params],
            "responses": {"200": {"description": "JSON result"},
                          "400": {"description": "malformed request: {error: {code, reason}}"},
                          "404": {"description": "not found"}},
        }}
    tx_param = [("tx", "signed tx bytes, hex (GET) or JSON body {\"tx\": hex} (POST)", True)]
    paths: dict[str, Any] = {
        "/status": op("node identity, latest block, sync and consensus state", []),
        "/broadcast_tx_sync": {**op("admit a tx to the mempool; returns the admission result", tx_param),
                               **op("same, JSON body", [], "post")},
        "/broadcast_tx_commit": {**op("admit a tx and wait until it is committed (or timeout_ms)",
                                      tx_param + [("timeout_ms", "how long to wait", False)]),
                                 **op("same, JSON body", [], "post")},
        "/broadcast_txs_sync": op("admit many txs, JSON body {\"txs\": [hex, ...]}; one broadcast_tx_sync result each",
                                  [], "post"),
        "/tx": op("a committed tx by hash, with its result and inclusion proof against the block's data_hash",
                  [("hash", "tx id, hex", True)]),
        "/block": op("a block by height (default: latest)", [("height", "block height", False)]),
        "/commit": op("the commit (precommit signatures) for a height", [("height", "block height", False)]),
        "/validators": op("the validator set at a height", [("height", "block height", False)]),
        "/metrics": op("Prometheus metrics (text)", []),
        "/openapi.json": op("this document", []),
    }
    for kind, (param, desc) in QUERY_KINDS.items():
        paths[f"/query/{kind}"] = op(desc + "; with Merkle proof against the app hash",
                                     [(param, param, True), ("height", "state after this height", False)])
    return {"openapi": "3.0.3",
            "info": {"title": "attrchain node RPC", "version": "1"},
            "paths": paths}


OPENAPI = build_openapi()


def make_app(backend: RpcBackend, max_body_bytes: int = 1_048_576,
             commit_timeout_ms: int = 10_000) -> Starlette:
    metrics = backend.metrics

    def error(status: int, code: str, reason: str, data: dict | None = None) -> JSONResponse:
        if 400 <= status < 500:
            metrics.rpc_errors.labels(str(status)).inc()
        body: dict[str, Any] = {"error": {"code": code, "reason": reason}}
        if data:
            body["error"]["data"] = data
        return JSONResponse(body, status_code=status)

    async def json_body(request: Request):
        """The request body parsed as JSON, read in chunks and refused past max_body_bytes
        (checked on the declared length first, then on what actually arrives)."""
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body_bytes):
            raise RpcError(413, "body_too_large", f"body exceeds {max_body_bytes} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                raise RpcError(413, "body_too_large", f"body exceeds {max_body_bytes} bytes")
        try:
            return json.loads(body)
        except ValueError:
            raise RpcError(400, "bad_json", "body is not JSON") from None

    async def tx_bytes(request: Request) -> bytes:
        if request.method == "POST":
            doc = await json_body(request)
            if not isinstance(doc, dict) or not isinstance(doc.get("tx"), str):
                raise RpcError(400, "bad_param", "body must be {\"tx\": \"<hex>\"}")
            return _hex_param("tx", doc["tx"])
        return _hex_param("tx", request.query_params.get("tx"))

    def handler(fn):
        async def endpoint(request: Request) -> Response:
            try:
                result = await fn(request)
            except RpcError as e:
                return error(e.status, e.code, e.reason, e.data)
            if isinstance(result, Response):
                return result
            return JSONResponse(result)
        return endpoint

    async def status(request: Request):
        return await backend.status()

    async def broadcast_sync(request: Request):
        return await backend.broadcast_tx_sync(await tx_bytes(request))

    async def broadcast_batch(request: Request):
        """Many txs in one request (load generators): `{"txs": [hex, ...]}` -> one
        broadcast_tx_sync result per tx, in order. Saves the per-request HTTP cost."""
        doc = await json_body(request)
        txs = doc.get("txs") if isinstance(doc, dict) else None
        if not isinstance(txs, list) or not all(isinstance(t, str) for t in txs):
            raise RpcError(400, "bad_param", "body must be {\"txs\": [\"<hex>\", ...]}")
        raws = [_hex_param("tx", t) for t in txs]
        results = []
        for i, raw in enumerate(raws):
            if i and i % 64 == 0:
                await trio.sleep(0)  # let consensus run between chunks of a big batch
            results.append(await backend.broadcast_tx_sync(raw))
        return {"results": results}

    async def broadcast_commit(request: Request):
        raw = await tx_bytes(request)
        return await backend.broadcast_tx_commit(
            raw, _timeout_param(request.query_params.get("timeout_ms"), commit_timeout_ms))

    async def tx(request: Request):
        return await backend.tx(_hex_param("hash", request.query_params.get("hash"), 32))

    async def block(request: Request):
        return await backend.block(_height_param(request.query_params.get("height")))

    async def commit(request: Request):
        return await backend.commit(_height_param(request.query_params.get("height")))

    async def validators(request: Request):
        return await backend.validators(_height_param(request.query_params.get("height")))

    async def query(request: Request):
        kind = request.path_params["kind"]
        if kind not in QUERY_KINDS:
            raise RpcError(404, "unknown_query", f"no query {kind!r} (known: {', '.join(QUERY_KINDS)})")
        param = QUERY_KINDS[kind][0]
        value = request.query_params.get(param)
        if value is None:
            raise RpcError(400, "missing_param", f"parameter {param!r} is required")
        params = {param: value}
        return await backend.query(kind, params, _height_param(request.query_params.get("height")))

    async def openapi(request: Request):
        return OPENAPI

    async def metrics_endpoint(request: Request):
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, "http_error", exc.detail or "error")

    async def any_error(request: Request, exc: Exception) -> Response:
        return error(500, "internal", f"{type(exc).__name__}: {exc}")

    both = ["GET", "POST"]
    routes = [
        Route("/status", handler(status)),
        Route("/broadcast_tx_sync", handler(broadcast_sync), methods=both),
        Route("/broadcast_tx_commit", handler(broadcast_commit), methods=both),
        Route("/broadcast_txs_sync", handler(broadcast_batch), methods=["POST"]),
        Route("/tx", handler(tx)),
        Route("/block", handler(block)),
        Route("/commit", handler(commit)),
        Route("/validators", handler(validators)),
        Route("/query/{kind}", handler(query)),
        Route("/openapi.json", handler(openapi)),
        Route("/metrics", metrics_endpoint),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: any_error})


async def serve_rpc(app: Starlette, listen: str, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Serve until cancelled; `task_status.started(bound)` reports the actual host:port."""
    from hypercorn.config import Config as HyperConfig
    from hypercorn.trio import serve

    hc = HyperConfig()
    hc.bind = [listen]
    hc.accesslog = None
    hc.errorlog = None
    hc.graceful_timeout = 0.5

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(lambda task_status: serve(app, hc, task_status=task_status))
        task_status.started([b.removeprefix("http://") for b in binds])
