"""Templates written by xlsxwriter, checked by reading them back with openpyxl."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import date

import openpyxl
import pytest
from click.testing import CliRunner

from kofu_excel import forms
from kofu_excel.cells import parse_range, rowcol
from kofu_excel.cli import main
from kofu_excel.write.template import file_name, generate, workbook_bytes


def _open(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def _resolve(wb: openpyxl.Workbook, entry: forms.CatalogEntry) -> tuple[str, str]:
    """Sheet and cell of a catalog entry found through its defined name."""
    dn = wb.defined_names[entry.defined_name]
    ((sheet, ref),) = list(dn.destinations)
    _, (r0, c0, _r1, _c1) = parse_range(f"'{sheet}'!{ref}")
    from kofu_excel.cells import a1

    return sheet, a1(r0 + entry.index, c0)


@pytest.fixture(scope="module")
def hokkaido(tmp_path_factory, master, schedule):
    out = tmp_path_factory.mktemp("hokkaido")
    return generate("plan", out, master=master, pref="北海道", schedule=schedule)


def test_hokkaido_179_plan_templates_prefilled(hokkaido, master):
    assert len(hokkaido.files) == 179
    sapporo = next(p for p in hokkaido.files if p.name.startswith("011002_"))
    assert sapporo.name == "011002_札幌市_交付円滑化計画.xlsx"
    wb = openpyxl.load_workbook(sapporo)
    ws = wb["基本情報"]
    values = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(5, 20)}
    assert values["団体コード（必須）"] == "011002"
    assert values["都道府県名（必須）"] == "北海道"
    assert values["市区町村名（必須）"] == "札幌市"
    # every file carries its own municipality in _meta
    for path in hokkaido.files[:20]:
        meta = {r[0].value: r[1].value for r in openpyxl.load_workbook(path, read_only=True)["_meta"].iter_rows()}
        assert path.name.startswith(meta["muni_code"])
        assert master.by_code[meta["muni_code"]].pref_code == "01"


@pytest.mark.parametrize("kind", forms.KINDS)
def test_every_catalog_field_resolves_by_defined_name_to_its_cell(kind):
    wb = _open(workbook_bytes(kind))
    for entry in forms.catalog(kind):
        assert _resolve(wb, entry) == (entry.sheet, entry.cell), entry.id


@pytest.mark.parametrize("kind", forms.KINDS)
def test_catalog_ids_unique_and_names_workbook_scoped(kind):
    ids = [e.id for e in forms.catalog(kind)]
    assert len(ids) == len(set(ids))
    wb = _open(workbook_bytes(kind))
    names = {e.defined_name for e in forms.catalog(kind)}
    assert names <= set(wb.defined_names)  # workbook scope, not sheet-local
    for ws in wb.worksheets:
        assert not (names & set(ws.defined_names))


def test_dropdowns_are_literal_lists_and_validations_present():
    wb = _open(workbook_bytes("plan"))
    dvs = {(ws.title, str(dv.sqref)): dv for ws in wb.worksheets for dv in ws.data_validations.dataValidation}
    status = dvs[("申請受付等", "B5:B17")]
    assert status.type == "list"
    assert status.formula1 == '"実施済,実施予定,検討中,予定なし"'  # literal, not a range
    assert status.prompt and status.error  # Japanese input and error messages
    forecast = dvs[("交付枚数想定", "B5:B46")]
    assert (forecast.type, forecast.operator or "between", forecast.formula1) == ("whole", "between", "0")
    weekend = next(dv for (sheet, ref), dv in dvs.items() if sheet == "交付体制" and ref.startswith("G"))
    assert weekend.formula2 == "27"
    revision = dvs[("基本情報", "B14")]
    assert revision.formula1.startswith('"当初,改訂1')


def test_input_cells_unlocked_shaded_rest_protected(master):
    wb = _open(workbook_bytes("plan", master.by_code["011002"]))
    for entry in forms.catalog("plan"):
        ws = wb[entry.sheet]
        cell = ws[entry.cell]
        prefilled_identity = entry.id in ("basic.muni_code", "basic.pref_name", "basic.muni_name")
        assert cell.protection.locked is prefilled_identity, entry.id
        if not prefilled_identity:
            assert cell.fill.fgColor.rgb.endswith("FFF2CC"), entry.id
    for name in wb.sheetnames:
        assert wb[name].protection.sheet, name
    # a label cell is locked
    assert wb["基本情報"]["A5"].protection.locked


def test_generic_blank_leaves_municipality_code_open():
    wb = _open(workbook_bytes("plan"))
    assert wb["基本情報"]["B5"].value is None
    assert wb["基本情報"]["B5"].protection.locked is False
    meta = {r[0].value: r[1].value for r in wb["_meta"].iter_rows()}
    assert meta["muni_code"] in (None, "")
    assert file_name("plan", None) == "様式_交付円滑化計画.xlsx"


@pytest.mark.parametrize("kind", forms.KINDS)
def test_meta_sheet_hidden_with_kind_version_fingerprint(kind):
    wb = _open(workbook_bytes(kind))
    ws = wb[forms.META_SHEET]
    assert ws.sheet_state == "hidden"
    meta = {r[0].value: r[1].value for r in ws.iter_rows()}
    assert meta["kind"] == kind
    assert meta["version"] == forms.FORM_VERSION
    assert meta["fingerprint"] == forms.fingerprint(kind)
    assert forms.META_NAME in wb.defined_names


def test_fingerprint_differs_between_forms_and_is_stable():
    assert forms.fingerprint("plan") != forms.fingerprint("monthly")
    assert len(forms.fingerprint("plan")) == 16


def test_same_inputs_same_bytes(master):
    muni = master.by_code["131016"]
    a = workbook_bytes("plan", muni)
    b = workbook_bytes("plan", muni)
    assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()


def test_population_from_user_master_prefilled_and_benchmark_cached(tmp_path, schedule):
    from kofu_excel.refdata import load_master

    csv = tmp_path / "master.csv"
    csv.write_text("団体コード,市区町村名,人口,人口基準日\n011002,札幌市,1955457,2019/1/1\n",
                   encoding="cp932")
    m = load_master(csv)
    result = generate("plan", tmp_path / "out", master=m, munis=["011002"], schedule=schedule)
    wb = openpyxl.load_workbook(result.files[0])
    assert wb["基本情報"]["B12"].value == 1955457
    # benchmark at the July 2020 milestone: population × the schedule's rate
    fc = wb["交付枚数想定"]
    row = 5 + forms.periods.months().index("2020-07")
    assert fc.cell(row, 4).value.startswith("=")  # a live formula
    wb_v = openpyxl.load_workbook(result.files[0], data_only=True)
    assert wb_v["交付枚数想定"].cell(row, 4).value == round(1955457 * schedule.rate("2020-07"))


def test_live_checks_as_conditional_formats():
    wb = _open(workbook_bytes("plan"))
    rules = {ws.title: [r for cf in ws.conditional_formatting for r in cf.rules] for ws in wb.worksheets}
    forecast = " ".join(f for r in rules["交付枚数想定"] for f in r.formula)
    assert "kofu_basic_population" in forecast  # cumulative above population
    costs = {str(cf.sqref) for cf in wb["補助対象経費"].conditional_formatting}
    fy2020_col = "C"
    for item in forms.R1_ONLY_COSTS:
        row = 5 + [k for k, _ in forms.COST_ROWS].index(item)
        assert f"{fy2020_col}{row}" in costs
    monthly = _open(workbook_bytes("monthly"))
    assert len(list(monthly["月次実績"].conditional_formatting)) == 4


def test_print_settings_a4_frozen_header_widths():
    wb = _open(workbook_bytes("plan"))
    ws = wb["交付枚数想定"]
    assert ws.page_setup.paperSize == 9
    assert ws.freeze_panes == "B5"
    assert ws.print_title_rows.replace("$", "") == "4:4"
    assert ws.column_dimensions["A"].width >= 12


def test_formulas_never_in_input_cells():
    wb = _open(workbook_bytes("plan"))
    for entry in forms.catalog("plan"):
        v = wb[entry.sheet][entry.cell].value
        assert not (isinstance(v, str) and v.startswith("=")), entry.id


def test_text_value_starting_with_equals_written_as_text():
    data = workbook_bytes("plan", values={"basic.department": "=HYPERLINK(\"http://x\")",
                                          "basic.contact_person": "@SUM(1)"})
    ws = _open(data)["基本情報"]
    assert ws["B8"].data_type == "s" and ws["B8"].value.startswith("=HYPERLINK")
    assert ws["B9"].data_type == "s"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet_xml = b"".join(z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert b"HYPERLINK" not in sheet_xml  # not a formula: it lives in sharedStrings


def test_cli_fields_json_matches_catalog():
    result = CliRunner().invoke(main, ["fields", "--kind", "plan", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["kind"] == "plan" and doc["version"] == forms.FORM_VERSION
    assert doc["fields"] == [e.to_json() for e in forms.catalog("plan")]
    ids = {f["id"] for f in doc["fields"]}
    assert {"forecast.planned_issued.2020-04", "capacity.terminals.2019Q4", "methods.status.visit_apply",
            "costs.tablets.FY2019", "publicity.status.sns", "mykey.start", "basic.muni_code"} <= ids


def test_cli_template_writes_named_files(tmp_path):
    result = CliRunner().invoke(main, ["template", "--kind", "monthly", "--muni", "131016",
                                       "--muni", "011002", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["011002_札幌市_実績報告.xlsx",
                                                          "131016_千代田区_実績報告.xlsx"]


def test_cli_template_bad_prefecture_one_line_message(tmp_path):
    result = CliRunner().invoke(main, ["template", "--kind", "plan", "--pref", "アトランティス",
                                       "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0


def test_sample_messy_and_clean_share_canonical_values(make_sample):
    clean = make_sample("plan", count=3, seed=7)
    messy = make_sample("plan", count=3, seed=7, messy=True)
    wc, wm = openpyxl.load_workbook(clean.files[0]), openpyxl.load_workbook(messy.files[0])
    typed = [wm["交付枚数想定"].cell(r, 2).value for r in range(5, 47)]
    assert any(isinstance(v, str) for v in typed)  # typed the messy way
    assert [wc["交付枚数想定"].cell(r, 2).value for r in range(5, 47)] != typed


def test_sample_errors_recorded(make_sample):
    result = make_sample("plan", count=8, seed=3, errors=True)
    assert len(result.injected) == 8
    assert {i.code for i in result.injected} <= {"E203", "E202", "E201", "E204", "E303", "E209",
                                                  "E308", "E301"}


def test_templates_open_and_convert_in_libreoffice(tmp_path, master):
    from conftest import convert

    src = tmp_path / "plan.xlsx"
    src.write_bytes(workbook_bytes("plan", master.by_code["011002"]))
    pdf = convert(src, "pdf", tmp_path)
    assert pdf.stat().st_size > 10_000
    ods = convert(src, "ods", tmp_path)
    assert zipfile.is_zipfile(ods)


def test_instructions_fit_portrait_a4_in_libreoffice(tmp_path, master):
    """記入要領: every item broken into lines that fit the page, its row as tall as its lines —
    LibreOffice does not grow rows for wrapped text (items 3 and 7–10 used to run off the page)."""
    import shutil
    import subprocess

    from conftest import convert

    from kofu_excel.cells import display_width
    from kofu_excel.write.template import INSTRUCTIONS_LINE, INSTRUCTIONS_WIDTH, LINE_HEIGHT

    for kind in forms.KINDS:
        ws = _open(workbook_bytes(kind, master.by_code["011002"]))[forms.INSTRUCTIONS_SHEET]
        items = [c.value for c in ws["A"][3:] if c.value and c.value[:1].isdigit() and ". " in c.value[:4]]
        assert len(items) >= 8
        for row in ws.iter_rows(min_row=4):
            cell = row[0]
            if not cell.value or not cell.alignment.wrap_text:
                continue
            lines = cell.value.split("\n")
            # closing punctuation may stay at the end of a full line (kinsoku)
            assert all(display_width(line) <= INSTRUCTIONS_LINE + 4 for line in lines), lines
            assert INSTRUCTIONS_LINE + 4 < INSTRUCTIONS_WIDTH
            assert ws.row_dimensions[cell.row].height == LINE_HEIGHT * len(lines)
    if shutil.which("pdftotext") is None:
        return
    src = tmp_path / "plan.xlsx"
    src.write_bytes(workbook_bytes("plan", master.by_code["011002"]))
    pdf = convert(src, "pdf", tmp_path)
    box = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-bbox", str(pdf), "-"],
                         capture_output=True, text=True, check=True).stdout
    page_w = float(re.search(r'<page width="([\d.]+)"', box)[1])
    right = max(float(x) for x in re.findall(r'xMax="([\d.]+)"', box))
    assert right < page_w - 20, (right, page_w)  # inside the right margin
    assert "区別します" in box and "代わります" in box  # the ends of items 3 and 10 are printed


def test_prompts_state_exactly_the_bounds_the_validator_checks(master):
    """Excel's prompt and rule of every number cell come from the field's own bounds: 人口 and
    窓口数 say 1以上 (the validator's minimum), never 「整数（0以上）」; 「－」 only where allowed."""
    for kind in forms.KINDS:
        wb = _open(workbook_bytes(kind, master.by_code["011002"]))
        rules = [(dv, ws.title) for ws in wb.worksheets for dv in ws.data_validations.dataValidation]
        for table in forms.FORMS[kind].tables:
            for p in forms.placements(table):
                f = p.field
                if not f.numeric:
                    continue
                dv = next(dv for dv, title in rules if title == p.sheet and p.cell() in str(dv.sqref))
                lo = f.lower
                assert f"{lo:,}{'円' if f.type == 'yen' else ''}以上" in dv.prompt, (f.id, dv.prompt)
                assert "整数（0以上）" not in dv.prompt
                assert dv.formula1 == str(lo)
                if f.max is not None:
                    assert dv.operator in (None, "between") and dv.formula2 == str(f.max)
                    assert f"{f.max:,}" in dv.prompt
                else:
                    assert dv.operator == "greaterThanOrEqual"
                assert ("「－」を入力してください" in dv.prompt) == (not f.required), f.id
                assert dv.error.startswith(forms.range_text(f))
    pop = forms.PLAN_BASIC.field("population")
    counters = forms.CAPACITY.field("counters")
    assert forms.input_prompt(pop).startswith("1以上20,000,000以下の整数")
    assert forms.input_prompt(counters).startswith("1以上1,000以下の整数")


def test_wareki_labels_on_rows():
    rows = [r.label for r in forms.FORECAST.rows]
    assert rows[0] == "令和元年10月" and rows[-1] == "令和5年3月"
    assert forms.CAPACITY.rows[0].label.startswith("令和元年度第3四半期")
    assert date(2019, 10, 1).isoformat() == forms.FORM_DATE
    assert rowcol("B5") == (4, 1)


def test_formulas_written_as_given_and_evaluate_in_libreoffice(tmp_path, master):
    """Our sheets skip xlsxwriter's future-function rewriting: the formulas must stay classic
    and still compute when a spreadsheet recalculates them."""
    from conftest import convert

    wb = _open(workbook_bytes("plan", master.by_code["011002"]))
    formulas = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row
                if isinstance(c.value, str) and c.value.startswith("=")]
    assert formulas and not any("_xlfn" in f for f in formulas)
    # openpyxl keeps the formulas but drops their cached results: LibreOffice must compute them.
    wb["基本情報"]["B15"] = 1000
    wb["交付枚数想定"]["B5"] = 250
    wb["交付枚数想定"]["B6"] = 50
    src = tmp_path / "filled.xlsx"
    wb.save(src)
    out = tmp_path / "lo"
    out.mkdir()
    computed = openpyxl.load_workbook(convert(src, "xlsx", out), data_only=True)["交付枚数想定"]
    assert (computed["C5"].value, computed["C6"].value) == (1250, 1300)


