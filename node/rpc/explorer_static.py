"""The browser explorer's static files (node/rpc/explorer/static/), served by the RPC app at
/explorer. Read once from the package; only the files found there are served, with a
content security policy that lets a page load nothing but this node's own files and RPC."""
from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
         ".txt": "text/plain; charset=utf-8"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def load_files() -> dict[str, tuple[bytes, str]]:
    root = resources.files("node.rpc") / "explorer" / "static"
    out = {}
    for f in root.iterdir():
        ext = "." + f.name.rsplit(".", 1)[-1]
        if f.is_file() and ext in TYPES:
            out[f.name] = (f.read_bytes(), TYPES[ext])
    return out


def explorer_routes() -> list[Route]:
    files = load_files()

    async def index(request: Request) -> Response:
        return RedirectResponse("/explorer/", status_code=308)

    async def serve(request: Request) -> Response:
        name = request.path_params.get("name") or "index.html"
        if name not in files:
            return Response("not found", status_code=404, media_type="text/plain")
        body, ctype = files[name]
        return Response(body, media_type=ctype, headers=HEADERS)

    return [Route("/explorer", index), Route("/explorer/", serve), Route("/explorer/{name}", serve)]
