"""What kofu-excel wrote is never mistaken for a submission: recognised by its stamp, listed as
ignored with 「kofu-excel が作成したファイル」, never validated, never counted, never blocking a
rerun — except the national merge, which reads prefectural summaries on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from kofu_excel import forms
from kofu_excel.cli import main
from kofu_excel.letters import render_letters
from kofu_excel.merge import merge
from kofu_excel.model import BatchOptions
from kofu_excel.pipeline.validation import validate_paths
from kofu_excel.write.template import generate

PREF = "31"
OWN = "kofu-excel が作成したファイル"


def _inbox(tmp_path: Path, make_sample) -> Path:
    inbox = tmp_path / "受信"
    inbox.mkdir()
    for p in make_sample("plan", pref=PREF).files[:4]:
        shutil.copy(p, inbox)
    return inbox


def _by_name(items) -> dict:
    return {Path(it.path).name + (f" > {it.member}" if it.member else ""): it for it in items}


def test_merge_twice_with_the_summary_inside_the_inbox(tmp_path, make_sample):
    inbox = _inbox(tmp_path, make_sample)
    args = ["merge", str(inbox), "-o", str(inbox / "とりまとめ.xlsx"), "--pref", PREF, "--json"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(main, args)  # was E903: the output is one of the inputs
    assert second.exit_code == 0, second.output
    import json

    doc = json.loads(second.stdout)
    own = [i for i in doc["inputs"] if Path(i["path"]).name == "とりまとめ.xlsx"]
    assert [(i["status"], i["code"]) for i in own] == [("ignored", "E122")]
    assert own[0]["reason"].startswith(OWN)
    assert doc["totals"]["status"]["accepted"] == 4


def test_validate_sets_aside_the_summary_report_and_unchanged_annotated_copies(tmp_path, make_sample,
                                                                              master, schedule):
    inbox = _inbox(tmp_path, make_sample)
    bad = make_sample("plan", pref=PREF, errors=True).files[0]
    shutil.copy(bad, inbox / ("誤り_" + bad.name))
    merge([inbox], inbox / "とりまとめ.xlsx", BatchOptions(master=master), schedule=schedule)
    opts = BatchOptions(master=master)
    first = validate_paths([inbox], opts, report=inbox / "確認結果.xlsx", annotate=inbox / "差し戻し")
    assert len(first.annotated) == 1
    again = validate_paths([inbox], opts, report=inbox / "確認結果.xlsx", annotate=inbox / "差し戻し")
    results = {Path(fr.path).name: fr for fr in again.files}
    for name in ("とりまとめ.xlsx", "確認結果.xlsx", first.annotated[0].name):
        fr = results[name]
        assert fr.status == "ignored" and fr.findings[0].code == "E122", (name, fr)
        assert fr.findings[0].message.startswith(OWN)
    assert sum(1 for fr in again.files if fr.status == "invalid") == 1  # only the real one
    assert len(again.annotated) == 1 and again.annotated[0] == first.annotated[0]  # rewritten, not doubled


def test_a_corrected_annotated_copy_sent_back_is_a_submission_again(tmp_path, make_sample, master,
                                                                    schedule):
    inbox = tmp_path / "受信"
    inbox.mkdir()
    bad = make_sample("plan", pref=PREF, errors=True).files[0]
    shutil.copy(bad, inbox)
    run = validate_paths([inbox], BatchOptions(master=master), annotate=tmp_path / "差し戻し")
    copy = run.annotated[0]
    back = tmp_path / "返送"
    back.mkdir()
    untouched = back / "そのまま.xlsx"
    shutil.copy(copy, untouched)
    # The municipality types into one cell and sends it back: no longer what the tool wrote.
    dept = next(e for e in forms.catalog("plan") if e.id == "basic.department")
    wb = openpyxl.load_workbook(copy)
    wb[dept.sheet][dept.cell].value = "市民課（修正）"
    wb.save(back / "修正済.xlsx")
    res = validate_paths([back], BatchOptions(master=master))
    by = {Path(fr.path).name: fr for fr in res.files}
    assert by["そのまま.xlsx"].status == "ignored"
    assert by["修正済.xlsx"].status in ("valid", "invalid")  # validated as a submission


def test_unfilled_templates_are_set_aside_but_a_sample_is_validated(tmp_path, master, make_sample):
    inbox = tmp_path / "受信"
    generate("plan", inbox, master=master, munis=["312011", "312029"])
    shutil.copy(make_sample("plan", pref=PREF).files[0], inbox / "記入済.xlsx")
    res = merge([inbox], tmp_path / "out.xlsx", BatchOptions(master=master))
    by = _by_name(res.items)
    assert by["記入済.xlsx"].status == "accepted"
    unfilled = [it for n, it in by.items() if n != "記入済.xlsx"]
    assert len(unfilled) == 2
    assert all(it.status == "ignored" and it.reason == f"{OWN}（記入されていない様式）" for it in unfilled)
    assert res.exit_code == 0


def test_letters_in_every_format_are_set_aside(tmp_path, make_sample, master, schedule):
    inbox = _inbox(tmp_path, make_sample)
    summary = tmp_path / "s.xlsx"
    merge([inbox], summary, BatchOptions(master=master, pref=PREF), schedule=schedule)
    for fmt in ("md", "html", "docx"):
        render_letters(summary, inbox / f"文書_{fmt}", fmt=fmt, missing=True, date="2020-04-20",
                       due="2020-04-30")
    res = merge([inbox], tmp_path / "out.xlsx", BatchOptions(master=master, pref=PREF))
    letters = [it for it in res.items if "文書_" in it.path]
    assert {Path(it.path).suffix for it in letters} == {".md", ".html", ".docx"}
    assert all(it.status == "ignored" and it.code == "E122" and it.reason.startswith(OWN)
               for it in letters)
    (inbox / "メモ.md").write_text("# 受付メモ\n", encoding="utf-8")  # not ours: the usual reason
    memo = _by_name(merge([inbox], tmp_path / "out2.xlsx", BatchOptions(master=master, pref=PREF)).items)
    assert memo["メモ.md"].code == "" and not memo["メモ.md"].reason.startswith(OWN)


def test_national_merge_reads_prefectural_summaries_and_sets_its_own_output_aside(tmp_path, make_sample,
                                                                                 master, schedule):
    folder = tmp_path / "各県"
    folder.mkdir()
    for pref in ("31", "32"):
        merge(make_sample("plan", pref=pref).files[0].parent.glob("*.xlsx"), folder / f"{pref}.xlsx",
              BatchOptions(master=master), schedule=schedule)
    out = folder / "全国.xlsx"
    for _ in range(2):
        res = merge([folder], out, BatchOptions(master=master), schedule=schedule, level="national")
        assert res.exit_code == 0
    by = _by_name(res.items)
    assert by["31.xlsx"].status == by["32.xlsx"].status == "accepted"
    assert by["全国.xlsx"].status == "ignored" and by["全国.xlsx"].reason == f"{OWN}（全国のとりまとめ表）"