def test_cli_output_piped_into_head_ends_quietly(monkeypatch):
    """`kofu fields --json | head`: a closed pipe is not an error to report."""
    from kofu_excel.cli import tools

    def closed_pipe(doc):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(tools, "echo_json", closed_pipe)
    result = CliRunner().invoke(main, ["fields", "--kind", "plan", "--json"])
    assert result.exit_code == 0
    assert "E999" not in result.output


def test_cli_template_without_pref_says_it_writes_every_municipality_before_writing(tmp_path, monkeypatch):
    from kofu_excel.cli import template as cli_template
    from kofu_excel.write import template as write_template
    from kofu_excel.write.template import TemplateResult

    said: list[str] = []

    def fake_generate(kind, out_dir, **kw):
        said.append("generate")  # the notice must already be out when writing starts
        return TemplateResult(kind, ())

    monkeypatch.setattr(write_template, "generate", fake_generate)  # the command imports it when run
    monkeypatch.setattr(cli_template.click, "echo", lambda msg="", err=False, **k: said.append(msg))
    result = CliRunner().invoke(main, ["template", "--kind", "plan", "-o", str(tmp_path)])
    assert result.exit_code == 0
    assert "全 1,741 団体" in said[0] and "--pref" in said[0] and said[1] == "generate"
    said.clear()
    CliRunner().invoke(main, ["template", "--kind", "plan", "--pref", "31", "-o", str(tmp_path)])
    assert said[0] == "generate"
