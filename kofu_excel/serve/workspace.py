"""The workspace folder: one folder per run (inputs under generated names, outputs, run.json),
and the lock that lets one run at a time write into it.

Layout::

    <workspace>/
      runs/<run id>/run.json        the run record (plain JSON, see :class:`Run`): small, for the list
      runs/<run id>/result.json     the --json document and the page's figures (can be large)
      runs/<run id>/inputs/0001.dat uploads, stored under generated names (original names in run.json)
      runs/<run id>/outputs/…       what the run wrote; downloads are named in run.json only
      tmp/                          upload buffers while a request is read (emptied at start)
      .kofu-serve.lock              held while a run writes (one run at a time, across processes)

Nothing here ever builds a path from a name that came from a request: run ids are generated
and checked against :data:`RUN_ID`, stored files are numbered, and downloads are looked up in
the run record.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import sys
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

RUN_ID = re.compile(r"\A\d{8}-\d{6}-[0-9a-f]{6}\Z")
RECORD = "run.json"
RESULT = "result.json"
LOCK = ".kofu-serve.lock"


def default_workspace() -> Path:
    """%USERPROFILE%\\Documents\\kofu-excel on Windows; elsewhere ~/Documents/kofu-excel, or
    ~/kofu-excel when there is no Documents folder."""
    home = Path(os.environ.get("USERPROFILE", "")) if sys.platform == "win32" else Path.home()
    if sys.platform == "win32" and not str(home):
        home = Path.home()
    docs = home / "Documents"
    return (docs if sys.platform == "win32" or docs.is_dir() else home) / "kofu-excel"


class Busy(Exception):
    """Another run holds the workspace."""


def display_name(given: str) -> str:
    """An uploaded file's name as data: NFC, "/" separators, no control characters, and no
    empty, "." or ".." parts (so it can never climb out of anything, even as text)."""
    text = unicodedata.normalize("NFC", given).replace("\\", "/")
    text = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    parts = [p.strip() for p in text.split("/")]
    parts = [p for p in parts if p and p not in (".", "..")]
    return "/".join(parts)[-400:] or "（名前なし）"


@dataclass
class Upload:
    """One uploaded file: the generated name it is stored under and the name it came with."""

    stored: str  # e.g. "0001.dat", inside the run's inputs/
    name: str  # the relative path it came with, cleaned by display_name()
    given: str  # the filename exactly as sent (data only, never a path)
    size: int
    mtime: float | None = None


@dataclass
class Run:
    """run.json: what a run was given and what it produced (plain data, read back by the page)."""

    id: str
    kind: str  # merge | validate | templates
    created: str  # ISO time, local
    state: str = "running"  # running | done | failed
    pref: str = ""
    level: str = "prefecture"
    uploads: list[Upload] = field(default_factory=list)
    downloads: dict[str, str] = field(default_factory=dict)  # file name → path inside outputs/
    counts: dict[str, int] = field(default_factory=dict)  # intake status → n (merge) / result → n
    missing: int = 0
    exit_code: int | None = None
    error: str = ""  # "Ennn: 日本語の説明" when the run could not finish
    notice: str = ""  # "Ennn: …" when it finished with nothing usable (what the CLI prints on stderr)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Run:
        uploads = [Upload(**u) for u in doc.get("uploads", [])]
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__ and k != "uploads"}
        return cls(**known, uploads=uploads)


class Workspace:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.runs = self.root / "runs"
        self.tmp = self.root / "tmp"
        self._thread_lock = threading.Lock()

    def prepare(self) -> None:
        """Create the folders; empty tmp/ (buffers of a server that was stopped mid-request)."""
        self.runs.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    # -- runs --------------------------------------------------------------------------------
    def new_run(self, kind: str) -> Run:
        now = dt.datetime.now()
        run = Run(id=f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}", kind=kind,
                  created=now.isoformat(timespec="seconds"))
        (self.run_dir(run.id) / "inputs").mkdir(parents=True)
        (self.run_dir(run.id) / "outputs").mkdir()
        self.save(run)
        return run

    def run_dir(self, run_id: str) -> Path:
        if not RUN_ID.match(run_id):
            raise KeyError(run_id)
        return self.runs / run_id

    def inputs(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "inputs"

    def outputs(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "outputs"

    def save(self, run: Run) -> None:
        _write_json(self.run_dir(run.id) / RECORD, run.to_json())

    def save_result(self, run_id: str, result: dict[str, Any]) -> None:
        _write_json(self.run_dir(run_id) / RESULT, result)

    def result(self, run_id: str) -> dict[str, Any]:
        """A finished run's result ({"json": …, "view": …}); {} when it has none."""
        try:
            doc = json.loads((self.run_dir(run_id) / RESULT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def load(self, run_id: str) -> Run:
        """The run record; KeyError for an unknown or malformed id."""
        path = self.run_dir(run_id) / RECORD
        try:
            return Run.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise KeyError(run_id) from exc

    def list_runs(self) -> list[Run]:
        """Every run, newest first (folders without a readable record are skipped)."""
        out = []
        for d in sorted(self.runs.iterdir(), reverse=True) if self.runs.is_dir() else []:
            if RUN_ID.match(d.name):
                with contextlib.suppress(KeyError):
                    out.append(self.load(d.name))
        return out

    def delete(self, run_id: str) -> None:
        d = self.run_dir(run_id)
        if not (d / RECORD).is_file():
            raise KeyError(run_id)
        shutil.rmtree(d)

    def download(self, run_id: str, name: str) -> Path:
        """The file a run offers under ``name`` (KeyError when it offers none by that name)."""
        rel = self.load(run_id).downloads[name]
        out = self.outputs(run_id)
        path = (out / rel).resolve()
        if out.resolve() not in path.parents or not path.is_file():
            raise KeyError(name)
        return path

    # -- one run at a time -------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Held while a run writes: Busy when another request of this server, or another
        ``kofu serve`` on the same workspace, holds it. The OS lock dies with its process."""
        if not self._thread_lock.acquire(blocking=False):
            raise Busy
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = open(self.root / LOCK, "a+b")  # noqa: SIM115 - held for the whole run
            try:
                if not _try_lock(fh):
                    raise Busy
                try:
                    yield
                finally:
                    _unlock(fh)
            finally:
                fh.close()
        finally:
            self._thread_lock.release()


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)


def _try_lock(fh: IO[bytes]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fh: IO[bytes]) -> None:
    if sys.platform == "win32":
        import msvcrt

        with contextlib.suppress(OSError):
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
