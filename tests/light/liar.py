"""A deliberately lying full node: an HTTP server (starlette on hypercorn's trio worker)
that proxies a real node's RPC and alters exactly one thing in its answers.

    async with open_liar(real_rpc, lie) as liar:   # lie(path, params, doc) -> doc
        RpcProvider(liar.url) ...                    # liar.told: paths where it lied

A lie returns a NEW dict when it alters an answer (so the test can check it really lied)
and the very same dict otherwise; it sees error answers too (to invent what a node lacks).
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable

import httpx
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from node.rpc import serve_rpc

Lie = Callable[[str, dict, dict], dict]


@dataclass
class Liar:
    url: str = ""
    told: list[str] = field(default_factory=list)


@asynccontextmanager
async def open_liar(upstream: str, lie: Lie) -> AsyncIterator[Liar]:
    http = httpx.AsyncClient(base_url="http://" + upstream, timeout=10)
    liar = Liar()

    async def proxy(request: Request) -> JSONResponse:
        path = request.url.path
        r = await http.request(request.method, path, params=dict(request.query_params),
                               content=await request.body(),
                               headers={"content-type": request.headers.get("content-type", "")})
        doc = r.json()
        altered = lie(path, dict(request.query_params), doc)
        if altered is doc:
            return JSONResponse(doc, status_code=r.status_code)
        liar.told.append(path)
        return JSONResponse(altered)   # a lie is always served as a success

    app = Starlette(routes=[Route("/{path:path}", proxy, methods=["GET", "POST"])])
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve_rpc, app, "127.0.0.1:0")
        liar.url = binds[0]
        try:
            yield liar
        finally:
            nursery.cancel_scope.cancel()
            await http.aclose()
