"""Reliability: nothing lost, nothing silent (docs/spec/quality.md, "Reliability"), proved end to end.

- Real clients: workbooks re-saved by LibreOffice as xlsx, xls and ods merge to the same data.
- Nothing lost: random inboxes of good, bad, duplicate and resubmitted items (hypothesis): every
  item listed exactly once with the right status; the totals are the sums of what was accepted.
- Fuzz: mutated workbook bytes never raise anything but the toolkit's own KofuError.
- Outputs: a process killed while writing leaves the earlier output intact and, after the next
  run, no temp file; an output that cannot be written is a one-line E901 and exit 2; the same
  inputs give the same bytes; passwords appear in no output and no message.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import convert, data_rows, require_soffice
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intake_fixtures import (
    aes_zip,
    attachment,
    eml,
    encrypted_xlsx,
    ods_bytes,
    xlsx_bytes,
    zip_bytes,
)
from read_fixtures import rewrite_zip
from test_security import tiny_xls

from kofu_excel import forms
from kofu_excel.cli import main
from kofu_excel.demo.builders import zipcrypto_zip
from kofu_excel.demo.sample import sample_population, sample_values
from kofu_excel.findings import KofuError
from kofu_excel.merge import merge
from kofu_excel.model import BatchOptions
from kofu_excel.write.atomic import TEMP_PREFIX
from kofu_excel.write.template import workbook_bytes

PREF = "31"  # 鳥取県: 19 municipalities
ROOT = Path(__file__).resolve().parents[1]


def one_line_error(res: Result, code: str) -> None:
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith(f"{code}: ") and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.output + res.stderr


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]


# --- real clients: LibreOffice ------------------------------------------------------------------


def test_libreoffice_resaved_xlsx_xls_ods_merge_to_the_same_data(make_sample, tmp_path):
    """Filled samples re-saved by LibreOffice (one as xlsx, one as xls, one as ods) give
    kofu-merge exactly the データ of the originals."""
    require_soffice()
    originals = make_sample("plan", pref=PREF).files[:3]
    resaved = tmp_path / "resaved"
    resaved.mkdir()
    for src, target in zip(originals, ("xlsx:Calc MS Excel 2007 XML", "xls:MS Excel 97", "ods"), strict=True):
        out = tmp_path / target.split(":")[0]
        out.mkdir()
        shutil.copy(convert(src, target, out), resaved)
    assert sorted(p.suffix for p in resaved.iterdir()) == [".ods", ".xls", ".xlsx"]
    plain = tmp_path / "plain"
    plain.mkdir()
    for src in originals:
        shutil.copy(src, plain)
    docs = {}
    for name, folder in (("plain", plain), ("resaved", resaved)):
        out = tmp_path / f"{name}.xlsx"
        res = CliRunner().invoke(main, ["merge", str(folder), "-o", str(out), "--pref", PREF, "--json"])
        assert res.exit_code == 0, res.output
        docs[name] = (json.loads(res.stdout), sorted(data_rows(out), key=repr))
    (plain_doc, plain_rows), (resaved_doc, resaved_rows) = docs["plain"], docs["resaved"]
    assert [r["status"] for r in resaved_doc["inputs"]] == ["accepted"] * 3
    assert len(plain_rows) > 300 and resaved_rows == plain_rows
    assert resaved_doc["totals"]["plan"] == plain_doc["totals"]["plan"]


# --- nothing lost: random inboxes ---------------------------------------------------------------

VARIANTS = ("v0", "v1", "invalid", "broken", "foreign")
CONTAINERS = ("file", "zip", "eml")


@pytest.fixture(scope="module")
def pool(master, schedule) -> dict[str, Any]:
    """Bytes of every item an inbox may hold, built once: per municipality the plan as first
    sent (v0), a revised resubmission (v1, other numbers) and an invalid one; broken and
    foreign bytes. Values are kept to compute the expected totals."""
    munis = master.select(pref=PREF)[:4]
    books: dict[tuple[int, str], bytes] = {}
    values: dict[tuple[int, str], dict[str, Any]] = {}
    for i, muni in enumerate(munis):
        muni = replace(muni, population=sample_population(muni, 2019))
        v0 = sample_values("plan", muni, schedule, 2019)
        v1 = {**v0, "basic.plan_revision": "改訂1",
              "forecast.planned_issued.2020-04": v0["forecast.planned_issued.2020-04"] - 7 - i,
              "costs.overtime.FY2020": v0["costs.overtime.FY2020"] + 1000 * (i + 1)}
        bad = {**v0, "basic.email": "メールアドレスなし"}
        for name, v in (("v0", v0), ("v1", v1), ("invalid", bad)):
            books[(i, name)] = workbook_bytes("plan", muni, values=v, schedule=schedule)
            values[(i, name)] = v
    broken = books[(0, "v0")][: len(books[(0, "v0")]) // 3]
    foreign = xlsx_bytes((("氏名", "点数"), ("山田", 80)), sheet="調査票")
    return {"books": books, "values": values, "broken": broken, "foreign": foreign,
            "codes": [m.code for m in munis], "scope": [m.code for m in master.select(pref=PREF)]}


def expected_sums(books: list[dict[str, Any]]) -> dict[str, int]:
    """Σ per table.field; a stock by quarter (窓口数 …) at its peak quarter, never summed over time."""
    per: dict[tuple[str, str], int] = {}
    for e in forms.catalog("plan"):
        if e.spec.numeric:
            key = (f"{e.table}.{e.spec.id}", e.row or "")
            per[key] = per.get(key, 0) + sum(
                x for v in books if isinstance(x := v.get(e.id), int) and not isinstance(x, bool))
    return _peak_or_sum(per)


def _peak_or_sum(per: dict[tuple[str, str], float]) -> dict[str, Any]:
    stocks = {f"{e.table}.{e.spec.id}" for e in forms.catalog("plan")
              if e.spec.stock and forms.FORMS["plan"].table(e.table).over_time}
    out: dict[str, Any] = {}
    for (key, _period), v in per.items():
        out[key] = max(out.get(key, 0), v) if key in stocks else out.get(key, 0) + v
    return out


def data_sums(path: Path) -> dict[str, float]:
    """The totals of the numeric データ values per ``table.field``, the key of the merge's totals."""
    from kofu_excel.summary.model import tidy_index

    entries = {e.id: e for e in forms.catalog("plan")}
    field_of = {key: f"{entries[cid].table}.{entries[cid].spec.id}" for cid, key in tidy_index("plan").items()}
    per: dict[tuple[str, str], float] = {}
    for _code, _kind, table, item, period, value in data_rows(path):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            key = (field_of[(table, item, period or "")], period or "")
            per[key] = per.get(key, 0) + value
    return _peak_or_sum(per)


