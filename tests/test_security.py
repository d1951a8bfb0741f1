"""Security: every input is an untrusted attachment (docs/spec/quality.md, "Security: inputs are untrusted
attachments"), proved end to end through the commands.

One inbox holds good sample workbooks beside every hostile item. ``kofu-merge --json`` and
``kofu-validate --json`` run over it once; each test then checks one threat: the hostile file is
listed exactly once, refused with its own code and Japanese reason, every good workbook is still
accepted, and nothing crashed. Inputs that abort python-calamine (a Rust abort kills the
process; ``except`` cannot catch it) are run in a child process, so that a regression fails a
test instead of killing the test runner.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result
from conftest import data_rows
from intake_fixtures import (
    RawEntry,
    compound_file,
    far_cell_xlsx,
    overlapping_zip,
    raw_zip,
    xlsx_bytes,
    zip_bomb,
    zip_bytes,
)
from read_fixtures import rewrite_zip, set_name, sheet_part, with_openpyxl

from kofu_excel import forms, intake
from kofu_excel.cli import main
from kofu_excel.demo.sample import sample_population, sample_values
from kofu_excel.findings import KofuError
from kofu_excel.formats import check_workbook
from kofu_excel.refdata import load_master, openpyxl_defused
from kofu_excel.write.template import file_name, workbook_bytes

PREF = "31"  # 鳥取県: 19 municipalities
N_GOOD = 3
ROOT = Path(__file__).resolve().parents[1]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# A DTD whose &j; expands to 10^10 characters if a parser resolves it, and one that reads a file.
ENTITY_BOMB = (b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
               + b"".join(b'<!ENTITY %c "%s">' % (chr(c).encode(), (b"&%c;" % (c - 1)) * 10)
                          for c in range(ord("b"), ord("j") + 1))
               + b"]>")
EXTERNAL_ENTITY = b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
DDE = "=cmd|' /C calc'!A0"


# --- building the hostile items -----------------------------------------------------------------


def with_doctype(xml: bytes, doctype: bytes, ref: bytes) -> bytes:
    """Put a DTD in a part's prolog and a reference to its entity inside the root element."""
    head, _, body = xml.partition(b"?>")
    gt = body.index(b">", body.index(b"<")) + 1  # the end of the root's start tag
    return head + b"?>" + doctype + body[:gt] + ref + body[gt:]


def in_sheet_cell(xml: bytes, cell: str, replacement: bytes) -> bytes:
    """Replace one cell element (self-closing or not) of a sheet part."""
    m = re.search(rb'<c r="%s"[^>]*?(?:/>|>.*?</c>)' % cell.encode(), xml, re.S)
    assert m is not None, cell
    return xml[: m.start()] + replacement + xml[m.end():]


def nested_zip(leaf: bytes) -> bytes:
    """An archive holding a.zip > b.zip > c.zip > 計画.xlsx: one level more than allowed."""
    data = zip_bytes([("計画.xlsx", leaf)])
    for name in "cba":
        data = zip_bytes([(f"{name}.zip", data)])
    return data


def few_kb_bomb() -> bytes:
    """1 GiB from about 4 KB: four archives, each one 256 MiB entry of zeros, zipped again."""
    inner = zip_bomb(2**28)
    return zip_bytes([(f"{i}.zip", inner) for i in range(1, 5)])


def macro_link_dde(plan: bytes) -> bytes:
    """An .xlsm with a VBA project, an external DDE link, and a DDE formula in an input cell
    (department) whose cached value is the text the municipality typed."""
    link = (b'<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns="http://schemas.openxmlformats'
            b'.org/spreadsheetml/2006/main"><ddeLink ddeService="cmd" ddeTopic="/c calc"/></externalLink>')
    cell = b"<c r=\"B8\" t=\"str\"><f>cmd|' /C calc'!A0</f><v>\xe5\xb8\x82\xe6\xb0\x91\xe8\xaa\xb2</v></c>"
    part = sheet_part(plan, "基本情報")
    return rewrite_zip(plan, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 never run",
                              "xl/externalLinks/externalLink1.xml": link,
                              part: lambda x: in_sheet_cell(x, "B8", cell)})


def lying_dimension(plan: bytes) -> bytes:
    part = sheet_part(plan, "交付枚数想定")
    return rewrite_zip(plan, {part: lambda x: re.sub(rb'<dimension ref="[^"]*"/>',
                                                     b'<dimension ref="A1:A1"/>', x)})


def meta_removed(plan: bytes) -> bytes:
    def edit(wb: openpyxl.Workbook) -> None:
        del wb["_meta"]
        del wb.defined_names["kofu_meta"]

    return with_openpyxl(plan, edit)


def meta_of(plan: bytes, code: str) -> bytes:
    """The form's hidden _meta naming another municipality (edited, or a neighbour's form)."""
    def edit(wb: openpyxl.Workbook) -> None:
        ws = wb["_meta"]
        [row] = [r for r in ws.iter_rows() if r[0].value == "muni_code"]
        row[1].value = code

    return with_openpyxl(plan, edit)


def layout_edited(plan: bytes) -> bytes:
    def edit(wb: openpyxl.Workbook) -> None:  # two rows inserted inside the table, as Excel does
        wb["交付枚数想定"].insert_rows(10, 2)
        set_name(wb, "kofu_forecast_planned_issued", "交付枚数想定!$B$5:$B$48")

    return with_openpyxl(plan, edit)


def number_cell(plan: bytes, text: bytes, field: str = "forecast.planned_issued.2020-04") -> bytes:
    """A cell of ``field`` holding the number ``text`` as written (``NaN``, ``1e999`` …)."""
    e = {e.id: e for e in forms.catalog("plan")}[field]
    cell = b'<c r="%s"><v>%s</v></c>' % (e.cell.encode(), text)
    return rewrite_zip(plan, {sheet_part(plan, e.sheet): lambda x: in_sheet_cell(x, e.cell, cell)})


@dataclass(frozen=True)
class Threat:
    """One hostile file of the inbox and the rows kofu-merge must list for it:
    (member, status, code, a fragment of the reason)."""

    file: str
    build: Callable[[bytes], bytes]
    rows: tuple[tuple[str, str, str, str], ...]
    validated: str = "unreadable"  # kofu-validate's status of a rejected item ("invalid": a cell)


def rejected(code: str, fragment: str, member: str = "") -> tuple[tuple[str, str, str, str], ...]:
    return ((member, "rejected", code, fragment),)


