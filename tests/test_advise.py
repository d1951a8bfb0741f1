"""Letters (kofu_excel.letters) and kofu-advise: advice and reminders from a summary workbook."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from click.testing import CliRunner
from conftest import convert
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm
from jinja2.sandbox import SandboxedEnvironment
from test_review import clean_monthly, clean_plan

from kofu_excel import periods
from kofu_excel.findings import Finding, KofuError, jsonable
from kofu_excel.letters import render_letters
from kofu_excel.letters.render import make_environment
from kofu_excel.letters.source import FINDINGS_HEADER, MISSING_HEADER
from kofu_excel.refdata import load_config
from kofu_excel.review import kind_of, review

SEVERITY_LABELS = {"error": "エラー", "warning": "警告", "info": "参考", "advise": "助言", "urgent": "至急"}
KIND_LABELS = {"plan": "交付円滑化計画", "monthly": "実績報告"}
HAKODATE, OTARU, ASAHIKAWA = "012025", "012033", "012041"
DATE = "2020-04-01"


# --- a summary workbook as kofu-merge writes it (the 指摘事項 / 未提出 contract) --------------


def write_summary(path: Path, findings: Iterable[tuple[Finding, str, str]], master,
                  missing: Sequence[tuple[str, str]] = (), names: dict[str, str] | None = None,
                  data_date: str | None = None) -> Path:
    """findings: (finding, kind, file); missing: (code, kind). Names come from the master
    unless ``names`` says otherwise (to put odd text where a municipality's name goes).
    ``data_date``: the summary's データの基準日, in its hidden _summary sheet as kofu-merge writes it."""
    names = names or {}
    wb = xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False})
    if data_date is not None:
        meta = wb.add_worksheet("_summary")
        for r, (k, v) in enumerate((("kind", "summary"), ("generated", data_date))):
            meta.write_string(r, 0, k)
            meta.write_string(r, 1, v)
    ws = wb.add_worksheet("概要")
    ws.write_string(0, 0, "とりまとめ表")
    ws = wb.add_worksheet("指摘事項")
    for c, h in enumerate(FINDINGS_HEADER):
        ws.write_string(0, c, h)
    for r, (f, kind, file) in enumerate(findings, 1):
        m = master.by_code[f.muni_code]
        value = jsonable(f.value)
        row = [f.muni_code, m.pref_name, names.get(f.muni_code, m.name), KIND_LABELS[kind], f.code,
               SEVERITY_LABELS[f.severity], f.check, f.message, file, f.sheet, f.cell, f.field,
               value, f.expected,
               json.dumps({k: jsonable(v) for k, v in f.figures.items()}, ensure_ascii=False)]
        for c, v in enumerate(row):
            if v in (None, ""):
                continue
            if isinstance(v, (int, float)):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, str(v))
    ws = wb.add_worksheet("未提出")
    for c, h in enumerate(MISSING_HEADER):
        ws.write_string(0, c, h)
    for r, (code, kind) in enumerate(missing, 1):
        m = master.by_code[code]
        for c, v in enumerate([code, m.pref_name, names.get(code, m.name), KIND_LABELS[kind], kind]):
            ws.write_string(r, c, v)
    wb.close()
    return path


def reviewed(findings: Iterable[Finding]) -> list[tuple[Finding, str, str]]:
    return [(f, kind_of(f.code), f"{f.muni_code}_{kind_of(f.code)}.xlsx") for f in findings]


def below_schedule(code: str) -> dict[str, Any]:
    plan = clean_plan(code)
    for m in periods.months(periods.FIRST_MONTH, "2020-07"):
        plan[f"forecast.planned_issued.{m}"] = 500
    return plan


@pytest.fixture(scope="module")
def config():
    return load_config(None)