inbox_entries = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(VARIANTS), st.sampled_from(CONTAINERS)),
    min_size=1, max_size=8)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(entries=inbox_entries)
def test_random_inbox_every_item_listed_once_with_its_status_and_totals_add_up(
        entries, pool, master, schedule):
    with tempfile.TemporaryDirectory() as tmp:
        inbox, out = Path(tmp) / "受信", Path(tmp) / "とりまとめ.xlsx"
        inbox.mkdir()
        want: dict[tuple[str, str], str] = {}  # (file, member) → status
        first: set[tuple[int, str]] = set()
        candidates: list[tuple[int, str, tuple[str, str]]] = []
        for n, (i, variant, container) in enumerate(entries):
            data = (pool["books"][(i, variant)] if variant in ("v0", "v1", "invalid")
                    else pool[variant])
            stem = f"{n:02d}_{variant}"
            if container == "file":
                (inbox / f"{stem}.xlsx").write_bytes(data)
                key = (f"{stem}.xlsx", "")
            elif container == "zip":
                (inbox / f"{stem}.zip").write_bytes(zip_bytes([("計画.xlsx", data)]))
                want[(f"{stem}.zip", "")] = "opened"
                key = (f"{stem}.zip", "計画.xlsx")
            else:
                part = attachment(data, 'attachment; filename="計画.xlsx"')
                (inbox / f"{stem}.eml").write_bytes(eml([part]))
                want[(f"{stem}.eml", "")] = "opened"
                key = (f"{stem}.eml", "計画.xlsx")
            if variant in ("invalid", "broken", "foreign"):
                want[key] = "rejected"
            elif (i, variant) in first:
                want[key] = "duplicate"  # byte-identical to an earlier copy
            else:
                first.add((i, variant))
                candidates.append((i, variant, key))
        accepted: dict[int, str] = {}
        for i, variant, key in candidates:  # 改訂1 supersedes 当初, whatever the order
            best = "v1" if (i, "v1") in first else "v0"
            want[key] = "accepted" if variant == best else "superseded"
            if variant == best:
                accepted[i] = variant

        res = merge([inbox], out, BatchOptions(master=master, pref=PREF), schedule=schedule)

        # An invalid plan that an accepted one of the same municipality outranks (a later or
        # revised submission) is settled by it: superseded, keeping its code (settle.py). 改訂1
        # always outranks the invalid 当初; against 当初 the tie is broken by time and order.
        settled: dict[tuple[str, str], int] = {}
        for n, (i, variant, container) in enumerate(entries):
            if variant == "invalid" and i in accepted:
                name = f"{n:02d}_{variant}.{'xlsx' if container == 'file' else container}"
                settled[(name, "" if container == "file" else "計画.xlsx")] = i
        got = [(Path(it.path).name, it.member, it.status) for it in res.items]
        assert len(got) == len(want) and len(set(got)) == len(got)  # each once, nothing else
        status = {(f, m): s for f, m, s in got}
        for key, i in settled.items():
            if accepted[i] == "v1":
                assert status[key] == "superseded", key
            assert status[key] in ("rejected", "superseded"), key
            want[key] = status[key]
        assert status == want
        for it in res.items:
            if it.status == "superseded" and it.code:
                assert "解決済み" in it.reason and it.code.startswith("E"), it
        for it in res.items:
            assert it.reason and (it.status != "rejected" or it.code), it
        books = [pool["values"][(i, v)] for i, v in accepted.items()]
        assert res.totals["plan"] == expected_sums(books)
        # Missing: the scope less the accepted, once any plan came in (even a rejected one).
        plans = any(v in ("v0", "v1", "invalid") for _, v, _ in entries)
        codes = {pool["codes"][i] for i in accepted}
        assert set(res.missing) == (set(pool["scope"]) - codes if plans else set())
        if not accepted:
            assert res.exit_code == 2 and res.output is None and not out.exists()
            return
        assert res.exit_code == (1 if "rejected" in want.values() else 0)
        # The workbook itself: its データ sums to the same totals.
        assert {**dict.fromkeys(res.totals["plan"], 0), **data_sums(out)} == res.totals["plan"]


