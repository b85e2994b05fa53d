"""A lean keep-alive JSON client for the bench's load generator (stdlib http.client).

The load generator shares the machine with the nodes it measures, so its own CPU per tx
counts: httpx spent ~1.1 ms of CPU per request here, http.client ~0.45 ms (docs/bench.md
"The load generator"). One connection per thread, reopened after any failure.
"""
from __future__ import annotations

import http.client
import json
from urllib.parse import urlencode


class JsonHttpError(Exception):
    """The request failed: connection, HTTP status, or a body that is not JSON."""


class JsonConnection:
    def __init__(self, hostport: str, timeout: float) -> None:
        self.hostport = hostport
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def get(self, path: str, **params) -> dict:
        return self._request("GET", f"{path}?{urlencode(params)}" if params else path, None)

    def post(self, path: str, body: str) -> dict:
        return self._request("POST", path, body.encode())

    def _request(self, method: str, path: str, body: bytes | None) -> dict:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.hostport, timeout=self.timeout)
        try:
            headers = {"content-type": "application/json"} if body is not None else {}
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()  # a half-read connection cannot be reused
            raise JsonHttpError(f"{method} {path}: {type(e).__name__}: {e}") from None
        if response.status != 200:
            raise JsonHttpError(f"{method} {path}: HTTP {response.status}")
        try:
            return json.loads(data)
        except ValueError:
            raise JsonHttpError(f"{method} {path}: the body is not JSON") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
