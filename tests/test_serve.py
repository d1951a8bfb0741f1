"""kofu serve's API contract and security rules, through the Flask test client (and, for
concurrency, a real waitress server in a thread)."""

from __future__ import annotations

import http.client
import io
import json
import re
import threading
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import data_rows
from serve_fixtures import PASSWORDS, cli, free_port, inbox_files, multipart_files

from kofu_excel.findings import CODES
from kofu_excel.serve import jobs
from kofu_excel.serve.app import Limits, create_app
from kofu_excel.serve.workspace import Workspace, default_workspace

TOKEN = "test-token-0123456789"
HOST = "127.0.0.1:8765"
ORIGIN = f"http://{HOST}"
PW_TEXT = PASSWORDS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def settings() -> jobs.Settings:
    return jobs.Settings()


def make_client(root: Path, settings: jobs.Settings, limits: Limits | None = None) -> Any:
    app = create_app(Workspace(root), TOKEN, settings, limits, port=8765)
    app.testing = True
    return app.test_client()


@pytest.fixture
def client(tmp_path: Path, settings: jobs.Settings) -> Any:
    return make_client(tmp_path / "ws", settings)


def post(client: Any, url: str, data: dict[str, Any], **headers: str) -> Any:
    hdrs = {"X-Kofu-Token": TOKEN, **headers}
    return client.post(url, data=data, headers=hdrs, content_type="multipart/form-data",
                       base_url=f"http://{HOST}")


def get(client: Any, url: str, token: bool = True, **headers: str) -> Any:
    if token:
        url += ("&" if "?" in url else "?") + f"token={TOKEN}"
    return client.get(url, headers=headers, base_url=f"http://{HOST}")


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory, settings: jobs.Settings) -> dict[str, Any]:
    """The demo inbox merged once through the API (module-scoped: it takes a few seconds)."""
    root = tmp_path_factory.mktemp("merged") / "ws"
    c = make_client(root, settings)
    resp = post(c, "/api/merge", {**multipart_files(), "passwords": PW_TEXT})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {"client": c, "doc": resp.get_json(), "root": root}


