"""testnet/json_http.py: the load generator's keep-alive JSON client."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from testnet.json_http import JsonConnection, JsonHttpError


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/status"):
            self._send(200, json.dumps({"path": self.path}).encode())
        elif self.path == "/text":
            self._send(200, b"not json")
        elif self.path == "/close":  # answers, then drops the kept-alive connection
            self._send(200, b"{}", close=True)
        else:
            self._send(404, b'{"error": "not found"}')

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self._send(200, json.dumps({"results": [len(t) for t in body["txs"]],
                                    "type": self.headers["content-type"]}).encode())

    def _send(self, status, body, close=False):
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        if close:
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = close

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    yield f"127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_get_with_params_and_post_a_json_body(server):
    c = JsonConnection(server, timeout=5)
    assert c.get("/status", height=7) == {"path": "/status?height=7"}
    assert c.post("/broadcast_txs_sync", json.dumps({"txs": ["ab", "cdef"]})) == {
        "results": [2, 4], "type": "application/json"}
    c.close()


def test_a_connection_the_server_closed_is_reopened(server):
    c = JsonConnection(server, timeout=5)
    assert c.get("/close") == {}
    assert c.get("/status")["path"] == "/status"
    c.close()


@pytest.mark.parametrize("path", ["/missing", "/text"])
def test_an_error_status_or_a_body_that_is_not_json_raises(server, path):
    c = JsonConnection(server, timeout=5)
    with pytest.raises(JsonHttpError):
        c.get(path)
    assert c.get("/status")["path"] == "/status"  # the connection is still usable
    c.close()


def test_no_server_raises_json_http_error():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    srv.server_close()  # a port nobody listens on
    with pytest.raises(JsonHttpError):
        JsonConnection(f"127.0.0.1:{port}", timeout=2).get("/status")
