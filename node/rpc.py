"""HTTP JSON RPC in the spirit of CometBFT's, as a starlette app served by hypercorn on trio.

The app only parses and validates requests, then calls the `RpcBackend` (the node), which
answers with JSON-able dicts or raises `RpcError`. Malformed input is a 4xx with
`{"error": {"code": ..., "reason": ...}}` and never reaches the node's consensus task.
Every endpoint is described in the OpenAPI document served at /openapi.json.
"""
from __future__ import annotations

import logging
import traceback
from typing import Any, Protocol

import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from node.explorer_static import explorer_routes
from node.logs import get_logger, log_event
from node.metrics import NodeMetrics
from node.rpc_origin import OriginPolicy
from node.rpc_params import (RpcError, height_param, hex_param, parse_json, read_body, timeout_param, uint_param,
                             tx_from_doc, txs_from_doc)

log = get_logger("rpc")
DEFAULT_MAX_BATCH_TXS = 1000        # txs per /broadcast_txs_sync request
DEFAULT_BODY_TIMEOUT_MS = 10_000    # a request body must arrive within this
MAX_LOG_CHARS = 200                 # a refusal's log in a batch answer: bounds the answer size
BROADCAST_PATHS = ("/broadcast_tx_sync", "/broadcast_tx_commit", "/broadcast_txs_sync")


class RpcBackend(Protocol):
    metrics: NodeMetrics

    async def status(self) -> dict: ...
    async def broadcast_tx_sync(self, raw: bytes) -> dict: ...
    async def broadcast_tx_commit(self, raw: bytes, timeout_s: float) -> dict: ...
    async def tx(self, tx_id: bytes) -> dict: ...
    async def block(self, height: int | None) -> dict: ...
    async def commit(self, height: int | None) -> dict: ...
    async def validators(self, height: int | None) -> dict: ...
    async def blockchain(self, max_height: int | None, limit: int) -> dict: ...
    async def block_results(self, height: int | None) -> dict: ...
    async def consensus_state(self) -> dict: ...
    async def net_info(self) -> dict: ...
    async def use_flows(self, tx_id: bytes) -> dict: ...
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
    "attestation": ("hash", "a use's Proof-of-Attribution escrows, one per datanet, each with its attestation "
                            "(scores, output hash, algorithm, status) and static weights beside the scores"),
    "attributor": ("id", "a model's Proof-of-Attribution attributor (operator, bond), or null"),
    "challenge": ("id", "an attestation's escrow (by attestation id), its challenge and the curators who decide"),
    "key": ("key", "a raw state key (hex) with its Merkle proof"),
}


def _limit_param(value: str | None, default: int, top: int) -> int:
    if value is None or value == "":
        return default
    return uint_param("limit", value, 1, top)