@pytest.fixture(scope="module")
def cli_merge(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("cli") / "summary.xlsx"
    code, doc = cli("merge", "inbox", "--passwords", str(PASSWORDS), "-o", str(out))
    return {"code": code, "doc": doc, "out": out}


# --- the contract ------------------------------------------------------------------------------


def test_merge_answers_the_kofu_merge_json_plus_downloads(merged: dict[str, Any],
                                                          cli_merge: dict[str, Any]) -> None:
    doc, want = merged["doc"], cli_merge["doc"]
    assert set(doc) == set(want) | {"downloads", "run"}
    assert doc["totals"] == want["totals"]
    assert doc["missing"] == want["missing"] == ["313289", "314021", "314030"]
    # every file under the name it was sent with, in the same order, with the same outcome
    strip = [(i["path"], i["member"], i["status"], i["code"], i["reason"], i["sha256"]) for i in doc["inputs"]]
    assert strip == [(i["path"], i["member"], i["status"], i["code"], i["reason"], i["sha256"])
                     for i in want["inputs"]]
    assert doc["run"]["exit_code"] == cli_merge["code"] == 1
    assert set(doc["downloads"]) == {"とりまとめ表.xlsx", "確認結果.xlsx", "差し戻し用.zip",
                                     "助言文書.zip", "督促文書.zip"}


def test_cli_and_api_write_identical_summaries(merged: dict[str, Any], cli_merge: dict[str, Any],
                                               tmp_path: Path) -> None:
    url = merged["doc"]["downloads"]["とりまとめ表.xlsx"]
    resp = merged["client"].get(url)
    assert resp.status_code == 200
    got = tmp_path / "page.xlsx"
    got.write_bytes(resp.data)
    rows = data_rows(got)
    assert len(rows) > 1000
    assert rows == data_rows(cli_merge["out"])


def test_downloads_are_attachments_fetched_with_the_same_token(merged: dict[str, Any]) -> None:
    c = merged["client"]
    for name, url in merged["doc"]["downloads"].items():
        assert f"token={TOKEN}" in url
        resp = c.get(url)
        assert resp.status_code == 200, name
        cd = resp.headers["Content-Disposition"]
        assert cd.startswith("attachment") and "filename*=UTF-8''" in cd
        if name.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
                assert zf.namelist()
        else:
            openpyxl.load_workbook(io.BytesIO(resp.data), read_only=True).close()
        assert c.get(url.replace(f"token={TOKEN}", "token=wrong")).status_code == 403
    letters = zipfile.ZipFile(io.BytesIO(c.get(merged["doc"]["downloads"]["督促文書.zip"]).data)).namelist()
    assert "督促_一括.docx" in letters and any("江府町" in n for n in letters)


def test_validate_answers_the_kofu_validate_json_plus_downloads(client: Any) -> None:
    resp = post(client, "/api/validate", {**multipart_files(), "passwords": PW_TEXT})
    assert resp.status_code == 200
    doc = resp.get_json()
    code, want = cli("validate", "inbox", "--passwords", str(PASSWORDS))
    assert set(doc) == {"files", "downloads", "run"}
    assert doc["files"] == want["files"]
    assert doc["run"]["exit_code"] == code == 1
    assert set(doc["downloads"]) == {"確認結果.xlsx", "差し戻し用.zip"}


def test_templates_for_a_chosen_few_or_the_whole_prefecture(client: Any) -> None:
    resp = post(client, "/api/templates", {"kind": "plan", "pref": "31", "munis": "312011、米子市"},
                Origin=ORIGIN)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    doc = resp.get_json()
    assert [Path(f).name for f in doc["files"]] == ["312011_鳥取市_交付円滑化計画.xlsx",
                                                    "312029_米子市_交付円滑化計画.xlsx"]
    names = zipfile.ZipFile(io.BytesIO(get(client, doc["downloads"]["様式.zip"].split(HOST)[1],
                                           token=False).data)).namelist()
    assert names == ["312011_鳥取市_交付円滑化計画.xlsx", "312029_米子市_交付円滑化計画.xlsx"]
    whole = post(client, "/api/templates", {"kind": "monthly", "pref": "鳥取県"}).get_json()
    assert len(whole["files"]) == 19


def test_past_runs_are_listed_reopened_and_deleted(merged: dict[str, Any]) -> None:
    c, run = merged["client"], merged["doc"]["run"]
    runs = get(c, "/api/runs").get_json()["runs"]
    mine = next(r for r in runs if r["id"] == run["id"])
    assert mine["counts"]["accepted"] == 34 and mine["missing"] == 3 and mine["files"] == len(inbox_files())
    page = get(c, f"/runs/{run['id']}").get_data(as_text=True)
    assert 'id="count-accepted">34<' in page and "江府町" in page and "<svg" in page
    # the municipality rows: 鳥取市's rate against the schedule's next milestone (2020-07, 23.6%)
    assert re.search(r"<td>312011</td><td>鳥取市</td>.*?23\.9%</td>\s*<td class=\"num\">\+0\.3 ポイント</td>", page, re.S)
    assert get(c, f"/api/runs/{run['id']}").get_json()["totals"] == merged["doc"]["totals"]
    assert get(c, "/").status_code == 200 and run["id"] in get(c, "/").get_data(as_text=True)


def test_a_deleted_run_is_gone_with_its_files(client: Any, tmp_path: Path) -> None:
    files = [(p.open("rb"), rel) for rel, p in inbox_files() if rel.startswith("inbox/計画/31")][:2]
    run = post(client, "/api/merge", {"files": files}).get_json()["run"]
    folder = tmp_path / "ws" / "runs" / run["id"]
    assert (folder / "inputs" / "0001.dat").is_file()
    resp = client.delete(f"/api/runs/{run['id']}", headers={"X-Kofu-Token": TOKEN}, base_url=ORIGIN)
    assert resp.status_code == 200
    assert not folder.exists()
    gone = get(client, f"/runs/{run['id']}")
    assert gone.status_code == 404 and "E915" in gone.get_data(as_text=True)


# --- security ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/static/app.js", "/api/runs", "/api/progress",
                                 "/runs/20200101-000000-abcdef"])
