"""`kofu serve` as an official starts it: the URL first, a busy port, Ctrl-C, a fast `kofu --help`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from serve_fixtures import free_port

KOFU = [sys.executable, "-c", "from kofu_excel.cli import main; main()"]


@contextmanager
def serving(tmp_path: Path, port: int) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen([*KOFU, "serve", "--no-browser", "--port", str(port),
                             "--workspace", str(tmp_path / "ws")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_the_first_line_is_the_url_with_its_token_and_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    with serving(tmp_path, port) as (proc, url):
        assert url.startswith(f"http://127.0.0.1:{port}/?token=") and len(url.split("token=")[1]) >= 24
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200 and "とりまとめ" in resp.read().decode()
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(url.split("?")[0], timeout=30)
        assert exc.value.code == 403
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "停止しました" in err
    assert (tmp_path / "ws" / "runs").is_dir()


def test_it_listens_on_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    with serving(tmp_path, port) as (_proc, url):
        assert url
        addrs = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
        addrs.discard("127.0.0.1")
        addrs = {a for a in addrs if not a.startswith("127.")}
        for addr in addrs:  # the machine's other addresses: nobody is listening there
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((addr, port)) != 0


def test_a_busy_port_makes_it_pick_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with serving(tmp_path, port) as (proc, url):
            got = int(url.split(":")[2].split("/")[0])
            assert got != port
            with urllib.request.urlopen(url, timeout=30) as resp:
                assert resp.status == 200
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=30)
            assert f"ポート {port} は使用中" in err


def test_an_unusable_workspace_is_one_line_with_a_code(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = subprocess.run([*KOFU, "serve", "--no-browser", "--workspace", str(blocker / "ws")],
                         capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert res.returncode == 2
    assert res.stderr.startswith("E917: ") and "Traceback" not in res.stderr


def test_kofu_help_does_not_import_the_web_stack() -> None:
    code = ("import sys\nfrom click.testing import CliRunner\nfrom kofu_excel.cli import main\n"
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0 and 'serve' in r.output\n"
            "r = CliRunner().invoke(main, ['serve', '--help']); assert r.exit_code == 0\n"
            "print(sorted(m for m in ('flask', 'werkzeug', 'waitress', 'kofu_excel.serve.app') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