# --- fuzz: mutated bytes never escape as anything but KofuError ---------------------------------


@pytest.fixture(scope="module")
def bases(make_sample) -> dict[str, bytes]:
    plan = make_sample("plan", pref=PREF).files[0].read_bytes()
    ods = ods_bytes('<table:table-row><table:table-cell office:value-type="float" office:value="1">'
                    "<text:p>1</text:p></table:table-cell></table:table-row>")
    return {"xlsx": plan, "xls": tiny_xls([(0, 0), (3, 2), (10, 5)]), "ods": ods}


def run_batch(folder: Path, out: Path, master: Any, schedule: Any) -> None:
    """kofu-merge as a library call: only KofuError may come out; every file is listed."""
    try:
        res = merge([folder], out, BatchOptions(master=master, pref=PREF), schedule=schedule)
    except KofuError:
        return
    assert {Path(it.path).name for it in res.items} == {p.name for p in folder.iterdir()}
    assert res.exit_code in (0, 1, 2)


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fmt=st.sampled_from(["xlsx", "xls", "ods"]),
       edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=4)),
                      min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_fuzz_mutated_workbook_bytes_raise_nothing_but_kofu_error(fmt, edits, cut, bases, master, schedule):
    data = bytearray(bases[fmt])
    for where, new in edits:
        pos = int(where * len(data))
        data[pos:pos + len(new)] = new
    if cut is not None:
        del data[int(cut * len(data)):]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        (folder / f"変異.{fmt}").write_bytes(bytes(data))
        run_batch(folder, Path(tmp) / "out.xlsx", master, schedule)


TOKENS = [b'r="XFD1048576"', b'<c r="IV65536"><v>1</v></c>', b"<!DOCTYPE x>", b"&amp;", b'"', b"<",
          b">", b"/>", b"\x00", b'count="4294967295"', b"<v>1e308</v>", b'<f>cmd|" /C calc"!A0</f>',
          b'<dimension ref="A1:XFD1048576"/>', b'<row r="0">', b't="s"', b"<v>999999</v>"]


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.floats(0, 1, exclude_max=True),
                                st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=3)),
                                st.integers(0, 8)),
                      min_size=1, max_size=4))
