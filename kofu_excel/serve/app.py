"""The web application: pages (Jinja, autoescaped) and the JSON API the pages themselves use.

Routes (all need the token; see security.py):

- ``GET /`` the page: start a run, make templates, past runs. ``GET /runs/<id>`` one run.
- ``POST /api/merge`` / ``POST /api/validate``: multipart ``files`` (repeated; the relative
  path as the filename when a folder was dropped), optional ``passwords`` (one per line),
  ``pref``, ``level``; optional ``mtimes`` (one per file, ms since 1970, as the browser knows
  them). Answer: the ``kofu-merge --json`` / ``kofu-validate --json`` document plus
  ``downloads`` {name: URL} and ``run`` {id, page, exit_code}.
- ``POST /api/templates``: ``kind``, ``pref``, optional ``munis``. ``GET /api/progress``.
  ``GET /api/runs``, ``GET /api/runs/<id>``, ``DELETE /api/runs/<id>``.
- ``GET /runs/<id>/files/<name>``: a download named in the run record.

Errors are one Japanese line with a code, as JSON ``{"error": {"code", "message"}}`` for
``/api/`` and as a small page otherwise.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flask import Flask, Response, abort, jsonify, render_template, request, send_file, url_for
from flask.json.provider import DefaultJSONProvider
from flask.wrappers import Request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import jobs, security
from .chart import rate_chart
from .workspace import Busy, Run, Upload, Workspace, display_name

E_TOO_LARGE = "E913"
E_BUSY = "E914"
E_NOT_FOUND = "E915"
E_BAD_REQUEST = "E916"
E_UNEXPECTED = "E999"

MiB = 2**20


@dataclass
class Limits:
    """Per request, on top of the intake limits every stored file then meets in the library."""

    max_request_bytes: int = 1024 * MiB
    max_files: int = 2000


@dataclass
class Progress:
    """What ``GET /api/progress`` reports while a run works (shared by the server's threads)."""

    running: bool = False
    stage: str = ""
    done: int = 0
    total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, stage: str, done: int, total: int) -> None:
        with self.lock:
            self.stage, self.done, self.total = stage, done, total

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {"running": self.running, "stage": self.stage, "done": self.done, "total": self.total}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


