"""A small synchronous client of the node's HTTP RPC (used by the CLI and testnet tools)."""
from __future__ import annotations

from typing import Any

import httpx

# The node's RPC server (hypercorn) closes a connection idle for 5 s (keep_alive_timeout).
# httpx's pool keeps one for 5 s too, so a request sent as the server closes it met
# "Connection reset by peer" on a loaded machine; the client lets go of idle ones first.
KEEPALIVE_EXPIRY_S = 2.0


class RpcClientError(Exception):
    def __init__(self, code: str, reason: str, status: int = 0):
        super().__init__(f"{code}: {reason}")
        self.code, self.reason, self.status = code, reason, status


def normalise_url(url: str) -> str:
    return url if url.startswith("http") else "http://" + url


class RpcClient:
    def __init__(self, url: str, timeout: float = 10.0):
        self.url = normalise_url(url)
        self.http = httpx.Client(base_url=self.url, timeout=timeout,
                                 limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "RpcClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _result(self, r: httpx.Response) -> Any:
        try:
            doc = r.json()
        except ValueError:
            raise RpcClientError("bad_response", f"HTTP {r.status_code}: not JSON", r.status_code) from None
        if r.status_code >= 400:
            err = doc.get("error", {}) if isinstance(doc, dict) else {}
            raise RpcClientError(err.get("code", "http_error"), err.get("reason", r.text), r.status_code)
        return doc

    def get(self, path: str, **params: Any) -> Any:
        try:
            r = self.http.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.HTTPError as e:
            raise RpcClientError("unreachable", f"{self.url}: {e}") from None
        return self._result(r)

    def post(self, path: str, body: dict, **params: Any) -> Any:
        try:
            r = self.http.post(path, json=body, params={k: v for k, v in params.items() if v is not None})
        except httpx.HTTPError as e:
            raise RpcClientError("unreachable", f"{self.url}: {e}") from None
        return self._result(r)

    def status(self) -> dict:
        return self.get("/status")

    def broadcast_tx_sync(self, raw: bytes) -> dict:
        return self.post("/broadcast_tx_sync", {"tx": raw.hex()})

    def broadcast_tx_commit(self, raw: bytes, timeout_ms: int | None = None) -> dict:
        return self.post("/broadcast_tx_commit", {"tx": raw.hex()}, timeout_ms=timeout_ms)

    def query(self, kind: str, height: int | None = None, **params: str) -> dict:
        return self.get(f"/query/{kind}", height=height, **params)