def test_fuzz_mutated_workbook_xml_raises_nothing_but_kofu_error(edits, bases, master, schedule):
    """Damage inside the parts (re-zipped, so the zip itself is sound): what the parsers see."""
    plan = bases["xlsx"]
    names = sorted(n for n in zipfile.ZipFile(io.BytesIO(plan)).namelist() if n.endswith((".xml", ".rels")))
    parts: dict[str, bytes] = {}
    for which, where, new, drop in edits:
        name = names[which % len(names)]
        xml = bytearray(parts.get(name, zipfile.ZipFile(io.BytesIO(plan)).read(name)))
        pos = int(where * len(xml))
        xml[pos:pos + drop] = new
        parts[name] = bytes(xml)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        (folder / "変異.xlsx").write_bytes(rewrite_zip(plan, parts))
        run_batch(folder, Path(tmp) / "out.xlsx", master, schedule)


_BIFF_FUZZ = textwrap.dedent(r"""
    import io, json, random, struct, sys
    from pathlib import Path
    import olefile
    from kofu_excel.merge import merge
    from kofu_excel.model import BatchOptions
    sys.path.insert(0, "tests")
    from intake_fixtures import compound_file
    src, folder, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    stream = olefile.OleFileIO(io.BytesIO(src.read_bytes())).openstream("Workbook").read()
    rng = random.Random(2019)
    records, pos = [], 0
    while pos + 4 <= len(stream):
        rtype, length = struct.unpack_from("<HH", stream, pos)
        records.append((pos, rtype, length))
        pos += 4 + length
    cells = (0x0200, 0x0203, 0x027E, 0x00FD, 0x00BD, 0x0006, 0x0207, 0x0204, 0x0205, 0x0201, 0x00BE)
    for k in range(n):
        data = bytearray(stream)
        for _ in range(rng.randint(1, 4)):
            at, rtype, length = rng.choice(records)
            if rng.random() < 0.3:  # another record type, same body
                data[at:at + 2] = struct.pack("<H", rng.choice(cells + (0x0085, 0x000A, 0x0809)))
            elif length:
                off = at + 4 + rng.randrange(length)
                new = rng.choice([b"\xff\xff", b"\xff\xff\xff\xff", b"\x00\x01",
                                  struct.pack("<H", rng.randrange(65536)), bytes([rng.randrange(256)])])
                data[off:off + len(new)] = new[: len(data) - off]
        (folder / f"{k:03d}.xls").write_bytes(compound_file({"Workbook": bytes(data)}))
    res = merge([folder], folder.parent / "out.xlsx", BatchOptions(pref="31"))
    print(json.dumps(sorted({(it.code, it.reason[:40]) for it in res.items})))
""")


def test_fuzz_mutated_xls_records_never_abort_the_process(make_sample, tmp_path):
    """BIFF records damaged the way a hostile file would be (a far cell, a lying DIMENSIONS, a
    record of another type), 300 files in one child process, one process for all: an abort of
    python-calamine would kill it (the worker pool is off, so nothing hides a crash)."""
    require_soffice()
    src = convert(make_sample("plan", pref=PREF).files[0], "xls:MS Excel 97", tmp_path)
    folder = tmp_path / "変異"
    folder.mkdir()
    res = subprocess.run([sys.executable, "-c", _BIFF_FUZZ, str(src), str(folder), "300"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "KOFU_WORKERS": "1"})
    assert res.returncode == 0, f"the batch died ({res.returncode}): {res.stderr[-2000:]}"
    outcomes = json.loads(res.stdout)
    assert any(code == "E108" for code, _ in outcomes)  # some were refused by the pre-check
    assert all("異常終了" not in reason for _, reason in outcomes)


# --- outputs: killed mid-write, unwritable, deterministic, no passwords -------------------------

_SLOW_WRITE = textwrap.dedent("""
    import os, sys, time
    def fsync_then_hang(fd):  # the temp file is written and flushed: hang before the rename
        sys.stderr.write("WRITING\\n")
        sys.stderr.flush()
        time.sleep(120)
    os.fsync = fsync_then_hang
    from kofu_excel.cli import main
    main(sys.argv[1:])
""")