def test_every_request_without_the_token_gets_403(client: Any, url: str) -> None:
    for token in (None, "wrong", TOKEN[:-1]):
        resp = client.get(url + (f"?token={token}" if token else ""), base_url=ORIGIN)
        assert resp.status_code == 403
        assert "E910" in resp.get_data(as_text=True)
    resp = post(client, "/api/merge", multipart_files(), **{"X-Kofu-Token": "wrong"})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "E910"


@pytest.mark.parametrize("host", ["evil.example:8765", "kofu.attacker.test", "127.0.0.1.nip.io:8765",
                                  "127.0.0.1:9999", "192.168.1.10:8765"])
def test_a_host_that_is_not_this_loopback_server_gets_403(client: Any, host: str) -> None:
    resp = client.get(f"/?token={TOKEN}", base_url=f"http://{host}")
    assert resp.status_code == 403 and "E911" in resp.get_data(as_text=True)


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765"])
def test_loopback_names_are_served(client: Any, host: str) -> None:
    assert client.get(f"/?token={TOKEN}", base_url=f"http://{host}").status_code == 200


def test_state_changing_requests_need_the_page_origin(client: Any) -> None:
    url = f"/api/templates?token={TOKEN}"
    form = {"kind": "plan", "pref": "31", "munis": "312011"}

    def send(**headers: str) -> Any:
        return client.post(url, data=form, headers=headers, base_url=ORIGIN)

    assert send().get_json()["error"]["code"] == "E912"  # token in the URL only, no Origin
    assert send(Origin="http://evil.example").status_code == 403
    assert send(Origin="http://evil.example", **{"X-Kofu-Token": TOKEN}).status_code == 403
    assert send(Referer="http://evil.example/page").status_code == 403
    assert send(Origin="null").status_code == 403
    assert send(Origin=ORIGIN).status_code == 200
    assert send(Referer=f"{ORIGIN}/?token={TOKEN}").status_code == 200
    assert send(**{"X-Kofu-Token": TOKEN}).status_code == 200  # a header no foreign page can add
    deleted = client.delete(f"/api/runs/20200101-000000-abcdef?token={TOKEN}", base_url=ORIGIN)
    assert deleted.status_code == 403


def test_responses_carry_csp_nosniff_and_no_inline_script(client: Any) -> None:
    for resp in (get(client, "/"), get(client, "/api/runs"), get(client, "/static/app.js"),
                 client.get("/", base_url=ORIGIN)):
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
    page = get(client, "/").get_data(as_text=True)
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and all(" src=" in s for s in scripts)
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers either


def test_an_oversized_upload_gets_413_and_leaves_nothing(tmp_path: Path, settings: jobs.Settings) -> None:
    c = make_client(tmp_path / "ws", settings, Limits(max_request_bytes=64 * 1024, max_files=5))
    big = post(c, "/api/merge", {"files": [(io.BytesIO(b"x" * 100_000), "big.xlsx")]})
    assert big.status_code == 413
    assert big.get_json()["error"]["code"] == "E913"
    many = post(c, "/api/merge", {"files": [(io.BytesIO(b"x"), f"{i}.xlsx") for i in range(6)]})
    assert many.status_code == 413 and many.get_json()["error"]["code"] == "E913"
    assert list((tmp_path / "ws" / "runs").iterdir()) == []
    assert list((tmp_path / "ws" / "tmp").iterdir()) == []


