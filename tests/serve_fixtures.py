"""Shared by the kofu serve tests: the demo inbox as the browser sends it, and the CLI's answer
for the same files."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kofu_excel.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
INBOX = SAMPLES / "inbox"
PASSWORDS = SAMPLES / "passwords.txt"


def inbox_files() -> list[tuple[str, Path]]:
    """(relative path as a dropped folder gives it, file) for every file of the demo inbox."""
    return sorted((p.relative_to(SAMPLES).as_posix(), p) for p in INBOX.rglob("*") if p.is_file())


def multipart_files() -> dict[str, Any]:
    """Form data for the Flask test client: files with their relative paths, and their times."""
    files = inbox_files()
    return {"files": [(p.open("rb"), rel) for rel, p in files],
            "mtimes": [str(int(p.stat().st_mtime * 1000)) for _rel, p in files]}


def cli(*args: str) -> tuple[int, dict[str, Any]]:
    """A kofu command with --json, run in samples/ so that its paths read inbox/… as the page's do."""
    runner = CliRunner()
    cwd = os.getcwd()
    os.chdir(SAMPLES)
    try:
        res = runner.invoke(main, [*args, "--json"], catch_exceptions=False)
    finally:
        os.chdir(cwd)
    return res.exit_code, json.loads(res.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