@pytest.fixture()
def summary(tmp_path, master, schedule, config) -> Path:
    """函館市 below the schedule and short of terminals, 小樽市 compliant, 旭川市 with a backlog."""
    plan_h = below_schedule(HAKODATE)
    plan_h["capacity.terminals.2020Q2"] = 1
    plans = {HAKODATE: plan_h, OTARU: clean_plan(OTARU), ASAHIKAWA: clean_plan(ASAHIKAWA)}
    monthlies = {OTARU: clean_monthly(OTARU),
                 ASAHIKAWA: clean_monthly(ASAHIKAWA, delivered=3_000, issued=1_900)}
    found = review(plans, monthlies, master, schedule, config, scope=[HAKODATE, OTARU, ASAHIKAWA])
    assert {f.muni_code for f in found if f.severity != "info"} == {HAKODATE, ASAHIKAWA}
    return write_summary(tmp_path / "summary.xlsx", reviewed(found), master,
                         missing=[(HAKODATE, "monthly")])


def letter_text(result, code: str) -> str:
    (f,) = [f for f in result.letters if f.muni_code == code]
    return f.path.read_text(encoding="utf-8")


def docx_text(path: Path) -> str:
    return "\n".join(p.text for p in Document(str(path)).paragraphs)


# --- content ----------------------------------------------------------------------------------


def test_letter_states_milestone_and_shortfall(summary, tmp_path, schedule):
    calls: list[tuple[int, int]] = []
    result = render_letters(summary, tmp_path / "out", fmt="md", date=DATE,
                            progress=lambda done, total: calls.append((done, total)))
    assert [f.muni_code for f in result.letters] == [HAKODATE, ASAHIKAWA]
    assert calls == [(1, 3), (2, 3), (3, 3)]  # two letters and the combined file
    text = letter_text(result, HAKODATE)
    bench = schedule.benchmark(100_000, "2020-07")
    cumulative = 15_000 + 10 * 500
    assert f"令和2年7月末の交付枚数（累計）の想定 {cumulative:,} 枚" in text
    assert f"目安 {bench:,} 枚を {bench - cumulative:,} 枚下回っています" in text
    # the register of a prefectural notice
    for part in ("○○第1号", "令和2年4月1日", "函館市長　殿", "北海道知事",
                 "マイナンバーカード交付円滑化計画に係る助言について", "閣副第396号",
                 "「マイナンバーカード交付円滑化計画の策定について」", "記", "以上",
                 "○○県総務部市町村課", "電話：000-000-0000"):
        assert part in text, part
    # numbered items per check, each with what the municipality is asked to do
    assert re.search(r"1　交付枚数の想定について", text)
    assert re.search(r"2　交付体制の整備について", text)
    assert "想定の見直しを御検討ください" in text and "【至急】" in text
    assert text.index("記") < text.index("（1）") < text.index("以上")
    backlog = letter_text(result, ASAHIKAWA)
    assert "○○第2号" in backlog and "旭川市長　殿" in backlog
    assert "交付の実績について" in backlog and "滞留しています" in backlog
    combined = result.combined.read_text(encoding="utf-8")
    assert combined.count("マイナンバーカード交付円滑化計画に係る助言について") == 2
    assert result.combined.name == "助言_一括.md"
    assert result.letters[0].path.name == f"{HAKODATE}_函館市_助言.md"


def test_compliant_municipality_gets_no_letter(summary, tmp_path, master, schedule, config):
    out = tmp_path / "out"
    render_letters(summary, out, fmt="md", date=DATE)
    assert not list(out.glob(f"{OTARU}_*"))
    # info alone (front-loading) is not a reason for a letter
    plan = clean_plan(OTARU)
    for m in periods.months():
        plan[f"forecast.planned_issued.{m}"] = 1_500 if m <= "2020-07" else 2_000 if m <= "2021-03" else 2_100
    found = review({OTARU: plan}, {}, master, schedule, config)
    assert [f.code for f in found] == ["R102"]
    only_info = write_summary(tmp_path / "info.xlsx", reviewed(found), master)
    result = render_letters(only_info, tmp_path / "none", fmt="md", date=DATE)
    assert result.letters == [] and result.combined is None
    assert not (tmp_path / "none").exists()