def build_openapi() -> dict:
    def op(summary: str, params: list[tuple[str, str, bool]], method: str = "get") -> dict:
        return {method: {
            "summary": summary,
            "parameters": [{"name": n, "in": "query", "required": req, "description": d,
                            "schema": {"type": "string"}} for n, d, req in params],
            "responses": {"200": {"description": "JSON result"},
                          "400": {"description": "malformed request: {error: {code, reason}}"},
                          "403": {"description": "broadcast_*: Origin/Host not allowed (forbidden_origin)"},
                          "404": {"description": "not found"},
                          "408": {"description": "body not received in time (body_timeout)"},
                          "410": {"description": "height pruned by this node (pruned)"},
                          "413": {"description": "body_too_large, too_many_txs"},
                          "500": {"description": "internal error (details only in the node's log)"},
                          "503": {"description": "broadcast_tx_commit: too_many_waiters"}},
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
        "/blockchain": op("metas of the latest blocks (height, id, time, tx count, proposer), newest first",
                          [("max_height", "last block (default: latest)", False),
                           ("limit", "how many blocks, 1..100 (default 20)", False)]),
        "/block_results": op("a block's txs decoded, each with its result", [("height", "block height", False)]),
        "/consensus_state": op("the height/round being decided and each validator's prevote and precommit", []),
        "/net_info": op("connected peers and the height each last announced", []),
        "/use_flows": op("where a committed use tx's payment went: each amount, recipient and path",
                         [("hash", "tx id of a use, hex", True)]),
        "/explorer/": op("the block explorer (HTML)", []),
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
             commit_timeout_ms: int = 10_000, *, max_batch_txs: int = DEFAULT_MAX_BATCH_TXS,
             body_timeout_ms: int = DEFAULT_BODY_TIMEOUT_MS,
             allowed_origins: list[str] | tuple[str, ...] = ()) -> Starlette:
    metrics = backend.metrics
    origins = OriginPolicy(allowed_origins)

    def error(status: int, code: str, reason: str, data: dict | None = None) -> JSONResponse:
        if 400 <= status < 500:
            metrics.rpc_errors.labels(str(status)).inc()
        body: dict[str, Any] = {"error": {"code": code, "reason": reason}}
        if data:
            body["error"]["data"] = data
        return JSONResponse(body, status_code=status)

    def internal_error(request: Request, exc: BaseException) -> JSONResponse:
        """A bug, not the client's fault: the client learns nothing of the internals, the
        node's log gets the whole traceback."""
        log_event(log, logging.ERROR, "rpc_internal_error", path=request.url.path,
                  method=request.method, error=type(exc).__name__,
                  traceback="".join(traceback.format_exception(exc)))
        return error(500, "internal", "internal error (logged by the node)")

    async def json_body(request: Request) -> Any:
        try:
            body = await read_body(request.stream(), request.headers.get("content-length"),
                                   max_body_bytes, body_timeout_ms / 1000)
        except ClientDisconnect:  # the client's doing, not a bug: counted, not logged
            raise RpcError(400, "client_disconnected", "the client closed the connection mid-body") from None
        return parse_json(body)

    async def tx_bytes(request: Request) -> bytes:
        if request.method == "POST":
            return tx_from_doc(await json_body(request))
        return hex_param("tx", request.query_params.get("tx"))

    def handler(fn):
        async def endpoint(request: Request) -> Response:
            try:
                if request.url.path in BROADCAST_PATHS:
                    refusal = origins.refusal(request.headers.get("origin"), request.headers.get("host"))
                    if refusal is not None:
                        raise RpcError(403, "forbidden_origin", refusal)
                result = await fn(request)
            except RpcError as e:
                return error(e.status, e.code, e.reason, e.data)
            except Exception as e:  # noqa: BLE001 -- answered and logged, never shown
                return internal_error(request, e)
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
        raws = txs_from_doc(await json_body(request), max_batch_txs)
        await backend.precheck(raws)  # signatures over threads; admission below, in order
        results = []
        for i, raw in enumerate(raws):
            if i and i % 64 == 0:
                await trio.sleep(0)  # let consensus run between chunks of a big batch
            result = await backend.broadcast_tx_sync(raw)
            result["log"] = str(result.get("log", ""))[:MAX_LOG_CHARS]
            results.append(result)
        return {"results": results}

    async def broadcast_commit(request: Request):
        raw = await tx_bytes(request)
        return await backend.broadcast_tx_commit(
            raw, timeout_param(request.query_params.get("timeout_ms"), commit_timeout_ms))

    async def tx(request: Request):
        return await backend.tx(hex_param("hash", request.query_params.get("hash"), 32))

    async def block(request: Request):
        return await backend.block(height_param(request.query_params.get("height")))

    async def commit(request: Request):
        return await backend.commit(height_param(request.query_params.get("height")))

    async def validators(request: Request):
        return await backend.validators(height_param(request.query_params.get("height")))

    async def blockchain(request: Request):
        q = request.query_params
        return await backend.blockchain(height_param(q.get("max_height")),
                                        _limit_param(q.get("limit"), 20, 100))

    async def block_results(request: Request):
        return await backend.block_results(height_param(request.query_params.get("height")))

    async def consensus_state(request: Request):
        return await backend.consensus_state()

    async def net_info(request: Request):
        return await backend.net_info()

    async def use_flows(request: Request):
        return await backend.use_flows(hex_param("hash", request.query_params.get("hash"), 32))

    async def query(request: Request):
        kind = request.path_params["kind"]
        if kind not in QUERY_KINDS:
            raise RpcError(404, "unknown_query", f"no query {kind!r} (known: {', '.join(QUERY_KINDS)})")
        param = QUERY_KINDS[kind][0]
        value = request.query_params.get(param)
        if value is None:
            raise RpcError(400, "missing_param", f"parameter {param!r} is required")
        params = {param: value}
        return await backend.query(kind, params, height_param(request.query_params.get("height")))

    async def openapi(request: Request):
        return OPENAPI

    async def metrics_endpoint(request: Request):
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, "http_error", exc.detail or "error")

    async def any_error(request: Request, exc: Exception) -> Response:
        return internal_error(request, exc)

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
        Route("/blockchain", handler(blockchain)),
        Route("/block_results", handler(block_results)),
        Route("/consensus_state", handler(consensus_state)),
        Route("/net_info", handler(net_info)),
        Route("/use_flows", handler(use_flows)),
        Route("/query/{kind}", handler(query)),
        Route("/openapi.json", handler(openapi)),
        Route("/metrics", metrics_endpoint),
        *explorer_routes(),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: any_error})


async def serve_rpc(app: Starlette, listen: str, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Serve until cancelled; `task_status.started(bound)` reports the actual host:port."""
    from hypercorn.config import Config as HyperConfig
    from hypercorn.trio import serve

    hc = HyperConfig()
    hc.bind = [listen]
    hc.accesslog = None
    hc.errorlog = None  # the app logs its own errors (rpc_internal_error) to the node's log
    # hypercorn's read_timeout would also cut a broadcast_tx_commit that waits quietly; its
    # idle timer (keep_alive_timeout, 5 s) already drops a connection whose request headers
    # are not complete by then, and the app times out slow bodies (body_timeout_ms)
    hc.graceful_timeout = 0.5

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(lambda task_status: serve(app, hc, task_status=task_status))
        task_status.started([b.removeprefix("http://") for b in binds])