class _Request(Request):
    """Upload buffers go into the workspace's tmp/, never to the system's temp folder."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        from flask import current_app

        return tempfile.SpooledTemporaryFile(max_size=512 * 1024, mode="rb+",
                                             dir=current_app.config["KOFU_TMP"])


class _StrictJSON(DefaultJSONProvider):
    """Answers are strict JSON: characters as such, and never a bare NaN or Infinity."""

    ensure_ascii = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


def create_app(workspace: Workspace, token: str, settings: jobs.Settings | None = None,
               limits: Limits | None = None, port: int | None = None) -> Flask:
    """The app for one workspace and token. ``port``: when given, the Host header must name it."""
    limits = limits or Limits()
    settings = settings or jobs.Settings()
    workspace.prepare()
    here = Path(__file__).parent
    app = Flask(__name__, template_folder=str(here / "templates"), static_folder=str(here / "static"))
    app.request_class = _Request
    app.config.update(MAX_CONTENT_LENGTH=limits.max_request_bytes, MAX_FORM_PARTS=limits.max_files + 16,
                      MAX_FORM_MEMORY_SIZE=MiB, KOFU_TMP=str(workspace.tmp), JSON_AS_ASCII=False)
    app.json = _StrictJSON(app)
    progress = Progress()
    prefectures = settings.prefectures()

    def tokened(endpoint: str, **values: Any) -> str:
        return url_for(endpoint, token=token, **values)

    app.jinja_env.globals.update(tokened=tokened, token=token, prefectures=prefectures)

    # -- security -----------------------------------------------------------------------------
    @app.before_request
    def guard() -> Response | None:
        code = security.check(request.method, request.host, request.headers,
                              request.args.get(security.TOKEN_PARAM), token, port)
        if code is not None:
            return _error(403, code, security.MESSAGES[code])
        return None

    @app.after_request
    def headers(resp: Response) -> Response:
        for k, v in security.HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return _error(exc.status, exc.code, exc.message)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Response:
        return _error(413, E_TOO_LARGE,
                      f"送信されたファイルが大きすぎるか多すぎます（1回に合計 {limits.max_request_bytes // MiB} MiB・"
                      f"{limits.max_files} ファイルまで）。何回かに分けてください")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 404:
            return _error(404, E_NOT_FOUND, "指定されたページ・実行記録・ファイルが見つかりません")
        if exc.code == 405:
            return _error(405, E_BAD_REQUEST, "この操作はこの URL では行えません")
        return _error(exc.code or 400, E_BAD_REQUEST, "送信された内容を受け付けられませんでした")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if os.environ.get("KOFU_DEBUG"):
            raise exc
        return _error(500, E_UNEXPECTED, f"予期しないエラーが発生しました（{type(exc).__name__}）。"
                                         "KOFU_DEBUG=1 を設定して再起動すると詳細を表示します")

    # -- pages ---------------------------------------------------------------------------------
    @app.get("/")
    def index() -> str:
        return render_template("index.html", runs=workspace.list_runs(), run=None, view=None,
                               chart=None, downloads={}, muni_options=[])

    @app.get("/runs/<run_id>")
    def run_page(run_id: str) -> str:
        run = _load(run_id)
        view = workspace.result(run.id).get("view") or {}
        chart = rate_chart(view.get("munis", []), view.get("benchmark")) if view.get("munis") else None
        options = sorted({(f["muni_code"], f["muni_name"]) for f in view.get("findings", []) if f["muni_code"]})
        return render_template("index.html", runs=workspace.list_runs(), run=run, view=view,
                               chart=chart, downloads=_download_urls(run), muni_options=options)

    @app.get("/runs/<run_id>/files/<name>")
    def download(run_id: str, name: str) -> Response:
        try:
            path = workspace.download(run_id, name)
        except KeyError:
            abort(404)
        return send_file(path, as_attachment=True, download_name=name, max_age=0)

    # -- API -------------------------------------------------------------------------------------
    @app.get("/api/progress")
    def api_progress() -> Response:
        return jsonify(progress.to_json())

    @app.get("/api/runs")
    def api_runs() -> Response:
        return jsonify({"runs": [_summary(r) for r in workspace.list_runs()]})

    @app.get("/api/runs/<run_id>")
    def api_run(run_id: str) -> Response:
        run = _load(run_id)
        return jsonify(_answer(run))

    @app.delete("/api/runs/<run_id>")
    def api_delete(run_id: str) -> Response:
        with _locked():
            try:
                workspace.delete(run_id)
            except KeyError:
                abort(404)
        return jsonify({"deleted": run_id})

    @app.post("/api/merge")
    def api_merge() -> Response:
        return _run_batch("merge")

    @app.post("/api/validate")
    def api_validate() -> Response:
        return _run_batch("validate")

    @app.post("/api/templates")
    def api_templates() -> Response:
        with _locked():
            kind = request.form.get("kind", "")
            if kind not in ("plan", "monthly"):
                raise ApiError(400, E_BAD_REQUEST, "様式の種類（交付円滑化計画・実績報告）を選んでください")
            pref = request.form.get("pref", "").strip()
            if not pref:
                raise ApiError(400, E_BAD_REQUEST, "都道府県を選んでください")
            munis = [m for m in request.form.get("munis", "").replace("、", " ").replace(",", " ").split() if m]
            run = workspace.new_run("templates")
            run.pref = pref
            try:
                job = jobs.templates_job(kind, pref, munis, workspace.outputs(run.id), settings)
            except jobs.KofuError as exc:
                _fail(run, exc.code, exc.message)
                raise ApiError(400, exc.code, exc.message) from None
            _finish(run, job)
            return jsonify(_answer(run))

    # -- helpers --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked() -> Iterator[None]:
        """One run at a time per workspace: a second gets 409 E914 and touches nothing."""
        try:
            with workspace.lock():
                yield
        except Busy:
            raise ApiError(409, E_BUSY, "ほかのとりまとめ・確認を実行中です。終わってからもう一度実行してください"
                           "（同じ作業フォルダでは一度に1つだけ実行できます）") from None

    def _run_batch(kind: str) -> Response:
        with _locked():
            level = request.form.get("level", "prefecture") or "prefecture"
            if level not in ("prefecture", "national"):
                raise ApiError(400, E_BAD_REQUEST, "level は prefecture（都道府県）か national（全国）を指定してください")
            pref = request.form.get("pref", "").strip() or None
            passwords = jobs.parse_passwords(request.form.get("passwords", ""))
            sent = [f for f in request.files.getlist("files") if f.filename]
            if not sent:
                raise ApiError(400, E_BAD_REQUEST, "ファイルが送信されていません。ファイルかフォルダを選んでください")
            if len(sent) > limits.max_files:
                raise ApiError(413, E_TOO_LARGE, f"ファイルが多すぎます（1回に {limits.max_files} ファイルまで）。"
                                                 "何回かに分けてください")
            mtimes = request.form.getlist("mtimes")
            run = workspace.new_run(kind)
            run.pref, run.level = pref or "", level
            stored = _store(run, sent, mtimes)
            progress.running = True
            progress.set("読込中", 0, len(stored))
            try:
                if kind == "merge":
                    job = jobs.merge_job(stored, workspace.outputs(run.id), settings, pref, level,
                                         passwords, progress.set)
                else:
                    job = jobs.validate_job(stored, workspace.outputs(run.id), settings, pref,
                                            passwords, progress.set)
            except jobs.KofuError as exc:
                _fail(run, exc.code, exc.message)
                raise ApiError(400, exc.code, exc.message) from None
            except Exception:
                _fail(run, E_UNEXPECTED, "予期しないエラーが発生しました")
                raise
            finally:
                progress.running = False
                del passwords
            _finish(run, job)
            return jsonify(_answer(run))

    def _store(run: Run, sent: list[Any], mtimes: list[str]) -> list[jobs.Stored]:
        """Each upload under a generated name; the name it came with is kept as data only."""
        folder = workspace.inputs(run.id)
        out = []
        for i, fs in enumerate(sent, start=1):
            stored = f"{i:04d}.dat"
            path = folder / stored
            fs.save(path)
            mtime = None
            if i - 1 < len(mtimes) and mtimes[i - 1].strip().isdigit():
                mtime = int(mtimes[i - 1]) / 1000
                os.utime(path, (mtime, mtime))
            name = display_name(fs.filename or "")
            run.uploads.append(Upload(stored, name, fs.filename or "", path.stat().st_size, mtime))
            out.append(jobs.Stored(name, str(path)))
        workspace.save(run)
        return out

    def _finish(run: Run, job: jobs.Job) -> None:
        run.state, run.exit_code, run.notice = "done", job.exit_code, job.notice
        run.downloads, run.counts, run.missing = job.downloads, job.counts, job.missing
        workspace.save_result(run.id, {"json": job.result, "view": job.view})
        workspace.save(run)

    def _fail(run: Run, code: str, message: str) -> None:
        run.state, run.error = "failed", f"{code}: {message}"
        workspace.save(run)

    def _load(run_id: str) -> Run:
        try:
            return workspace.load(run_id)
        except KeyError:
            abort(404)

    def _download_urls(run: Run) -> dict[str, str]:
        return {name: url_for("download", run_id=run.id, name=name, token=token, _external=True)
                for name in run.downloads}

    def _answer(run: Run) -> dict[str, Any]:
        doc = dict(workspace.result(run.id).get("json") or {})
        doc["downloads"] = _download_urls(run)
        doc["run"] = {"id": run.id, "kind": run.kind, "state": run.state, "exit_code": run.exit_code,
                      "page": url_for("run_page", run_id=run.id, token=token, _external=True),
                      "error": run.error, "notice": run.notice}
        return doc

    def _summary(run: Run) -> dict[str, Any]:
        return {"id": run.id, "kind": run.kind, "created": run.created, "state": run.state,
                "counts": run.counts, "missing": run.missing, "exit_code": run.exit_code,
                "files": len(run.uploads), "page": url_for("run_page", run_id=run.id, token=token)}

    return app


def _error(status: int, code: str, message: str) -> Response:
    line = f"{code}: {message}"
    if request.path.startswith("/api/"):
        resp = jsonify({"error": {"code": code, "message": message}})
    else:
        resp = Response(render_template("error.html", line=line), mimetype="text/html")
    resp.status_code = status
    return resp