def test_rejected_workbook_gets_correction_request(tmp_path, master):
    err = Finding("E201", "error", "必須項目が未入力です", sheet="基本情報", cell="B8",
                  field="担当部署", muni_code=OTARU)
    path = write_summary(tmp_path / "s.xlsx", [(err, "plan", "受信/小樽市.eml > 小樽市_計画.xlsx")], master,
                         missing=[(OTARU, "plan")])
    result = render_letters(path, tmp_path / "out", fmt="md", date=DATE)
    text = letter_text(result, OTARU)
    assert "1　提出された交付円滑化計画の修正について" in text
    assert "ファイル「小樽市_計画.xlsx」" in text and "シート「基本情報」セルB8（担当部署）" in text
    assert "修正の上、改めて提出してください" in text
    reminder = render_letters(path, tmp_path / "rem", fmt="md", date=DATE, missing=True)
    text = letter_text(reminder, OTARU)
    assert "受理できませんでした" in text and "必須項目が未入力です" in text


def test_reminder_for_missing(summary, tmp_path, master, schedule, config):
    result = render_letters(summary, tmp_path / "out", fmt="md", date=DATE, missing=True)
    assert [f.muni_code for f in result.letters] == [HAKODATE]
    text = letter_text(result, HAKODATE)
    assert result.letters[0].path.name == f"{HAKODATE}_函館市_督促.md"
    assert "マイナンバーカード交付円滑化計画（実績報告）の提出について（依頼）" in text
    assert "（令和2年3月分）" in text and "提出が確認できていません" in text
    # due: 7 days after 2020-04-01 is Wednesday 2020-04-08
    assert "令和2年4月8日（水）までに提出くださいますようお願いします" in text
    assert "助言について" not in text and result.combined.name == "督促_一括.md"
    # a plan missing too, a late monthly report elsewhere, an explicit deadline
    monthlies = {OTARU: clean_monthly(OTARU, "2020-01"), ASAHIKAWA: clean_monthly(ASAHIKAWA, "2020-03")}
    found = review({}, monthlies, master, schedule, config, scope=[OTARU, ASAHIKAWA, HAKODATE])
    path = write_summary(tmp_path / "s2.xlsx", reviewed(found), master,
                         missing=[(HAKODATE, "plan"), (HAKODATE, "monthly")])
    result = render_letters(path, tmp_path / "out2", fmt="md", date=DATE, missing=True,
                            due=date(2020, 4, 17))
    assert [f.muni_code for f in result.letters] == [HAKODATE, OTARU]
    both = letter_text(result, HAKODATE)
    assert "マイナンバーカード交付円滑化計画及び実績報告の提出について（依頼）" in both
    assert "1　マイナンバーカード交付円滑化計画" in both and "令和2年4月17日（金）" in both
    late = letter_text(result, OTARU)
    assert "最新の提出は令和2年1月分です" in late


def test_sender_is_the_prefectures_own_title(tmp_path, master):
    """No [letters] sender: each letter is signed by its prefecture's governor, 都・道・府・県 alike."""
    codes = {"131016": "東京都知事", "011002": "北海道知事", "271004": "大阪府知事",
             "261009": "京都府知事", "312011": "鳥取県知事"}
    found = [Finding("R403", "advise", "補助対象経費の見込額が令和元年度・令和2年度ともすべて0円です。",
                     muni_code=c, check="第4-1(4)") for c in codes]
    path = write_summary(tmp_path / "s.xlsx", reviewed(found), master)
    result = render_letters(path, tmp_path / "out", fmt="md", date=DATE)
    assert sorted(f.muni_code for f in result.letters) == sorted(codes)
    for code, sender in codes.items():
        text = letter_text(result, code)
        assert sender in text and "○○県知事" not in text, code
    own = tmp_path / "own.toml"
    own.write_text('[letters]\nsender = "東京都知事　小池 百合子"\n', encoding="utf-8")
    result = render_letters(path, tmp_path / "own", fmt="md", date=DATE, config=own, munis=["131016"])
    assert "東京都知事　小池 百合子" in letter_text(result, "131016")


