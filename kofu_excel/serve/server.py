"""Start the server: a loopback socket (another port when the wanted one is busy), the URL with
its token as the first line on stdout, the browser, and a clean stop on Ctrl-C."""

from __future__ import annotations

import errno
import signal
import socket
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waitress.server import create_server

from . import jobs, security
from .app import Limits, create_app
from .workspace import Workspace

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
SLACK = 1024 * 1024  # bytes waitress accepts beyond the app's limit (see make_server)
E_WORKSPACE = "E917"


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:port, or on a free port when that one is taken."""
    for candidate in (port, 0):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if sys.platform != "win32":  # on Windows SO_REUSEADDR would let two servers share a port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, candidate))
        except OSError as exc:
            sock.close()
            if candidate == 0 or exc.errno not in (errno.EADDRINUSE, errno.EACCES, 10048, 10013):
                raise
            continue
        sock.listen(64)
        return sock
    raise AssertionError("unreachable")


def make_server(app: Any, sock: socket.socket, limits: Limits) -> Any:
    """waitress on ``sock``. It buffers a request's body before the app sees it, so it gets a
    slightly higher cap than the app's: a body just over the limit still reaches the app and
    gets its Japanese E913; one far over is cut off by waitress unread (a bare 413, which the
    page shows as E913 too)."""
    return create_server(app, sockets=[sock], threads=4, ident="kofu-excel",
                         max_request_body_size=limits.max_request_bytes + SLACK,
                         clear_untrusted_proxy_headers=True)


def run(port: int, workspace: str | None, open_browser: bool, config: str | None,
        echo: Callable[[str], None], err: Callable[[str], None]) -> int:
    """Serve until Ctrl-C; the exit status."""
    from .workspace import default_workspace

    root = Path(workspace) if workspace else default_workspace()
    ws = Workspace(root)
    try:
        ws.prepare()
    except OSError as exc:
        err(f"{E_WORKSPACE}: 作業フォルダ {root} を作成・使用できません（{exc.strerror or exc}）")
        return 2
    # Anything a request buffers (waitress's body buffer, form parts) stays in the workspace.
    tempfile.tempdir = str(ws.tmp)
    settings = jobs.Settings(config)
    limits = Limits()
    sock = bind(port)
    actual = sock.getsockname()[1]
    token = security.new_token()
    app = create_app(ws, token, settings, limits, port=actual)
    server = make_server(app, sock, limits)
    url = f"http://{HOST}:{actual}/?token={token}"
    echo(url)
    note = "" if actual == port else f"（ポート {port} は使用中のため {actual} を使います）"
    err(f"kofu serve を起動しました{note}。作業フォルダ：{ws.root}。止めるには Ctrl+C を押してください")
    if open_browser:
        threading.Timer(0.3, webbrowser.open, args=(url,)).start()
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):  # Ctrl+C (even where the shell ignored it), kill, Ctrl+Break
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    err("kofu serve を停止しました")
    return 0


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