THREATS: dict[str, Threat] = {
    "xml_entity_expansion_in_sheet": Threat(
        "実体展開.xlsx",
        lambda p: rewrite_zip(p, {sheet_part(p, "基本情報"): lambda x: with_doctype(x, ENTITY_BOMB, b"&j;")}),
        rejected("E101", "DTD")),
    "xml_external_entity_in_sheet": Threat(
        "外部実体.xlsx",
        lambda p: rewrite_zip(p, {sheet_part(p, "基本情報"): lambda x: with_doctype(x, EXTERNAL_ENTITY, b"&x;")}),
        rejected("E101", "外部実体")),
    "xml_external_entity_in_workbook_xml": Threat(
        "外部実体_workbook.xlsx",
        lambda p: rewrite_zip(p, {"xl/workbook.xml": lambda x: with_doctype(x, EXTERNAL_ENTITY, b"&x;")}),
        rejected("E101", "xl/workbook.xml")),
    "zip_bomb_1_gib": Threat("zip爆弾.xlsx", lambda p: zip_bomb(), rejected("E112", "zip爆弾")),
    "zip_bomb_1_gib_from_4_kb_nested": Threat(
        "入れ子の爆弾.zip", lambda p: few_kb_bomb(),
        (("", "opened", "", "取り出しました"),
         *((f"{i}.zip", "rejected", "E112", "zip爆弾") for i in range(1, 5)))),
    "far_away_cell_xfd1048576": Threat("遠いセル.xlsx", lambda p: far_cell_xlsx(), rejected("E108", "XFD1048576")),
    "overlapping_zip_entries": Threat("重なり.zip", lambda p: overlapping_zip(), rejected("E115", "重なって")),
    "duplicate_member_names": Threat(
        "同名.zip",
        lambda p: raw_zip([RawEntry("計画.xlsx".encode(), p, flags=0x800),
                           RawEntry("計画.XLSX".encode(), xlsx_bytes(), flags=0x800)]),
        rejected("E115", "重複")),
    "too_many_zip_entries": Threat(
        "多すぎ.zip", lambda p: zip_bytes([(f"{i}.txt", b"x") for i in range(1001)]),
        rejected("E112", "1,001 個")),
    "deeply_nested_archives": Threat(
        "入れ子.zip", nested_zip,
        (("", "opened", "", "取り出しました"), ("a.zip", "opened", "", "取り出しました"),
         ("a.zip > b.zip", "opened", "", "取り出しました"),
         ("a.zip > b.zip > c.zip", "rejected", "E114", "入れ子が深すぎる"))),
    "path_traversal_member_name": Threat(
        "上位フォルダ.zip", lambda p: raw_zip([RawEntry(b"../../x.xlsx", p)]), rejected("E113", "..")),
    "zero_byte_file": Threat("空.xlsx", lambda p: b"", rejected("E110", "0 バイト")),
    "truncated_file": Threat("途中まで.xlsx", lambda p: p[: len(p) // 2], rejected("E111", "途中で切れて")),
    "random_bytes_named_xlsx": Threat("乱数.xlsx", lambda p: bytes(range(256)) * 20,
                                      rejected("E111", "形式ではありません")),
    "random_bytes_named_xls": Threat("乱数.xls", lambda p: bytes(range(255, -1, -1)) * 20,
                                     rejected("E111", "壊れている")),
    "workbook_of_another_survey": Threat(
        "別の調査.xlsx", lambda p: xlsx_bytes((("氏名", "点数"), ("山田", 80)), sheet="調査票"),
        rejected("E117", "本ツールの様式でも")),
    "template_with_meta_removed": Threat("meta削除.xlsx", meta_removed, rejected("E103", "_meta")),
    "template_layout_edited": Threat("行挿入.xlsx", layout_edited, rejected("E105", "挿入")),
    # Numbers no person types, written by a tool: an E2xx on their cell, the outputs still valid.
    "nan_in_a_number_cell": Threat("NaN.xlsx", lambda p: number_cell(p, b"NaN"), rejected("E202", "NaN"), "invalid"),
    "infinity_in_a_number_cell": Threat("無限大.xlsx", lambda p: number_cell(p, b"1e999"),
                                        rejected("E202", "無限大"), "invalid"),
    "minus_infinity_in_a_number_cell": Threat("負の無限大.xlsx", lambda p: number_cell(p, b"-1e999"),
                                              rejected("E202", "無限大"), "invalid"),
    "nan_in_a_text_cell": Threat("NaN_文字.xlsx", lambda p: number_cell(p, b"NaN", "basic.department"),
                                 rejected("E202", "NaN"), "invalid"),
    "largest_float_1_79e308": Threat("巨大な数.xlsx", lambda p: number_cell(p, b"1.79e308"),
                                     rejected("E203", "大きすぎ"), "invalid"),
}


# --- the inbox and one run of each command ------------------------------------------------------


@pytest.fixture(scope="module")
def sample(make_sample):
    return make_sample("plan", pref=PREF)


@pytest.fixture(scope="module")
def hostile(sample, master, schedule, tmp_path_factory) -> dict[str, Any]:
    """The inbox, kofu-merge --json and kofu-validate --json (with --report and --annotate)."""
    root = tmp_path_factory.mktemp("hostile")
    inbox = root / "受信"
    inbox.mkdir()
    good = sample.files[:N_GOOD]
    for p in good:
        shutil.copy(p, inbox / p.name)
    plan = sample.files[N_GOOD].read_bytes()  # damaged in every way below
    for threat in THREATS.values():
        (inbox / threat.file).write_bytes(threat.build(plan))
    # Not refused, but read as data: a lying <dimension>, and macros/links/DDE (reported).
    lying = sample.files[N_GOOD + 1]
    (inbox / ("寸法_" + lying.name)).write_bytes(lying_dimension(lying.read_bytes()))
    macro = sample.files[N_GOOD + 2]
    (inbox / (macro.stem + ".xlsm")).write_bytes(macro_link_dde(macro.read_bytes()))
    # The same active content in an invalid workbook: it is annotated, and the copy is fresh.
    muni = master.by_code[sample.files[N_GOOD + 3].name[:6]]
    muni = replace(muni, population=sample_population(muni, 2019))
    values = {**sample_values("plan", muni, schedule, 2019), "basic.email": "メールなし"}
    invalid = workbook_bytes("plan", muni, values=values, schedule=schedule)
    (inbox / "マクロ付き_不備.xlsm").write_bytes(macro_link_dde(invalid))
    # A _meta naming another municipality of the prefecture than the 団体コード cell does (of a
    # municipality none of the damaged copies above is from: an accepted plan would settle them).
    meta_code = sample.files[N_GOOD + 6].name[:6]
    meta_book = sample.files[N_GOOD + 4]
    (inbox / "meta別団体.xlsx").write_bytes(meta_of(meta_book.read_bytes(), meta_code))

    out = root / "とりまとめ.xlsx"
    merged = CliRunner().invoke(main, ["merge", str(inbox), "-o", str(out), "--pref", PREF, "--json"])
    report, annotated = root / "確認結果.xlsx", root / "差し戻し"
    validated = CliRunner().invoke(main, ["validate", str(inbox), "--json", "--report", str(report),
                                          "--annotate", str(annotated)])
    return {"inbox": inbox, "out": out, "merged": merged, "validated": validated,
            "merge": json.loads(merged.stdout), "validate": json.loads(validated.stdout),
            "good": [p.name for p in good], "lying": lying, "macro": macro,
            "report": report, "annotated": annotated, "meta_code": meta_code,
            "cell_code": meta_book.name[:6]}


def rows_of(doc: dict[str, Any], file: str) -> list[dict[str, Any]]:
    return [r for r in doc["inputs"] if Path(r["path"]).name == file]


def files_of(doc: dict[str, Any], file: str) -> list[dict[str, Any]]:
    return [f for f in doc["files"] if Path(f["path"]).name == file]


def no_traceback(res: Result) -> None:
    assert "Traceback" not in res.output + res.stderr
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception


@pytest.mark.parametrize("threat", list(THREATS))
def test_hostile_input_refused_with_its_own_reason_by_merge(hostile, threat):
    t = THREATS[threat]
    got = [(r["member"], r["status"], r["reason"]) for r in rows_of(hostile["merge"], t.file)]
    assert [(m, s) for m, s, _ in got] == [(m, s) for m, s, _, _ in t.rows]  # each once, in order
    for (_, _, reason), (_, _, _, fragment) in zip(got, t.rows, strict=True):
        assert fragment in reason and JAPANESE.search(reason), reason
        assert "\n" not in reason and "Traceback" not in reason


@pytest.mark.parametrize("threat", list(THREATS))
def test_hostile_input_reported_with_its_own_code_by_validate(hostile, threat):
    t = THREATS[threat]
    want = [(m, c) for m, s, c, _ in t.rows if s == "rejected"]
    got = files_of(hostile["validate"], t.file)
    assert [(f["member"], f["status"]) for f in got] == [(m, t.validated) for m, _ in want]
    for f, (_, code) in zip(got, want, strict=True):
        assert [e["code"] for e in f["errors"]] == [code]
        assert JAPANESE.search(f["errors"][0]["message"])


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def numbers_in(xlsx: Path) -> list[float]:
    """Every number stored in a workbook's sheets (cell values, as <v> holds them)."""
    out = []
    with zipfile.ZipFile(xlsx) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                for v in re.findall(rb"<v>([^<]*)</v>", zf.read(name)):
                    with contextlib.suppress(ValueError):  # an inline string's text
                        out.append(float(v))
    return out


def test_nan_and_infinite_cells_leave_every_output_valid(hostile):
    """The batch is reported (exit 1, not 2), --json is strict JSON, and the report, the
    annotated copies and the summary hold only finite numbers."""
    assert hostile["merged"].exit_code == 1 and hostile["validated"].exit_code == 1
    strict_json(hostile["merged"].stdout)
    strict_json(hostile["validated"].stdout)
    copies = {p.name for p in hostile["annotated"].iterdir()}
    for t in ("nan_in_a_number_cell", "infinity_in_a_number_cell", "nan_in_a_text_cell"):
        assert Path(THREATS[t].file).stem + "_確認結果.xlsx" in copies
    for book in (hostile["report"], hostile["out"], *hostile["annotated"].iterdir()):
        numbers = numbers_in(book)
        assert numbers and all(math.isfinite(x) for x in numbers), book


def test_meta_naming_another_municipality_is_w407_and_the_cell_decides_everywhere(hostile):
    """One source of truth for whose book it is — the 団体コード cell — in kofu-merge, in
    kofu-validate --json and in the messages; the mismatch is W407."""
    cell, meta = hostile["cell_code"], hostile["meta_code"]
    assert cell != meta
    [row] = rows_of(hostile["merge"], "meta別団体.xlsx")
    assert (row["status"], row["muni_code"]) == ("accepted", cell)
    [f] = files_of(hostile["validate"], "meta別団体.xlsx")
    assert (f["status"], f["muni_code"]) == ("valid", cell)
    [w] = [w for w in f["errors"] if w["code"] == "W407"]
    assert w["severity"] == "warning" and w["field"] == "basic.muni_code"
    assert meta in w["message"] and cell in w["message"]


def test_batch_goes_on_every_good_workbook_accepted(hostile):
    merged = hostile["merge"]
    for name in hostile["good"]:
        assert [r["status"] for r in rows_of(merged, name)] == ["accepted"], name
    assert hostile["merged"].exit_code == 1 and hostile["validated"].exit_code == 1
    no_traceback(hostile["merged"])
    no_traceback(hostile["validated"])
    # Every file of the inbox is listed, and nothing else; the summary was written.
    on_disk = sorted(p.name for p in hostile["inbox"].iterdir())
    assert sorted({Path(r["path"]).name for r in merged["inputs"]}) == on_disk
    assert {r["status"] for r in merged["inputs"]} == {"accepted", "rejected", "opened"}
    assert hostile["out"].exists()
    accepted = {r["muni_code"] for r in merged["inputs"] if r["status"] == "accepted"}
    # the good ones, the lying <dimension>, the valid .xlsm, the one whose _meta names another
    assert len(accepted) == N_GOOD + 3


def test_zip_bomb_refused_before_parsing_fast_and_with_bounded_memory(tmp_path):
    (tmp_path / "爆弾.xlsx").write_bytes(zip_bomb())  # 1 GiB of zeros in ~1 MB
    (tmp_path / "小さな爆弾.zip").write_bytes(few_kb_bomb())  # 1 GiB in ~4 KB
    assert len((tmp_path / "小さな爆弾.zip").read_bytes()) < 8 * 1024
    tracemalloc.start()
    start = time.perf_counter()
    try:
        items = intake.collect([tmp_path])
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert [(Path(i.path).name, i.member, i.status, i.code) for i in items] == [
        ("小さな爆弾.zip", "", "opened", ""),
        *(("小さな爆弾.zip", f"{i}.zip", "rejected", "E112") for i in range(1, 5)),
        ("爆弾.xlsx", "", "rejected", "E112")]


def test_lying_dimension_read_in_full(hostile, master, schedule, tmp_path):
    """openpyxl read-only trusts <dimension> (1 row of 3); the reader must not: same データ."""
    from kofu_excel.merge import merge
    from kofu_excel.model import BatchOptions

    code = hostile["lying"].name[:6]
    alone = tmp_path / "元.xlsx"
    res = merge([hostile["lying"]], alone, BatchOptions(master=master, pref=PREF), schedule=schedule)
    assert res.exit_code == 0
    want = [r for r in data_rows(alone) if r[0] == code]
    assert len(want) > 100
    assert [r for r in data_rows(hostile["out"]) if r[0] == code] == want


def xml_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_macro_external_link_and_dde_read_as_data_reported_never_in_outputs(hostile):
    name = hostile["macro"].stem + ".xlsm"
    [row] = rows_of(hostile["merge"], name)
    assert row["status"] == "accepted"
    [f] = files_of(hostile["validate"], name)
    assert f["status"] == "valid"
    codes = {e["code"]: e["message"] for e in f["errors"]}
    assert set(codes) == {"W405", "W406"}  # active content found; a formula in an input cell
    assert "マクロ" in codes["W405"] and "外部リンク" in codes["W405"] and "DDE" in codes["W405"]
    # The cached text is read as data; the summary lists the warning; nothing active is carried.
    code = hostile["macro"].name[:6]
    department = [r for r in data_rows(hostile["out"]) if r[0] == code and r[3] == "department"]
    assert [r[5] for r in department] == ["市民課"]
    wb = openpyxl.load_workbook(hostile["out"], read_only=True)
    findings = [r for r in wb["指摘事項"].iter_rows(values_only=True) if "W405" in r]
    wb.close()
    assert findings
    [bad] = files_of(hostile["validate"], "マクロ付き_不備.xlsm")
    assert bad["status"] == "invalid" and {"W405", "E209"} <= {e["code"] for e in bad["errors"]}
    [copy] = [p for p in hostile["annotated"].iterdir() if p.name.startswith("マクロ付き_不備")]
    outputs = [hostile["out"], hostile["report"], copy]
    for out in outputs:
        for part, body in xml_parts(out).items():
            assert not re.search(r"vbaproject|externallink|activex|embeddings", part, re.I), (out, part)
            assert b"cmd|" not in body and b"ddeLink" not in body, (out, part)


# --- .xls: calamine aborts the process on some BIFF records -----------------------------------


def _rec(rtype: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", rtype, len(data)) + data


def tiny_xls(cells: list[tuple[int, int]], dims: tuple[int, int, int, int] | None = None,
             *, mulrk: tuple[int, int, int] | None = None, globals_: bytes = b"") -> bytes:
    """A 2.5 KB BIFF8 workbook, one sheet, NUMBER records at ``cells`` and one DIMENSIONS
    (``globals_``: more records for the workbook globals)."""
    def bof(dt: int) -> bytes:
        return _rec(0x0809, struct.pack("<HHHHII", 0x0600, dt, 0x0DBB, 0x07CC, 0, 6))

    name = "Sheet1".encode("utf-16-le")
    head = bof(0x0005) + _rec(0x0042, struct.pack("<H", 1200)) + globals_
    pos = len(head) + 4 + 8 + len(name) + 4
    sheet = bof(0x0010)
    r0, r1, c0, c1 = dims or (0, 1 + max(r for r, _ in cells), 0, 1 + max(c for _, c in cells))
    sheet += _rec(0x0200, struct.pack("<IIHHH", r0, r1, c0, c1, 0))
    for r, c in cells:
        sheet += _rec(0x0203, struct.pack("<HHHd", r, c, 0, 1.0))
    if mulrk:
        r, first, last = mulrk
        sheet += _rec(0x00BD, struct.pack("<HH", r, first) + b"\x00\x00\x02\x00\x00\x00" * (last - first + 1)
                      + struct.pack("<H", last))
    stream = (head + _rec(0x0085, struct.pack("<IBBBB", pos, 0, 0, 6, 1) + name) + _rec(0x000A)
              + sheet + _rec(0x000A))
    return compound_file({"Workbook": stream})


HOSTILE_XLS: dict[str, tuple[bytes, str]] = {
    # name → (bytes, a fragment of the reason)
    "far_cell_col_65535": (tiny_xls([(0, 0), (65535, 65535)], dims=(0, 1, 0, 1)), "列番号 65,536"),
    "dimensions_rwmac_ffffffff": (tiny_xls([(0, 0)], dims=(0, 0xFFFFFFFF, 0, 1)), "DIMENSIONS"),
    "dimensions_reversed": (tiny_xls([(0, 0)], dims=(100, 50, 0, 1)), "DIMENSIONS"),
    "cell_at_iv65536_costs_1_2_gb": (tiny_xls([(0, 0), (65535, 255)], dims=(0, 1, 0, 1)), "IV65536"),
    "dimensions_claiming_iv65536": (tiny_xls([(0, 0)], dims=(0, 65536, 0, 256)), "16,777,216 セル"),
    "mulrk_beyond_column_iv": (tiny_xls([(0, 0)], dims=(0, 1, 0, 1), mulrk=(3, 250, 300)), "列番号 301"),
}

_CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from click.testing import CliRunner
    from kofu_excel.cli import main
    from kofu_excel.formats import check_workbook
    from kofu_excel.read import read_book
    inbox, out = sys.argv[1], sys.argv[2]
    direct = {}
    for p in sorted(Path(inbox).glob("*.xls")):
        data = p.read_bytes()
        book = read_book(data, "xls")  # read_book alone bounds the workbook too
        direct[p.name] = [check_workbook(data, "xls"), [f.code for f in book.findings]]
    merged = CliRunner().invoke(main, ["merge", inbox, "-o", out, "--pref", "31", "--json"])
    validated = CliRunner().invoke(main, ["validate", inbox, "--json"])
    print(json.dumps({"direct": direct, "merge": json.loads(merged.stdout),
                      "merge_exit": merged.exit_code, "validate": json.loads(validated.stdout)}))
""")


def run_child(code: str, *args: str, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env={**os.environ, **(env or {})})


def test_hostile_xls_refused_before_calamine_in_a_child_process(sample, tmp_path):
    inbox = tmp_path / "受信"
    inbox.mkdir()
    for p in sample.files[:N_GOOD]:
        shutil.copy(p, inbox / p.name)
    for name, (data, _) in HOSTILE_XLS.items():
        assert len(data) < 6 * 1024
        (inbox / f"{name}.xls").write_bytes(data)
    res = run_child(_CHILD, str(inbox), str(tmp_path / "out.xlsx"))
    assert res.returncode == 0, f"child died ({res.returncode}): {res.stderr[-2000:]}"
    doc = json.loads(res.stdout)
    assert doc["merge_exit"] == 1
    for name, (_, fragment) in HOSTILE_XLS.items():
        pre, codes = doc["direct"][f"{name}.xls"]
        assert pre[0] == "E108" and fragment in pre[1], (name, pre)
        assert codes == ["E108"], (name, codes)
        [row] = rows_of(doc["merge"], f"{name}.xls")
        assert row["status"] == "rejected" and fragment in row["reason"]
        [f] = files_of(doc["validate"], f"{name}.xls")
        assert [e["code"] for e in f["errors"]] == ["E108"]
    for p in sample.files[:N_GOOD]:
        assert [r["status"] for r in rows_of(doc["merge"], p.name)] == ["accepted"]


def test_hostile_xls_really_aborts_calamine_unguarded(tmp_path):
    """The control: without the pre-check these bytes kill the process they are opened in."""
    for name in ("far_cell_col_65535", "dimensions_rwmac_ffffffff"):
        path = tmp_path / f"{name}.xls"
        path.write_bytes(HOSTILE_XLS[name][0])
        res = run_child("import sys; from python_calamine import CalamineWorkbook\n"
                        "CalamineWorkbook.from_path(sys.argv[1]); print('opened')", str(path))
        assert res.returncode != 0 and "opened" not in res.stdout, name
    good = tmp_path / "good.xls"
    good.write_bytes(tiny_xls([(0, 0), (1, 1)]))
    assert check_workbook(good.read_bytes(), "xls") is None


def test_rust_panic_in_calamine_is_a_finding_not_a_crash(sample, tmp_path):
    """A NAME record whose formula claims more bytes than it has makes calamine panic; pyo3
    raises that as PanicException, a BaseException that ``except Exception`` lets through."""
    name = struct.pack("<HBBHHH4B", 0, 0, 4, 0xFFFF, 0, 0, 0, 0, 0, 0) + b"\x00kofu"
    data = tiny_xls([(0, 0), (1, 1)], globals_=_rec(0x0018, name))
    assert check_workbook(data, "xls") is None  # nothing the pre-check needs to refuse
    inbox = tmp_path / "受信"
    inbox.mkdir()
    (inbox / "名前が壊れた.xls").write_bytes(data)
    for p in sample.files[:N_GOOD]:
        shutil.copy(p, inbox / p.name)
    res = run_child(_CHILD, str(inbox), str(tmp_path / "out.xlsx"))
    assert res.returncode == 0, f"child died ({res.returncode}): {res.stderr[-2000:]}"
    doc = json.loads(res.stdout)
    assert doc["direct"]["名前が壊れた.xls"] == [None, ["E101"]]
    [row] = rows_of(doc["merge"], "名前が壊れた.xls")
    assert row["status"] == "rejected" and "PanicException" in row["reason"]
    assert doc["merge_exit"] == 1
    assert [r["status"] for r in doc["merge"]["inputs"]].count("accepted") == N_GOOD


# --- XML parsers: defusedxml, and openpyxl on the user's own files ----------------------------


def test_openpyxl_uses_defusedxml():
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True
    assert openpyxl_defused()


def master_xlsx(tmp_path: Path, edit: Callable[[bytes], bytes] | None = None) -> Path:
    data = xlsx_bytes((("団体コード", "市区町村名", "人口"), ("011002", "札幌市", 1_960_000)), sheet="名簿")
    path = tmp_path / "名簿.xlsx"
    path.write_bytes(rewrite_zip(data, {"xl/worksheets/sheet1.xml": edit}) if edit else data)
    return path


@pytest.mark.parametrize("doctype, ref", [(ENTITY_BOMB, b"&j;"), (EXTERNAL_ENTITY, b"&x;")],
                         ids=["entity_expansion", "external_entity"])
def test_master_xlsx_with_entity_bomb_refused_cleanly(tmp_path, doctype, ref):
    path = master_xlsx(tmp_path, lambda x: with_doctype(x, doctype, ref))
    with pytest.raises(KofuError) as e:
        load_master(path)
    assert e.value.code == "E501" and "DTD" in e.value.message
    res = CliRunner().invoke(main, ["template", "--kind", "plan", "--master", str(path),
                                    "-o", str(tmp_path / "out")])
    assert res.exit_code == 2 and res.stderr.startswith("E501: ")
    assert len(res.stderr.strip().splitlines()) == 1
    no_traceback(res)


def test_master_xlsx_broken_mid_sheet_refused_cleanly(tmp_path):
    """openpyxl read-only parses a sheet only while iterating: damage shows late, still E501."""
    rows = [("団体コード", "市区町村名", "人口")] + [("011002", "札幌市", 1000)] * 40
    data = xlsx_bytes(rows, sheet="名簿")
    path = tmp_path / "名簿.xlsx"
    path.write_bytes(rewrite_zip(data, {"xl/worksheets/sheet1.xml":
                                        lambda x: x.replace(b'<row r="30"', b'<row <<& r="30"', 1)}))
    with pytest.raises(KofuError) as e:
        load_master(path)
    assert e.value.code == "E501"


def test_master_xlsx_refused_when_openpyxl_does_not_use_defusedxml(tmp_path):
    """OPENPYXL_DEFUSEDXML=False switches openpyxl to the plain parsers: then no xlsx is read."""
    path = master_xlsx(tmp_path)
    res = run_child("import sys, openpyxl.xml\n"
                    "from kofu_excel.cli import main\n"
                    "print(openpyxl.xml.DEFUSEDXML, flush=True)\n"
                    "main(sys.argv[1:])",
                    "template", "--kind", "plan", "--master", str(path), "-o", str(tmp_path / "out"),
                    env={"OPENPYXL_DEFUSEDXML": "False"})
    assert res.stdout.strip() == "False"
    assert res.returncode == 2 and res.stderr.startswith("E501: ") and "defusedxml" in res.stderr
    assert not (tmp_path / "out").exists()
    assert load_master(path).by_code["011002"].name == "札幌市"  # here defusedxml is on


# --- injection: what municipalities type lands as text, never as a formula ------------------------

PAYLOADS = ["=1+2", "+SUM(1,2)", "-2+3", "@SUM(1)", "\t=1+1", "\r=1+1", "＝1+1", DDE,
            "=HYPERLINK(\"http://evil.example/\",\"押して\")", "@SUM(1+1)*cmd|' /C calc'!A0",
            "=DDE(\"cmd\";\"/C calc\";\"x\")", "-1+1+cmd|' /C calc'!A0"]
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def injected(master, schedule, tmp_path_factory) -> dict[str, Any]:
    """Workbooks whose text fields hold formula and DDE payloads; one also has an invalid e-mail
    carrying markup, so that it is annotated and gets a letter. Every command runs once."""
    root = tmp_path_factory.mktemp("injection")
    inbox = root / "受信"
    inbox.mkdir()
    munis = master.select(pref=PREF)[:4]
    notes = [e.id for e in forms.catalog("plan") if e.id.startswith("methods.note.")]
    for i, muni in enumerate(munis):
        muni = replace(muni, population=sample_population(muni, 2019))
        v = sample_values("plan", muni, schedule, 2019)
        texts = PAYLOADS[i * 3:(i + 1) * 3]
        v["basic.department"], v["basic.contact_person"] = texts[0], texts[1]
        for note in notes:
            v[note] = texts[2]
        if i % 2:  # invalid: rejected, annotated, reported, and a letter asks to correct it
            v["basic.email"] = SCRIPT if i == 1 else DDE
            v["basic.phone"] = PAYLOADS[-1 - i]
        (inbox / file_name("plan", muni)).write_bytes(workbook_bytes("plan", muni, values=v, schedule=schedule))
    out = root / "とりまとめ.xlsx"
    runner = CliRunner()
    merged = runner.invoke(main, ["merge", str(inbox), "-o", str(out), "--pref", PREF])
    report, annotated = root / "確認結果.xlsx", root / "差し戻し"
    validated = runner.invoke(main, ["validate", str(inbox), "--report", str(report),
                                     "--annotate", str(annotated)])
    letters = root / "letters"
    advised = runner.invoke(main, ["advise", str(out), "-o", str(letters), "--format", "html",
                                   "--date", "2020-04-01"])
    return {"merged": merged, "validated": validated, "advised": advised, "out": out,
            "report": report, "annotated": annotated, "letters": letters}


def text_cells(path: Path) -> list[openpyxl.cell.cell.Cell]:
    wb = openpyxl.load_workbook(path)
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if isinstance(c.value, str) and c.value]


def assert_payloads_are_text(path: Path, expected: int) -> None:
    """Each payload found is a text cell, quote-prefixed when a spreadsheet could re-enter it as a
    formula; no formula of the file holds any payload; no link or DDE part exists."""
    found = 0
    for c in text_cells(path):
        # calamine returns a CR as the OOXML escape _x000D_, which starts no formula
        value = c.value.replace("_x000D_", "\r")
        if any(value.strip() == p.strip() for p in PAYLOADS):
            found += 1
            assert c.data_type == "s", (path.name, c.coordinate, c.value)
            if c.value.startswith(("=", "+", "-", "@", "\t", "\r", "＝")):
                assert c.quotePrefix, (path.name, c.coordinate, repr(c.value))
    assert found >= expected, (path.name, found)
    for part, body in xml_parts(path).items():
        assert not re.search(r"externallink|vbaproject", part, re.I)
        for formula in re.findall(rb"<f(?:\s[^>]*)?>([^<]*)</f>", body):
            assert b"cmd|" not in formula and b"HYPERLINK" not in formula and b"DDE" not in formula, (
                path.name, part, formula)


def test_formula_and_dde_payloads_are_text_in_the_summary(injected):
    assert injected["merged"].exit_code == 1, injected["merged"].output
    assert_payloads_are_text(injected["out"], expected=2 * (2 + 13))  # two accepted


def test_formula_and_dde_payloads_are_text_in_the_report_workbook(injected):
    assert injected["validated"].exit_code == 1
    assert_payloads_are_text(injected["report"], expected=3)  # the invalid values


def test_formula_and_dde_payloads_are_text_in_annotated_copies(injected):
    copies = sorted(injected["annotated"].iterdir())
    assert len(copies) == 2
    for copy in copies:
        assert_payloads_are_text(copy, expected=3 + 13)  # what they typed, as typed


def test_letters_escape_municipal_markup(injected):
    assert injected["advised"].exit_code in (0, 1), injected["advised"].output
    pages = [p.read_text(encoding="utf-8") for p in injected["letters"].rglob("*.html")]
    assert pages
    joined = "\n".join(pages)
    assert "<script>" not in joined
    assert "&lt;script&gt;" in joined  # the invalid e-mail address is quoted back, as text


def test_operator_lowers_a_limit_in_config_and_the_cli_applies_it(tmp_path: Path) -> None:
    """docs/spec/quality.md: each limit overridable by the operator ([limits] in the --config TOML)."""
    from intake_fixtures import zip_bytes

    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "many.zip").write_bytes(zip_bytes([(f"m{i}.txt", b"x") for i in range(12)]))
    cfg = tmp_path / "limits.toml"
    cfg.write_text("[limits]\nmax_entries = 10\n", encoding="utf-8")
    for cmd in (["merge", str(inbox), "-o", str(tmp_path / "s.xlsx"), "--json"],
                ["validate", str(inbox), "--json"]):
        plain = CliRunner().invoke(main, cmd)
        lowered = CliRunner().invoke(main, [*cmd, "--config", str(cfg)])
        assert "E112" not in plain.output
        assert "E112" in lowered.output, lowered.output


@pytest.mark.parametrize("text", ["[limits]\nmax_entries = 0\n", "[limits]\nmax_entries = -5\n",
                                  "[limits]\nmax_ratio = inf\n", "[limits]\nunbounded = 1\n",
                                  "[limits]\nmax_entries = 1.5\n"])
def test_limits_in_config_can_never_be_switched_off(tmp_path: Path, text: str) -> None:
    from kofu_excel.refdata import load_config

    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(KofuError) as err:
        load_config(cfg)
    assert err.value.code == "E503"


# --- a folder bomb: nesting deeper than anyone files ---------------------------------------------


def test_1500_nested_folders_reject_only_what_lies_beyond_the_depth_limit(sample, tmp_path):
    """1,500 folders inside each other: the workbook at the top and the one at the deepest
    level walked are read; the folder below that is one rejected item (E118) with a Japanese
    reason; no RecursionError, no E999."""
    from kofu_excel.intake.walk import MAX_DEPTH

    inbox = tmp_path / "受信"
    levels = [inbox]
    for _ in range(1500):
        levels.append(levels[-1] / "d")
    try:
        for d in levels:  # os.makedirs recurses: it would fail at this depth
            d.mkdir()
        shutil.copy(sample.files[0], inbox)
        shutil.copy(sample.files[1], levels[MAX_DEPTH])  # the deepest folder walked
        shutil.copy(sample.files[2], levels[MAX_DEPTH + 1])  # inside the folder beyond it
        merged = CliRunner().invoke(main, ["merge", str(inbox), "-o", str(tmp_path / "t.xlsx"),
                                           "--pref", PREF, "--json"])
        validated = CliRunner().invoke(main, ["validate", str(inbox), "--json"])
        for res in (merged, validated):
            no_traceback(res)
            assert res.exit_code == 1, res.output
        rows = [(r["status"], r["code"], Path(r["path"]).name) for r in json.loads(merged.stdout)["inputs"]]
        assert rows == [("accepted", "", sample.files[0].name), ("accepted", "", sample.files[1].name),
                        ("rejected", "E118", "d")]
        deep = json.loads(merged.stdout)["inputs"][2]
        assert JAPANESE.search(deep["reason"]) and str(MAX_DEPTH) in deep["reason"]
        assert Path(deep["path"]) == levels[MAX_DEPTH + 1]
        files = [(f["status"], Path(f["path"]).name) for f in json.loads(validated.stdout)["files"]]
        assert files == [("valid", sample.files[0].name), ("valid", sample.files[1].name),
                         ("unreadable", "d")]
    finally:
        for d in reversed(levels):  # shutil.rmtree recurses: it would fail at this depth
            if d.exists():
                for p in d.iterdir():
                    if p.is_file():
                        p.unlink()
                d.rmdir()


# --- what the commands write, what else they read, what they print (issue 16) ------------------
#
# The threat table of the disk around the inbox: an output path that is an input under another
# name, or a device, FIFO or link; a folder holding a municipality's own file under the name a
# command writes; side files (--passwords, --config …) that are devices, FIFOs or huge; names and
# cells carrying terminal escapes, markup or a CR. Each row: the command run, the code it must
# give, and the file that must come out unchanged.

KOFU = str(Path(sys.executable).with_name("kofu"))
CP932_NAME = "312029_米子市_計画.xlsx".encode("cp932")  # a Windows zip unpacked on Linux
ESCAPE_NAME = "\x1b]0;PWNED\x07\x1b[2J計画.xlsx"


def kofu(*args: str | bytes, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A kofu command in its own process (a FIFO that blocked would hang the test runner
    otherwise; the timeout only bounds a regression, nothing is timed)."""
    res = subprocess.run([KOFU, *args], capture_output=True, timeout=timeout, text=True,
                         errors="surrogateescape")
    assert "Traceback" not in res.stderr and "E999" not in res.stderr, res.stderr
    return res


def one_line(res: subprocess.CompletedProcess[str] | Result, code: str) -> None:
    """Exit 2 and exactly one Japanese line with the code on stderr."""
    err = res.stderr.strip()
    status = res.returncode if isinstance(res, subprocess.CompletedProcess) else res.exit_code
    assert status == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{code}: ") and JAPANESE.search(lines[0]), err


@pytest.fixture(scope="module")
def desk(sample, master, schedule, tmp_path_factory) -> dict[str, Any]:
    """An inbox with a good plan under a cp932 (non-UTF-8) name, one under a name carrying
    terminal escapes, an invalid plan whose e-mail cell holds markup and a CR, an e-mail without
    attachments and one with an inline image only; merged once into a summary."""
    root = tmp_path_factory.mktemp("desk")
    inbox = root / "受信"
    inbox.mkdir()
    cp932 = Path(os.fsdecode(os.fsencode(inbox) + b"/" + CP932_NAME))  # surrogate escapes
    cp932.write_bytes(sample.files[0].read_bytes())
    (inbox / ESCAPE_NAME).write_bytes(sample.files[1].read_bytes())
    muni = master.by_code[sample.files[2].name[:6]]
    muni = replace(muni, population=sample_population(muni, 2019))
    values = {**sample_values("plan", muni, schedule, 2019),
              "basic.email": "<img src=x onerror=alert(1)>\r![x](http://evil.example/x.png)"}
    (inbox / "不備.xlsx").write_bytes(workbook_bytes("plan", muni, values=values, schedule=schedule))
    head = "From: a@example.jp\r\nSubject: =?UTF-8?B?5o+Q5Ye6?=\r\nMIME-Version: 1.0\r\n"
    (inbox / "添付なし.eml").write_bytes((head + "Content-Type: text/plain\r\n\r\n本文のみ\r\n").encode())
    inline = (head + 'Content-Type: multipart/related; boundary="b"\r\n\r\n--b\r\n'
              "Content-Type: text/html\r\n\r\n<img src=cid:i1>\r\n--b\r\nContent-Type: image/png\r\n"
              "Content-ID: <i1>\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n"
              "iVBORw0KGgo=\r\n--b--\r\n")
    (inbox / "画像のみ.eml").write_bytes(inline.encode())
    summary = root / "とりまとめ.xlsx"
    merged = CliRunner().invoke(main, ["merge", str(inbox), "-o", str(summary), "--pref", PREF, "--json"])
    assert merged.exit_code == 1, merged.output
    return {"root": root, "inbox": inbox, "summary": summary, "merge": json.loads(merged.stdout),
            "cp932": cp932}


def _same_file_other_name(desk: dict[str, Any], tmp: Path) -> Path:
    link = tmp / "別名.xlsx"  # a hard link elsewhere: another name, the same file
    os.link(desk["cp932"], link)
    return link


# name → (argv after the command, given the desk and a scratch folder; the code; what must not change)
OUTPUT_THREATS: dict[str, tuple[Callable[[dict[str, Any], Path], list[str]], str]] = {
    "merge_output_is_an_input_named_in_cp932": (
        lambda d, t: ["merge", str(d["inbox"]), "-o", str(d["cp932"])], "E903"),
    "validate_report_is_an_input_named_in_cp932": (
        lambda d, t: ["validate", str(d["inbox"]), "--report", str(d["cp932"])], "E903"),
    "merge_output_is_an_input_by_a_hard_link": (
        lambda d, t: ["merge", str(d["inbox"]), "-o", str(_same_file_other_name(d, t))], "E903"),
    "merge_output_is_an_input_spelt_otherwise": (
        lambda d, t: ["merge", str(d["inbox"]), "-o",
                      str(d["inbox"] / ".." / d["inbox"].name / "." / d["cp932"].name)], "E903"),
    "merge_output_is_the_password_file": (
        # named as another kind of file: refused by its name first (E711), never written
        lambda d, t: ["merge", str(d["inbox"]), "-o", str(t / "pw.txt"), "--passwords", str(t / "pw.txt")],
        "E711"),
    "merge_output_is_a_fifo": (lambda d, t: ["merge", str(d["inbox"]), "-o", str(t / "fifo")], "E904"),
    "validate_report_is_a_fifo": (
        lambda d, t: ["validate", str(d["inbox"]), "--report", str(t / "fifo")], "E904"),
    "merge_output_is_a_symlink": (lambda d, t: ["merge", str(d["inbox"]), "-o", str(t / "link.xlsx")], "E904"),
    "validate_annotated_copy_would_replace_a_fifo": (
        lambda d, t: ["validate", str(d["inbox"]), "--report", str(t / "r.xlsx"), "--annotate", str(t / "ann")],
        "E904"),
    "advise_combined_letter_would_replace_a_fifo": (
        lambda d, t: ["advise", str(d["summary"]), "-o", str(t / "ann"), "--format", "md"], "E904"),
}


def _scratch(tmp_path: Path) -> Path:
    (tmp_path / "pw.txt").write_text("secret\n", encoding="utf-8")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "target.xlsx").write_bytes(b"the user's own file")
    os.symlink(tmp_path / "target.xlsx", tmp_path / "link.xlsx")
    (tmp_path / "ann").mkdir()
    os.mkfifo(tmp_path / "ann" / "不備_確認結果.xlsx")
    os.mkfifo(tmp_path / "ann" / "助言_一括.md")
    return tmp_path


def _disk(*folders: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for folder in folders:
        for root, _dirs, files in os.walk(os.fsencode(folder)):
            for f in files:
                p = os.path.join(root, f)
                regular = os.path.isfile(p) and not os.path.islink(p)
                with open(p, "rb") if regular else contextlib.nullcontext() as fh:
                    out[os.fsdecode(p)] = fh.read() if fh else f"special:{os.lstat(p).st_mode:o}"
    return out


@pytest.mark.parametrize("threat", list(OUTPUT_THREATS))
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs and links")
def test_output_never_replaces_an_input_or_a_special_file(desk, tmp_path, threat):
    argv, code = OUTPUT_THREATS[threat]
    scratch = _scratch(tmp_path)
    args = argv(desk, scratch)
    before = _disk(desk["inbox"], scratch)
    res = kofu(*args)
    one_line(res, code)
    assert _disk(desk["inbox"], scratch) == before  # exit 2: nothing written, nothing replaced


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mknod needs root")
def test_merge_refuses_a_character_device_as_output(desk, tmp_path):
    dev = tmp_path / "mynull"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    one_line(kofu("merge", str(desk["inbox"]), "-o", str(dev)), "E904")
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


@pytest.mark.parametrize("command", ["template", "sample"])
def test_template_and_sample_never_overwrite_a_different_file_without_force(tmp_path, command):
    argv = ["template", "--kind", "plan", "--pref", PREF] if command == "template" else \
        ["sample", "--kind", "plan", "--pref", PREF]
    out = tmp_path / "out"
    first = CliRunner().invoke(main, [*argv, "-o", str(out)])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, [*argv, "-o", str(out)])  # the same bytes: rewritten, fine
    assert again.exit_code == 0, again.output
    returned = sorted(out.iterdir())[1]
    returned.write_bytes(b"a municipality's filled return")
    before = _disk(out)
    res = CliRunner().invoke(main, [*argv, "-o", str(out)])
    assert res.exit_code == 2 and res.stderr.startswith("E901: ") and returned.name in res.stderr
    assert "--force" in res.stderr and _disk(out) == before  # nothing written at all
    forced = CliRunner().invoke(main, [*argv, "-o", str(out), "--force"])
    assert forced.exit_code == 0 and returned.read_bytes().startswith(b"PK")


def test_sample_inbox_deletes_only_what_its_manifest_proves_it_wrote(tmp_path):
    box = tmp_path / "demo"
    (box / "inbox").mkdir(parents=True)
    mine = box / "inbox" / "大事な提出物.xlsx"
    mine.write_bytes(b"not ours")
    # The old marker alone (a README that says it was generated) proves nothing.
    (box / "README.md").write_text("<!-- generated by: kofu sample --inbox -->\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["sample", "--inbox", str(box)])
    assert res.exit_code == 2 and res.stderr.startswith("E901: ") and mine.read_bytes() == b"not ours"
    mine.unlink()
    (box / "README.md").unlink()
    assert CliRunner().invoke(main, ["sample", "--inbox", str(box)]).exit_code == 0
    assert CliRunner().invoke(main, ["sample", "--inbox", str(box)]).exit_code == 0  # ours: replaced
    edited = next((box / "inbox").rglob("*.eml"))
    edited.write_bytes(edited.read_bytes() + b"\r\n")  # a file of ours, changed since
    added = box / "inbox" / "計画" / "追加.xlsx"
    added.write_bytes(b"dropped in by a colleague")
    before = _disk(box)
    res = CliRunner().invoke(main, ["sample", "--inbox", str(box)])
    assert res.exit_code == 2 and res.stderr.startswith("E901: ") and _disk(box) == before


def _huge(path: Path) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(3 << 30)  # 3 GiB, sparse
    return path


# option → (the argv of a command reading it, the code its file gives)
SIDE_FILES: dict[str, tuple[Callable[[Path, Path, str], list[str]], str]] = {
    "--passwords": (lambda inbox, t, f: ["merge", str(inbox), "-o", str(t / "s.xlsx"), "--passwords", f], "E505"),
    "--config": (lambda inbox, t, f: ["validate", str(inbox), "--config", f], "E503"),
    "--master": (lambda inbox, t, f: ["template", "--kind", "plan", "-o", str(t / "o"), "--master", f], "E501"),
    "--schedule": (lambda inbox, t, f: ["merge", str(inbox), "-o", str(t / "s.xlsx"), "--schedule", f], "E502"),
    "summary": (lambda inbox, t, f: ["advise", f, "-o", str(t / "o")], "E601"),
}
SIDE_THREATS = {"dev_zero": lambda t: "/dev/zero", "fifo": lambda t: (os.mkfifo(t / "side.csv"), str(t / "side.csv"))[1],
                "huge_file": lambda t: str(_huge(t / "side.csv"))}


@pytest.mark.parametrize("kind", list(SIDE_THREATS))
@pytest.mark.parametrize("option", list(SIDE_FILES))
@pytest.mark.skipif(not os.path.exists("/dev/zero") or not hasattr(os, "mkfifo"), reason="POSIX")
def test_side_file_that_is_a_device_fifo_or_huge_is_one_line_with_its_code(desk, tmp_path, option, kind):
    argv, code = SIDE_FILES[option]
    res = kofu(*argv(desk["inbox"], tmp_path, SIDE_THREATS[kind](tmp_path)))
    one_line(res, code)
    assert not (tmp_path / "s.xlsx").exists() and not (tmp_path / "o").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_letter_template_that_is_a_fifo_or_huge_is_e602(desk, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    os.mkfifo(mine / "advice.md.j2")
    one_line(kofu("advise", str(desk["summary"]), "-o", str(tmp_path / "o"), "--format", "md",
                  "--templates", str(mine)), "E602")
    (mine / "advice.md.j2").unlink()
    _huge(mine / "advice.md.j2")
    one_line(kofu("advise", str(desk["summary"]), "-o", str(tmp_path / "o"), "--format", "md",
                  "--templates", str(mine)), "E602")


@pytest.mark.parametrize("body", [
    "{% for i in range(10**10) %}x{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ 'x' * 10**10 }}",
    "{{ 9 ** 999999999 }}",
    "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
    "{% for i in range(99999) %}{{ 'x' * 9999 }}{% endfor %}",
])
def test_user_template_cannot_run_away_e602(desk, tmp_path, body):
    from kofu_excel.letters import render_letters

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "advice.md.j2").write_text(body, encoding="utf-8")
    with pytest.raises(KofuError) as err:
        render_letters(desk["summary"], tmp_path / "o", fmt="md", templates_dir=mine)
    assert err.value.code == "E602" and JAPANESE.search(err.value.message)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv", [["merge", "IN", "-o", ""], ["validate", "IN", "--report", ""],
                                  ["validate", "IN", "--annotate", ""], ["advise", "SUM", "-o", ""],
                                  ["template", "--kind", "plan", "-o", ""], ["merge", "", "-o", "x.xlsx"]])
def test_empty_path_is_a_usage_line_not_e999(desk, argv):
    argv = [str(desk["inbox"]) if a == "IN" else str(desk["summary"]) if a == "SUM" else a for a in argv]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 2 and res.stderr.startswith("E701: ") and "E999" not in res.stderr, res.stderr


def test_terminal_escapes_and_control_characters_never_printed(desk):
    """A file name with OSC/CSI sequences, and a cell with a CR quoted back in a finding."""
    printed = ""
    for cmd in (["merge", str(desk["inbox"]), "-o", str(desk["root"] / "x.xlsx"), "--pref", PREF],
                ["validate", str(desk["inbox"])]):
        res = CliRunner().invoke(main, cmd)
        printed += res.stdout + res.stderr
        doc = json.loads(CliRunner().invoke(main, [*cmd, "--json"]).stdout)
        paths = [r["path"] for r in doc.get("inputs", doc.get("files", []))]
        assert any("PWNED" in p for p in paths)
        assert not any(re.search(r"[\x00-\x1f\x7f-\x9f]", p) for p in paths), paths
    assert "PWNED" in printed and "evil.example" in printed  # named, and quoted back …
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", printed), repr(printed)  # … as plain text


def test_validate_lists_every_email_even_without_workbooks(desk):
    res = CliRunner().invoke(main, ["validate", str(desk["inbox"]), "--json"])
    listed = {Path(f["path"]).name for f in json.loads(res.stdout)["files"]}
    merged = {Path(r["path"]).name for r in desk["merge"]["inputs"]}
    assert {"添付なし.eml", "画像のみ.eml"} <= listed
    assert listed == merged  # every path given or found: a row in each command


def test_markdown_letters_escape_cell_markup_and_show_a_cr_as_a_line_break(desk, tmp_path):
    res = CliRunner().invoke(main, ["advise", str(desk["summary"]), "-o", str(tmp_path / "o"),
                                    "--format", "md", "--date", "2020-04-01"])
    assert res.exit_code == 0, res.output
    text = "\n".join(p.read_text(encoding="utf-8") for p in (tmp_path / "o").glob("*.md"))
    assert "onerror" in text  # the value is quoted back …
    assert "<img" not in text and "](http" not in text and "![" not in text  # … as text only
    assert "_x000D_" not in text