def test_placeholder_letter_settings_warn_on_every_run_in_one_line(summary, tmp_path):
    from kofu_excel.cli.advise import advise_cmd

    args = [str(summary), "-o", str(tmp_path / "o"), "--format", "md", "--date", DATE]
    for extra in ([], ["--json"], ["--missing"], ["--muni", OTARU]):  # even with no letter to write
        res = CliRunner().invoke(advise_cmd, [*args, *extra])
        assert res.exit_code == 0, res.output
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("W601: "), res.stderr
        for word in ("[letters]", "--config", "contact_phone", "sender_department"):
            assert word in lines[0]
    assert "W601: " in json.loads(CliRunner().invoke(advise_cmd, [*args, "--json"]).stdout)["warnings"][0]
    own = tmp_path / "own.toml"
    own.write_text('[letters]\nsender_department = "北海道総合政策部地域行政局市町村課"\n'
                   'contact_person = "番号 太郎"\ncontact_phone = "011-231-4111"\n'
                   'contact_email = "shichoson@pref.hokkaido.lg.jp"\ndoc_number = "市町村第{seq}号"\n',
                   encoding="utf-8")
    res = CliRunner().invoke(advise_cmd, [*args, "--config", str(own)])
    assert res.exit_code == 0 and res.stderr == "", res.stderr


def test_reminder_due_before_the_letter_date_is_refused(summary, tmp_path):
    from kofu_excel.cli.advise import advise_cmd

    with pytest.raises(KofuError, match="E603"):
        render_letters(summary, tmp_path / "out", fmt="md", date="2020-04-20", due="2020-04-10",
                       missing=True)
    assert not (tmp_path / "out").exists()
    res = CliRunner().invoke(advise_cmd, [str(summary), "-o", str(tmp_path / "o"), "--missing",
                                          "--date", "2020-04-20", "--due", "2020-04-10"])
    assert res.exit_code == 2 and res.stderr.startswith("E603: ") and "--due" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    # without --date the letter is dated today: a deadline in the past is refused the same way
    res = CliRunner().invoke(advise_cmd, [str(summary), "-o", str(tmp_path / "o"), "--missing",
                                          "--due", "2020-04-30"])
    assert res.exit_code == 2 and res.stderr.startswith("E603: ")
    same_day = render_letters(summary, tmp_path / "ok", fmt="md", date=DATE, due=DATE, missing=True)
    assert same_day.letters


def test_letters_dated_today_warn_when_far_from_the_data_date(tmp_path, master):
    found = [Finding("R403", "advise", "補助対象経費の見込額がすべて0円です。", muni_code=HAKODATE,
                     check="第4-1(4)")]
    today = date.today()
    old = write_summary(tmp_path / "old.xlsx", reviewed(found), master, data_date="2020-04-10")
    result = render_letters(old, tmp_path / "a", fmt="md")
    assert result.date == today.isoformat()
    (w,) = [w for w in result.warnings if w.startswith("W602: ")]
    assert "2020-04-10" in w and "--date" in w
    # dated on purpose (--date or [letters] date): no warning
    assert not [w for w in render_letters(old, tmp_path / "b", fmt="md", date=DATE).warnings
                if w.startswith("W602")]
    # a summary of this month's data: today is the right date
    fresh = write_summary(tmp_path / "new.xlsx", reviewed(found), master,
                          data_date=today.isoformat())
    assert not [w for w in render_letters(fresh, tmp_path / "c", fmt="md").warnings
                if w.startswith("W602")]


# --- formats ----------------------------------------------------------------------------------