def test_the_real_server_refuses_an_oversized_body(tmp_path: Path, settings: jobs.Settings) -> None:
    """Through waitress as `kofu serve` runs it: just over the limit → the app's E913 line; far
    over → 413 from waitress before the body is read."""
    from kofu_excel.serve.server import SLACK, bind, make_server

    limits = Limits(max_request_bytes=200_000)
    sock = bind(0)
    port = sock.getsockname()[1]
    server = make_server(create_app(Workspace(tmp_path / "ws"), TOKEN, settings, limits, port=port),
                         sock, limits)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        just_over = _post_raw(port, "/api/merge", [], "x" * 250_000)
        assert just_over["status"] == 413 and just_over["json"]["error"]["code"] == "E913"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.putrequest("POST", "/api/merge")
        for k, v in (("X-Kofu-Token", TOKEN), ("Content-Type", "multipart/form-data; boundary=b"),
                     ("Content-Length", str(200_000 + SLACK + 1))):
            conn.putheader(k, v)
        conn.endheaders()
        assert conn.getresponse().status == 413  # answered without sending the body
        assert list((tmp_path / "ws" / "runs").iterdir()) == []
    finally:
        server.close()


def test_a_file_over_the_intake_limit_is_rejected_by_intake(tmp_path: Path, settings: jobs.Settings) -> None:
    """Per file, the same limits as intake: the upload is kept and reported as E108, like the CLI."""
    cfg = tmp_path / "limits.toml"
    cfg.write_text("[limits]\nmax_file_bytes = 1000\n", encoding="utf-8")
    c = make_client(tmp_path / "ws", jobs.Settings(str(cfg)))
    resp = post(c, "/api/validate", {"files": [(io.BytesIO(b"PK" + b"\0" * 5000), "big.xlsx")]})
    assert resp.status_code == 200
    (f,) = resp.get_json()["files"]
    assert f["status"] == "unreadable" and f["errors"][0]["code"] == "E108"


@pytest.mark.parametrize("name", ["../../../evil.xlsx", "..\\..\\evil.xlsx", "/etc/evil.xlsx",
                                  "C:\\Windows\\evil.xlsx", "inbox/../../evil.xlsx", "CON", "a\tb\x7f.xlsx", "x" * 600 + ".xlsx"])