def test_killed_mid_write_leaves_earlier_output_intact_and_no_temp_file(make_sample, tmp_path):
    files = make_sample("plan", count=30).files
    inbox = tmp_path / "受信"
    inbox.mkdir()
    for p in files[:10]:
        shutil.copy(p, inbox)
    out_dir = tmp_path / "出力"
    out = out_dir / "とりまとめ.xlsx"
    res = CliRunner().invoke(main, ["merge", str(inbox), "-o", str(out)])
    assert res.exit_code == 0, res.output
    earlier = out.read_bytes()
    for p in files[10:]:
        shutil.copy(p, inbox)

    child = subprocess.Popen([sys.executable, "-c", _SLOW_WRITE, "merge", str(inbox), "-o", str(out)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, child.kill)  # never hang the test run
    watchdog.start()
    try:
        assert child.stderr is not None
        seen = []
        for line in child.stderr:  # until the summary is being written (or the child ends)
            seen.append(line)
            if line.strip() == "WRITING":
                break
        assert seen and seen[-1].strip() == "WRITING", "".join(seen)
        [tmp] = temp_files(out_dir)
        assert tmp.stat().st_size > 10_000  # the new summary, written but not yet renamed
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
    assert out.read_bytes() == earlier  # killed mid-write: the earlier summary is untouched
    assert temp_files(out_dir) == [tmp]  # what a kill leaves behind…

    res = CliRunner().invoke(main, ["merge", str(inbox), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert temp_files(out_dir) == []  # …is cleaned by the next run
    assert len(json.loads(res.stdout)["inputs"]) == 30
    assert out.read_bytes() != earlier and zipfile.ZipFile(out).testzip() is None


def test_output_under_a_file_not_a_folder_is_a_one_line_e901_and_exit_2(make_sample, tmp_path):
    src = make_sample("plan", pref=PREF).files[0]
    blocker = tmp_path / "出力"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    res = CliRunner().invoke(main, ["merge", str(src), "-o", str(blocker / "とりまとめ.xlsx")])
    one_line_error(res, "E901")
    res = CliRunner().invoke(main, ["validate", str(src.parent), "--report", str(blocker / "r.xlsx")])
    one_line_error(res, "E901")
    assert blocker.read_text(encoding="utf-8") == "a file where a folder should be"


def test_output_held_open_by_excel_is_a_one_line_e901_and_exit_2(make_sample, tmp_path, monkeypatch):
    """Excel holds an open workbook locked: the rename onto it fails with PermissionError."""
    src = make_sample("plan", pref=PREF).files[0]
    out = tmp_path / "とりまとめ.xlsx"
    out.write_bytes(b"the summary Excel has open")
    report = tmp_path / "確認結果.xlsx"
    report.write_bytes(b"the report Excel has open")

    def locked(src_: Any, dst: Any) -> None:
        raise PermissionError(13, "別のプロセスが使用中です", str(dst))

    monkeypatch.setattr(os, "replace", locked)
    res = CliRunner().invoke(main, ["merge", str(src), "-o", str(out)])
    one_line_error(res, "E901")
    assert "閉じてから再実行してください" in res.stderr and str(out) in res.stderr
    res = CliRunner().invoke(main, ["validate", str(src), "--report", str(report)])
    one_line_error(res, "E901")
    assert out.read_bytes() == b"the summary Excel has open"
    assert report.read_bytes() == b"the report Excel has open"
    assert temp_files(tmp_path) == []


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """A folder no one may write into: modes for a user; root ignores them, so chattr +i."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)],
                                                        capture_output=True).returncode != 0:
        pytest.skip("running as root, where folder modes do not apply, and chattr +i is not available")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_output_in_a_read_only_folder_is_a_one_line_e901_and_exit_2(make_sample, tmp_path):
    src = make_sample("plan", pref=PREF).files[0]
    folder = tmp_path / "読取専用"
    folder.mkdir()
    out = folder / "とりまとめ.xlsx"
    out.write_bytes(b"earlier")
    with read_only(folder):
        res = CliRunner().invoke(main, ["merge", str(src), "-o", str(out)])
    one_line_error(res, "E901")
    assert out.read_bytes() == b"earlier" and temp_files(folder) == []


def all_outputs(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by relative path: the same inputs must give the same bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_everything(inbox: Path, out: Path, passwords: Path | None = None) -> list[Result]:
    """kofu-merge, kofu-validate (report and annotated copies), kofu-advise (docx, html, md)."""
    pw = ["--passwords", str(passwords)] if passwords else []
    runner = CliRunner()
    runs = [runner.invoke(main, ["merge", str(inbox), "-o", str(out / "とりまとめ.xlsx"), "--pref", PREF,
                                 "--json", *pw]),
            runner.invoke(main, ["merge", str(inbox), "-o", str(out / "とりまとめ.xlsx"), "--pref", PREF, *pw]),
            runner.invoke(main, ["validate", str(inbox), "--json", *pw]),
            runner.invoke(main, ["validate", str(inbox), "--report", str(out / "確認結果.xlsx"),
                                 "--annotate", str(out / "差し戻し"), *pw])]
    for fmt in ("docx", "html", "md"):
        runs.append(runner.invoke(main, ["advise", str(out / "とりまとめ.xlsx"), "-o", str(out / fmt),
                                         "--format", fmt, "--date", "2020-04-01"]))
    for res in runs:
        assert res.exit_code in (0, 1), res.output + res.stderr
        assert "Traceback" not in res.output + res.stderr
    return runs


def test_same_inputs_give_byte_identical_outputs(make_sample, tmp_path):
    inbox = tmp_path / "受信"
    inbox.mkdir()
    for p in make_sample("plan", pref=PREF).files[:4] + make_sample("plan", pref=PREF, errors=True).files[4:7]:
        shutil.copy(p, inbox)
    first, second = tmp_path / "1", tmp_path / "2"
    runs = [run_everything(inbox, first), run_everything(inbox, second)]
    a, b = all_outputs(first), all_outputs(second)
    assert len(a) >= 3 + 3 * 2 and {Path(k).suffix for k in a} >= {".xlsx", ".docx", ".html", ".md"}
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert [r.stdout.replace(str(first), "") for r in runs[0]] == [r.stdout.replace(str(second), "") for r in runs[1]]


PASSWORDS = ["Kofu-秘密<1>&2019", "zip-pass'\"3", "aes-Ｐａｓｓ-4", "使われない-decoy-5"]


def secret_forms(password: str) -> list[bytes]:
    import html

    forms_ = {password.encode("utf-8"), password.encode("utf-16-le"), html.escape(password).encode(),
              html.escape(password, quote=False).encode()}
    with contextlib.suppress(UnicodeEncodeError):
        forms_.add(password.encode("cp932"))
    return sorted(forms_)


def test_passwords_never_appear_in_any_output_or_message(make_sample, master, schedule, tmp_path):
    files = make_sample("plan", pref=PREF).files
    inbox = tmp_path / "受信"
    inbox.mkdir()
    (inbox / "暗号化.xlsx").write_bytes(encrypted_xlsx(files[0].read_bytes(), PASSWORDS[0]))
    (inbox / "PPAP.zip").write_bytes(zipcrypto_zip([("計画.xlsx".encode("cp932"), files[1].read_bytes())],
                                                   PASSWORDS[1].encode("utf-8")))
    muni = master.by_code[files[2].name[:6]]
    muni = replace(muni, population=sample_population(muni, 2019))
    invalid = workbook_bytes("plan", muni, values={**sample_values("plan", muni, schedule, 2019),
                                                     "basic.email": "なし"}, schedule=schedule)
    (inbox / "AES.zip").write_bytes(aes_zip([("計画.xlsx", invalid)], PASSWORDS[2].encode("utf-8")))
    (inbox / "合わない.xlsx").write_bytes(encrypted_xlsx(files[3].read_bytes(), "list-にない-6"))
    pw_file = tmp_path / "passwords.txt"
    pw_file.write_text("\n".join(PASSWORDS) + "\n", encoding="utf-8")
    out = tmp_path / "出力"
    runs = run_everything(inbox, out, pw_file)

    doc = json.loads(runs[0].stdout)
    status = {(Path(r["path"]).name, r["member"]): r["status"] for r in doc["inputs"]}
    assert status[("暗号化.xlsx", "")] == "accepted" and status[("PPAP.zip", "計画.xlsx")] == "accepted"
    assert status[("AES.zip", "計画.xlsx")] == "rejected"  # opened with its password, then invalid
    assert status[("合わない.xlsx", "")] == "rejected"
    checked = {(Path(f["path"]).name, f["member"]): f for f in json.loads(runs[2].stdout)["files"]}
    assert checked[("AES.zip", "計画.xlsx")]["status"] == "invalid"  # decrypted and read
    assert [e["code"] for e in checked[("合わない.xlsx", "")]["errors"]] == ["E102"]
    outputs = all_outputs(out)
    assert any(k.startswith("差し戻し") for k in outputs)  # the decrypted invalid one, annotated
    texts = [r.stdout.encode() + r.stderr.encode() for r in runs]
    for _name, data in outputs.items():
        texts.append(data)
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                texts.extend(z.read(n) for n in z.namelist())
    for password in [*PASSWORDS, "list-にない-6"]:
        for form in secret_forms(password):
            assert not any(form in t for t in texts), password