def test_docx_opens_with_python_docx_and_has_japanese_font(summary, tmp_path):
    result = render_letters(summary, tmp_path / "out", fmt="docx", date=DATE)
    first, _second = result.letters
    doc = Document(str(first.path))
    rpr = doc.styles["Normal"].element.rPr
    fonts = rpr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == "ＭＳ 明朝" and fonts.get(qn("w:ascii")) == "ＭＳ 明朝"
    assert fonts.get(qn("w:asciiTheme")) is None
    section = doc.sections[0]
    assert abs(section.page_width - Mm(210)) < Mm(1) and abs(section.page_height - Mm(297)) < Mm(1)
    assert abs(section.left_margin - Mm(25)) < Mm(0.1)
    text = docx_text(first.path)
    assert "マイナンバーカード交付円滑化計画に係る助言について" in text and "函館市長　殿" in text
    assert "以上" in text and "下回っています" in text
    subject = next(p for p in doc.paragraphs if p.text.endswith("助言について"))
    assert subject.alignment == 1  # centred
    again = render_letters(summary, tmp_path / "again", fmt="docx", date=DATE)
    assert again.letters[0].path.read_bytes() == first.path.read_bytes()  # deterministic
    combined = Document(str(result.combined))
    breaks = [p for p in combined.paragraphs if p.paragraph_format.page_break_before]
    assert len(breaks) == 1 and breaks[0].text == "○○第2号"  # one page break between two letters


def test_docx_and_html_convert_to_pdf_with_libreoffice(summary, tmp_path):
    docx = render_letters(summary, tmp_path / "docx", fmt="docx", date=DATE)
    html = render_letters(summary, tmp_path / "html", fmt="html", date=DATE)
    assert "@page { size: A4" in html.combined.read_text(encoding="utf-8")
    pdf_dir = tmp_path / "pdf"
    pdf_dir.mkdir()
    pdfs = [convert(docx.combined, "pdf", pdf_dir), convert(html.letters[0].path, "pdf", pdf_dir)]
    for pdf in pdfs:
        assert pdf.read_bytes()[:5] == b"%PDF-"
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                  check=True).stdout.replace(" ", "")
            # the first lines too: LibreOffice's HTML import drops a leading paragraph
            for part in ("○○第1号", "令和2年4月1日", "函館市長", "記", "以上"):
                assert part in text, (pdf.name, part)


def test_html_letter_escapes_municipal_text(tmp_path, master):
    evil = Finding("R101", "advise", "想定が<script>alert(1)</script>不足 & 'x'", muni_code=OTARU,
                   check="第4-1(1)", figures={"found": 1, "expected": 2, "threshold": 1.9})
    path = write_summary(tmp_path / "s.xlsx", [(evil, "plan", "")], master,
                         names={OTARU: "小樽<b>市</b>"})
    html = render_letters(path, tmp_path / "html", fmt="html", date=DATE)
    text = html.letters[0].path.read_text(encoding="utf-8")
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;不足 &amp; &#39;x&#39;" in text
    assert "小樽&lt;b&gt;市&lt;/b&gt;" in text
    assert html.letters[0].path.name == f"{OTARU}_小樽_b_市_b__助言.html"  # no / or < in names
    # the docx markup is escaped as well: the text arrives as text, not as markup
    docx = render_letters(path, tmp_path / "docx", fmt="docx", date=DATE)
    assert "想定が<script>alert(1)</script>不足 & 'x'" in docx_text(docx.letters[0].path)


# --- templates --------------------------------------------------------------------------------


def test_templates_ship_inside_the_package():
    root = resources.files("kofu_excel.letters").joinpath("templates")
    names = {p.name for p in root.iterdir()}
    for kind in ("advice", "reminder"):
        for fmt in ("md", "html", "docx"):
            assert f"{kind}.{fmt}.j2" in names
    assert "_wording.j2" in names