def test_a_path_traversal_filename_is_only_data(tmp_path: Path, settings: jobs.Settings, name: str) -> None:
    c = make_client(tmp_path / "ws", settings)
    data = (inbox_files()[-1][1]).read_bytes()  # a real workbook
    resp = post(c, "/api/validate", {"files": [(io.BytesIO(data), name)]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    doc = resp.get_json()
    run = doc["run"]["id"]
    inputs = tmp_path / "ws" / "runs" / run / "inputs"
    assert [p.name for p in inputs.iterdir()] == ["0001.dat"]
    written = {p.name for p in tmp_path.rglob("*")}
    assert not any("evil" in n for n in written) and "CON" not in written
    shown = doc["files"][0]["path"]
    assert ".." not in shown.split("/") and not shown.startswith(("/", "\\")) and "\x00" not in shown
    record = json.loads((inputs.parent / "run.json").read_text(encoding="utf-8"))
    assert record["uploads"][0]["stored"] == "0001.dat"


def test_passwords_are_never_written_or_echoed(merged: dict[str, Any], tmp_path: Path,
                                               settings: jobs.Settings) -> None:
    secret = "Kofu-Secret-Pw-4711"
    c = make_client(tmp_path / "ws", settings)
    resp = post(c, "/api/merge", {**multipart_files(), "passwords": f"{secret}\n{PW_TEXT}"})
    assert resp.status_code == 200
    assert secret not in resp.get_data(as_text=True)
    for p in (tmp_path / "ws").rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert secret.encode() not in data and secret.encode("utf-16-le") not in data, p
            if p.suffix in (".xlsx", ".docx", ".zip"):
                with zipfile.ZipFile(p) as zf:
                    assert not any(secret.encode() in zf.read(n) for n in zf.namelist()), p
    page = get(c, resp.get_json()["run"]["page"].split(HOST)[1], token=False).get_data(as_text=True)
    assert secret not in page
    # the password text box starts empty on every page
    assert re.search(r'<textarea id="passwords"[^>]*></textarea>', page)


def test_everything_from_the_inputs_is_escaped_in_the_page(client: Any) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>.txt'
    run = post(client, "/api/merge", {"files": [(io.BytesIO(b"note"), evil)]}).get_json()["run"]
    page = get(client, f"/runs/{run['id']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in page
    assert "<script>alert" not in page and "<img src=x" not in page


def test_nothing_usable_is_exit_2_with_the_clis_line(client: Any) -> None:
    doc = post(client, "/api/merge", {"files": [(io.BytesIO(b"memo"), "memo.txt")]}).get_json()
    assert doc["output"] is None and doc["downloads"] == {}
    assert doc["run"]["exit_code"] == 2 and doc["run"]["notice"].startswith("E109: 取り込めるブックがありません")
    page = get(client, f"/runs/{doc['run']['id']}").get_data(as_text=True)
    assert 'id="run-notice">E109: ' in page
    doc = post(client, "/api/validate", {"files": [(io.BytesIO(b"memo"), "memo.txt")]}).get_json()
    assert doc["run"]["exit_code"] == 2 and doc["run"]["notice"].startswith("E109: ")


def test_bad_form_values_get_a_japanese_line_with_a_code(client: Any) -> None:
    resp = post(client, "/api/merge", {"files": [(io.BytesIO(b"x"), "a.xlsx")], "level": "world"})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "E916"
    resp = post(client, "/api/merge", {})
    err = resp.get_json()["error"]
    assert resp.status_code == 400 and err["code"] == "E916" and "ファイル" in err["message"]
    resp = post(client, "/api/merge", {"files": [(io.BytesIO(b"x"), "a.xlsx")], "pref": "アトランティス県"})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "E504"
    assert get(client, "/runs/..%2f..%2fetc").status_code == 404
    assert get(client, "/runs/20200101-000000-abcdef/files/run.json").status_code == 404


def test_every_server_code_has_a_japanese_title() -> None:
    for code in ("E910", "E911", "E912", "E913", "E914", "E915", "E916", "E917"):
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", CODES[code])


# --- one run at a time -----------------------------------------------------------------------------


def test_a_second_concurrent_run_gets_a_clear_message(tmp_path: Path, settings: jobs.Settings,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from waitress.server import create_server

    release, started = threading.Event(), threading.Event()
    real = jobs.merge_job

    def slow_merge(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "merge_job", slow_merge)
    port = free_port()
    app = create_app(Workspace(tmp_path / "ws"), TOKEN, settings, port=port)
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        first: dict[str, Any] = {}

        def run_first() -> None:
            first.update(_post_raw(port, "/api/merge", inbox_files()[:20], PW_TEXT))

        t = threading.Thread(target=run_first)
        t.start()
        assert started.wait(60)
        progress = json.loads(_get_raw(port, "/api/progress"))
        assert progress["running"] is True
        second = _post_raw(port, "/api/merge", inbox_files()[:3], "")
        assert second["status"] == 409
        assert second["json"]["error"]["code"] == "E914"
        assert "実行中" in second["json"]["error"]["message"]
        release.set()
        t.join(60)
        assert first["status"] == 200
        assert first["json"]["totals"]["status"]["accepted"] > 0
        runs = list((tmp_path / "ws" / "runs").iterdir())
        assert [r.name for r in runs] == [first["json"]["run"]["id"]]  # the refused one left nothing
    finally:
        release.set()
        server.close()


def test_another_server_on_the_same_workspace_holds_it(tmp_path: Path, settings: jobs.Settings) -> None:
    c = make_client(tmp_path / "ws", settings)
    other = Workspace(tmp_path / "ws")  # as a second kofu serve would, with its own lock file handle
    with other.lock():
        resp = post(c, "/api/merge", {"files": [(io.BytesIO(b"x"), "a.xlsx")]})
        assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "E914"
    assert post(c, "/api/merge", {"files": [(io.BytesIO(b"x"), "a.xlsx")]}).status_code == 200


def _post_raw(port: int, path: str, files: list[tuple[str, Path]], passwords: str) -> dict[str, Any]:
    boundary = "kofu-test-boundary"
    body = io.BytesIO()
    for rel, p in files:
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                   f'filename="{rel}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode())
        body.write(p.read_bytes() + b"\r\n")
    body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="passwords"\r\n\r\n'.encode())
    body.write(passwords.encode() + f"\r\n--{boundary}--\r\n".encode())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", path, body.getvalue(), {
        "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Kofu-Token": TOKEN})
    resp = conn.getresponse()
    data = resp.read()
    return {"status": resp.status, "json": json.loads(data) if data.startswith(b"{") else None}


def _get_raw(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"X-Kofu-Token": TOKEN})
    return conn.getresponse().read().decode()


# --- the workspace ------------------------------------------------------------------------------


def test_the_default_workspace_is_under_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_workspace() == tmp_path / "kofu-excel"
    (tmp_path / "Documents").mkdir()
    assert default_workspace() == tmp_path / "Documents" / "kofu-excel"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("USERPROFILE", str(tmp_path / "user"))
    assert default_workspace() == tmp_path / "user" / "Documents" / "kofu-excel"


def test_the_progress_is_reported_while_idle(client: Any) -> None:
    assert get(client, "/api/progress").get_json() == {"running": False, "stage": "", "done": 0, "total": 0}


def test_the_chart_draws_a_bar_per_row_the_schedule_line_and_escapes_names() -> None:
    from kofu_excel.serve.chart import rate_chart

    svg = rate_chart([{"name": "<b>鳥取市</b>", "rate": 0.2, "basis": "実績"},
                      {"name": "江府町", "rate": None, "basis": ""},
                      {"name": "智頭町", "rate": None, "basis": "実績"},
                      {"name": "日野町", "rate": 0.15, "basis": "計画"}],
                     {"month": "2020-07", "rate": 0.236})
    assert svg.count("<rect") == 2 and 'class="bar plan"' in svg
    assert "&lt;b&gt;鳥取市&lt;/b&gt;" in svg and "<b>" not in svg
    assert "国の全体スケジュール（令和2年7月末）23.6%" in svg and 'class="bench"' in svg
    assert "提出なし" in svg and "人口が不明のため算出できません" in svg


def test_intake_names_orders_and_judges_a_stored_file_by_the_name_it_came_with(tmp_path: Path) -> None:
    """intake.Stored: the library reads the generated file but shows, sorts and judges (litter)
    by the original relative path, exactly as for the same folder on disk."""
    from kofu_excel.intake import Stored, collect
    from kofu_excel.intake.items import R_EXCEL_LOCK, R_WIN

    names = ["inbox/計画/Thumbs.db", "inbox/b.txt", "inbox/計画-old.txt", "inbox/計画/~$a.xlsx", "inbox/a-b.txt"]
    stored = []
    for i, name in enumerate(names, start=1):
        real = tmp_path / f"{i:04d}.dat"
        real.write_bytes(b"x" * i)
        stored.append(Stored(name, str(real)))
    disk = tmp_path / "disk"
    for name in names:
        (disk / name).parent.mkdir(parents=True, exist_ok=True)
        (disk / name).write_bytes(b"x")
    got = [(it.path, it.status, it.reason) for it in collect(stored)]
    want = [(Path(it.path).relative_to(disk).as_posix(), it.status, it.reason) for it in collect([disk / "inbox"])]
    assert got == want
    assert [p for p, _s, _r in got] == ["inbox/a-b.txt", "inbox/b.txt", "inbox/計画/Thumbs.db",
                                        "inbox/計画/~$a.xlsx", "inbox/計画-old.txt"]  # as a folder walk goes
    assert {r for _p, _s, r in got} >= {R_WIN, R_EXCEL_LOCK}


def test_a_merge_shows_the_placeholder_letter_settings_warning(merged: dict[str, Any]) -> None:
    """The built-in [letters] still hold ○○ / 000-000-0000: the page says so, as kofu-advise does."""
    doc = merged["doc"]
    assert doc["run"]["notice"].startswith("W601: ") and "--config" in doc["run"]["notice"]
    page = get(merged["client"], f"/runs/{doc['run']['id']}").get_data(as_text=True)
    assert 'id="run-notice">W601: ' in page
