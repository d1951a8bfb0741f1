"""A local server is still a server: the token, the Host and Origin checks, the headers.

- Every request needs the access token (``X-Kofu-Token`` header or ``?token=``): else 403 E910.
- The Host header must name the loopback interface (DNS rebinding): else 403 E911.
- A state-changing request (POST, DELETE …) must come from the page itself: an ``Origin`` (or,
  without one, a ``Referer``) of this server, or the token in the ``X-Kofu-Token`` header — a
  header no other site's page can add without CORS, which this server never grants. A foreign
  Origin is refused even with the header: 403 E912.
- Every response carries a Content-Security-Policy without inline script, nosniff, no framing,
  and no caching.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

TOKEN_HEADER = "X-Kofu-Token"
TOKEN_PARAM = "token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

E_TOKEN = "E910"
E_HOST = "E911"
E_ORIGIN = "E912"

MESSAGES = {
    E_TOKEN: "アクセスできません。kofu serve を起動したときに表示された URL（token= 付き）から開いてください",
    E_HOST: "このサーバーには 127.0.0.1 または localhost の名前でだけ接続できます",
    E_ORIGIN: "この操作は kofu serve の画面からだけ行えます（他のページからの送信は受け付けません）",
}

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _host_name(host: str) -> str:
    """``127.0.0.1:8765`` → ``127.0.0.1``; ``[::1]:8765`` → ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def check(method: str, host: str | None, headers: Mapping[str, str], query_token: str | None,
          token: str, port: int | None) -> str | None:
    """The code of the first rule a request breaks, or None when it may proceed."""
    if not host or _host_name(host) not in LOOPBACK_HOSTS:
        return E_HOST
    if port is not None and not host.strip().endswith(f":{port}"):
        return E_HOST
    header_token = headers.get(TOKEN_HEADER)
    given = header_token or query_token or ""
    if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
        return E_TOKEN
    if method.upper() in SAFE_METHODS:
        return None
    origin = headers.get("Origin")
    if origin is None and headers.get("Referer"):
        parts = urlsplit(headers["Referer"])
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin is not None:
        return None if _same_origin(origin, host) else E_ORIGIN
    return None if header_token else E_ORIGIN


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme == "http" and parts.netloc.lower() == host.strip().lower()