def test_user_template_folder_overrides_package(summary, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "advice.md.j2").write_text(
        "{% for letter in letters %}独自様式 {{ letter.muni_name }} {{ letter.items|length }}\n{% endfor %}",
        encoding="utf-8")
    result = render_letters(summary, tmp_path / "out", fmt="md", date=DATE, templates_dir=mine)
    # The stamp follows the user's own text: a letter saved in an inbox is still set aside.
    assert letter_text(result, HAKODATE) == "独自様式 函館市 2\n<!-- generator: kofu-excel -->\n"
    # overriding the shared wording alone changes every format; the layouts still come from us
    wording = resources.files("kofu_excel.letters").joinpath("templates").joinpath("_wording.j2").read_text(encoding="utf-8")
    (mine / "advice.md.j2").unlink()
    (mine / "_wording.j2").write_text(
        wording.replace("マイナンバーカード交付円滑化計画に係る助言について", "交付円滑化計画への助言（第1回）"),
        encoding="utf-8")
    html = render_letters(summary, tmp_path / "html", fmt="html", date=DATE, templates_dir=mine)
    assert "交付円滑化計画への助言（第1回）" in letter_text(html, HAKODATE)
    # a user's templates run sandboxed
    env = make_environment(mine, "md")
    assert isinstance(env, SandboxedEnvironment)
    assert type(make_environment(None, "md")).__name__ == "Environment"


