"""Which browsers may call the RPC's state-changing endpoints (the broadcast_* ones).

A web page can make a visitor's browser send a "simple" cross-origin POST to
127.0.0.1:26657 (CSRF), or rebind its own DNS name to 127.0.0.1 and call the RPC as its
own origin (DNS rebinding). Browsers say who asks: the `Origin` header (sent on every
cross-origin POST) and the `Host` header (the page's DNS name after a rebinding). Command
line clients send no Origin and use an address as Host, so they are never refused.
`rpc.allowed_origins` lists the origins (scheme://host[:port]) allowed to broadcast; "*"
allows any.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def _hostname(authority: str) -> str | None:
    try:
        return urlsplit("//" + authority).hostname
    except ValueError:
        return None


def _is_local_or_ip(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


class OriginPolicy:
    def __init__(self, allowed_origins: tuple[str, ...] | list[str] = ()):
        self.any = "*" in allowed_origins
        self.origins = frozenset(o.rstrip("/").lower() for o in allowed_origins if o != "*")
        self.hosts = frozenset(h for h in (urlsplit(o).hostname for o in self.origins) if h)

    def refusal(self, origin: str | None, host: str | None) -> str | None:
        """Why a state-changing request with these headers is refused, or None."""
        if self.any:
            return None
        if origin is not None and origin.rstrip("/").lower() not in self.origins:
            return f"origin {origin[:100]!r} is not in rpc.allowed_origins"
        hostname = _hostname(host) if host is not None else None
        if host is not None and (hostname is None or not (_is_local_or_ip(hostname) or hostname in self.hosts)):
            return f"host {host[:100]!r} is neither an IP address, localhost nor the host of an allowed origin"
        return None
