"""HTTP JSON RPC in the spirit of CometBFT's, as a starlette app served by hypercorn on trio.

The app only parses and validates requests, then calls the `RpcBackend` (the node), which
answers with JSON-able dicts or raises `RpcError`. Malformed input is a 4xx with
`{"error": {"code": ..., "reason": ...}}` and never reaches the node's consensus task.
Every endpoint is described in the OpenAPI document served at /openapi.json (openapi.py).
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

from node.logs import get_logger, log_event
from node.runtime.metrics import NodeMetrics
from node.rpc.explorer_static import explorer_routes
from node.rpc.openapi import OPENAPI, QUERY_KINDS
from node.rpc.rpc_origin import OriginPolicy
from node.rpc.rpc_params import (RpcError, height_param, hex_param, parse_json, read_body, timeout_param, uint_param,
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


def _limit_param(value: str | None, default: int, top: int) -> int:
    if value is None or value == "":
        return default
    return uint_param("limit", value, 1, top)


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


KEEP_ALIVE_TIMEOUT_S = 5.0  # an idle client connection is closed after this (rpc_client.py lets go sooner)


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
    hc.keep_alive_timeout = KEEP_ALIVE_TIMEOUT_S

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(lambda task_status: serve(app, hc, task_status=task_status))
        task_status.started([b.removeprefix("http://") for b in binds])