def test_strict_undefined_raises_for_typo_in_user_template(summary, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "advice.md.j2").write_text("{{ letters[0].muni_nmae }}", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(KofuError) as exc:
        render_letters(summary, out, fmt="md", date=DATE, templates_dir=mine)
    assert exc.value.code == "E602" and "advice.md.j2" in exc.value.message
    assert "muni_nmae" in exc.value.message
    assert not out.exists()  # nothing written when a template fails
    (mine / "advice.md.j2").write_text("{% for x in letters %}", encoding="utf-8")
    with pytest.raises(KofuError, match="E602") as exc:
        render_letters(summary, out, fmt="md", date=DATE, templates_dir=mine)
    assert "1行目" in exc.value.message
    (mine / "advice.md.j2").write_text("{{ letters.__class__.__mro__ }}", encoding="utf-8")
    with pytest.raises(KofuError, match="E602"):
        render_letters(summary, out, fmt="md", date=DATE, templates_dir=mine)


def test_wareki_gannen(summary, tmp_path):
    assert periods.wareki_date(date(2019, 10, 1)) == "令和元年10月1日"
    assert periods.wareki_date(date(2020, 10, 1)) == "令和2年10月1日"
    assert periods.wareki_date(date(2019, 4, 30)) == "平成31年4月30日"
    gannen = render_letters(summary, tmp_path / "a", fmt="md", date="2019-10-01", missing=True)
    text = letter_text(gannen, HAKODATE)
    assert "令和元年10月1日" in text and "令和元年10月8日（火）" in text
    later = render_letters(summary, tmp_path / "b", fmt="md", date=date(2020, 10, 1))
    assert "令和2年10月1日" in letter_text(later, HAKODATE)
    # the due date moves off the year-end closure and weekends
    closing = render_letters(summary, tmp_path / "c", fmt="md", date="2019-12-23", missing=True)
    assert "令和2年1月6日（月）" in letter_text(closing, HAKODATE)


def test_bad_summary_is_a_clear_error(tmp_path, master):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    with pytest.raises(KofuError, match="E601"):
        render_letters(junk, tmp_path / "out")
    other = tmp_path / "other.xlsx"
    wb = xlsxwriter.Workbook(other)
    wb.add_worksheet("指摘事項").write_string(0, 0, "団体コード")
    wb.close()
    with pytest.raises(KofuError, match="E601") as exc:
        render_letters(other, tmp_path / "out")
    assert "未提出" in exc.value.message


# --- the command ------------------------------------------------------------------------------


def test_cli_advise_json_matches_library(summary, tmp_path):
    from kofu_excel.cli.advise import advise_cmd

    out = tmp_path / "out"
    res = CliRunner().invoke(advise_cmd, [str(summary), "-o", str(out), "--format", "md",
                                          "--date", DATE, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    lib = render_letters(summary, out, fmt="md", date=DATE)
    assert doc == lib.to_json()
    assert [f["muni_code"] for f in doc["letters"]] == [HAKODATE, ASAHIKAWA]
    assert all(Path(f["path"]).exists() for f in doc["letters"])
    plain = CliRunner().invoke(advise_cmd, [str(summary), "-o", str(out), "--format", "md",
                                            "--date", DATE, "--muni", ASAHIKAWA])
    assert plain.exit_code == 0 and plain.stdout.startswith("1 件の助言文書を作成しました")
    by_name = CliRunner().invoke(advise_cmd, [str(summary), "-o", str(out), "--format", "md",
                                              "--date", DATE, "--muni", "函館市", "--json"])
    assert [f["muni_code"] for f in json.loads(by_name.stdout)["letters"]] == [HAKODATE]
    unknown = CliRunner().invoke(advise_cmd, [str(summary), "-o", str(out), "--muni", "999999"])
    assert unknown.exit_code == 2 and unknown.stderr.startswith("E504: ")


def test_cli_advise_errors_are_one_line(summary, tmp_path):
    from kofu_excel.cli.advise import advise_cmd

    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 broken")
    res = CliRunner().invoke(advise_cmd, [str(junk), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and res.stderr.startswith("E601: ") and "Traceback" not in res.output
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "advice.docx.j2").write_text("{{ lettrs }}", encoding="utf-8")
    res = CliRunner().invoke(advise_cmd, [str(summary), "-o", str(tmp_path / "o"),
                                          "--templates", str(mine)])
    assert res.exit_code == 2 and res.stderr.startswith("E602: ")
    assert len(res.stderr.strip().splitlines()) == 1
    res = CliRunner().invoke(advise_cmd, [str(summary), "-o", str(tmp_path / "o"), "--date", "R2.13.1"])
    assert res.exit_code == 2 and "YYYY-MM-DD" in res.stderr


def test_letters_from_a_real_merge(make_sample, tmp_path, master):
    """End to end: sample workbooks → kofu_excel.merge → summary → letters, one per
    municipality with advice (advise/urgent or a rejected workbook), reminders for the rest."""
    import openpyxl

    from kofu_excel.merge import merge
    from kofu_excel.model import BatchOptions

    plans = make_sample("plan", count=12)
    monthlies = make_sample("monthly", count=8, report_month="2020-03")
    out = tmp_path / "summary.xlsx"
    merge([*plans.files, *monthlies.files], out,
          BatchOptions(master=master, pref="01", today=date(2020, 4, 10)))
    ws = openpyxl.load_workbook(out, read_only=True)["指摘事項"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    expected = sorted({r[0] for r in rows if r[4] and (
        (re.fullmatch(r"R\d{3}|F10[12]", r[4]) and r[5] in ("助言", "至急")) or r[5] == "エラー")})
    assert expected, "the samples are made to need advice"
    result = render_letters(out, tmp_path / "letters", fmt="md", date=DATE)
    assert [f.muni_code for f in result.letters] == expected
    reminders = render_letters(out, tmp_path / "reminders", fmt="md", date=DATE, missing=True)
    missing = {r[0] for r in openpyxl.load_workbook(out, read_only=True)["未提出"].iter_rows(
        min_row=2, values_only=True)}
    assert {f.muni_code for f in reminders.letters} >= missing
    assert len(missing) == len(master.select(pref="01")) - 8  # monthly reports of 8 only


def test_a_form_returned_unfilled_is_asked_for_filled_in_not_listed_cell_by_cell(tmp_path, master):
    from kofu_excel.codes import render

    blank = Finding("E121", "error", render("E121", "blank", blank=200, filled=0), muni_code=OTARU,
                    figures={"blank": 200, "filled": 0})
    path = write_summary(tmp_path / "s.xlsx", [(blank, "plan", "受信/小樽市_計画.xlsx")], master,
                         missing=[(OTARU, "plan")])
    for kwargs in ({}, {"missing": True}):
        result = render_letters(path, tmp_path / f"out{len(kwargs)}", fmt="md", date=DATE, **kwargs)
        text = letter_text(result, OTARU)
        assert "記入されていない状態で、受理できませんでした" in text
        assert "記入の上、改めて提出してください" in text
        assert "ほか" not in text and "上記の箇所を修正" not in text
        assert text.count("様式が記入されていません") == 1
