"""kofu-validate through click's CliRunner: the --json contract, text output and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kofu_excel.cli import main
from kofu_excel.cli.validate import validate_cmd
from kofu_excel.findings import jsonable
from kofu_excel.model import BatchOptions
from kofu_excel.pipeline.validation import validate_paths


@pytest.fixture(scope="module")
def inbox(make_sample, tmp_path_factory) -> Path:
    """A folder as a prefecture gets it: clean and faulty workbooks, and a stray text file."""
    root = tmp_path_factory.mktemp("inbox")
    for sub, result in (("ok", make_sample("plan", count=2, messy=True)),
                        ("bad", make_sample("plan", count=3, errors=True)),
                        ("monthly", make_sample("monthly", count=2, errors=True))):
        (root / sub).mkdir()
        for p in result.files:
            shutil.copy(p, root / sub / p.name)
    (root / "memo.txt").write_text("提出します", encoding="utf-8")
    return root


def run(*args: str):
    return CliRunner().invoke(validate_cmd, list(args), catch_exceptions=False)


def test_cli_validate_json_matches_library(inbox, master):
    result = run(str(inbox), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    lib = validate_paths([inbox], BatchOptions(master=master))
    assert doc == json.loads(json.dumps(lib.to_json(), ensure_ascii=False, default=jsonable))
    by_status = {}
    for f in doc["files"]:
        assert set(f) == {"path", "member", "kind", "muni_code", "status", "errors"}
        by_status.setdefault(f["status"], []).append(f)
        for e in f["errors"]:
            assert set(e) == {"code", "severity", "sheet", "cell", "field", "value", "message"}
    assert len(by_status["valid"]) == 2
    assert len(by_status["invalid"]) == 5
    assert [Path(f["path"]).name for f in by_status["ignored"]] == ["memo.txt"]
    assert len(by_status["ignored"][0]["errors"]) == 1  # the reason it was not read
    for f in by_status["invalid"]:
        assert [e["severity"] for e in f["errors"]] == ["error"]


def test_cli_text_lists_files_and_findings(inbox):
    result = run(str(inbox / "ok"), str(inbox / "bad"))
    lines = result.stdout.splitlines()
    heads = [ln for ln in lines if not ln.startswith("  ")]
    assert sum(h.startswith("OK  ") for h in heads) == 2
    assert sum(h.startswith("NG (エラー 1 件・警告 0 件)  ") for h in heads) == 3
    findings = [ln for ln in lines if ln.startswith("  ")]
    assert len(findings) == 3 and all(ln[2:6].startswith("E") and "」シート " in ln for ln in findings)
    assert result.exit_code == 1


def test_cli_exit_codes_0_1_2(inbox, tmp_path):
    assert run(str(inbox / "ok")).exit_code == 0
    assert run(str(inbox / "bad")).exit_code == 1
    assert run(str(inbox / "ok"), str(inbox / "bad")).exit_code == 1
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    (nothing / "a.txt").write_text("x", encoding="utf-8")
    result = run(str(nothing), "--report", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 2
    assert not (tmp_path / "r.xlsx").exists()  # nothing usable: nothing written
    assert run(str(tmp_path / "missing")).exit_code == 2  # bad usage
    assert run(str(inbox / "ok"), "--pref", "どこか").exit_code == 2  # unknown prefecture
    assert run().exit_code == 2
    # the kofu group runs the very same command
    assert CliRunner().invoke(main, ["validate", str(inbox / "ok")]).exit_code == 0


def test_cli_writes_report_and_annotated_copies(inbox, tmp_path):
    report, ann = tmp_path / "確認結果.xlsx", tmp_path / "差し戻し"
    result = run(str(inbox / "bad"), str(inbox / "ok"), "--report", str(report), "--annotate", str(ann))
    assert result.exit_code == 1
    assert report.exists()
    assert sorted(p.name for p in ann.iterdir()) == sorted(
        p.stem + "_確認結果.xlsx" for p in (inbox / "bad").iterdir())
    assert str(report) in result.stdout


def test_cli_a_rejected_workbook_corrected_later_is_settled_not_a_failure(make_sample, tmp_path):
    import os

    bad = make_sample("plan", pref="31", errors=True).files[0]
    good = next(p for p in make_sample("plan", pref="31").files if p.name == bad.name)
    old, new = tmp_path / ("1回目_" + bad.name), tmp_path / ("訂正_" + bad.name)
    shutil.copy(bad, old)
    shutil.copy(good, new)
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(new, (2_000_000, 2_000_000))
    res = run(str(tmp_path), "--annotate", str(tmp_path / "差し戻し"))
    assert res.exit_code == 0, res.output
    assert "解決済：不受理（" in res.stdout and new.name in res.stdout
    assert not (tmp_path / "差し戻し").exists() or not list((tmp_path / "差し戻し").iterdir())
    doc = json.loads(run(str(tmp_path), "--json").stdout)
    settled = [f for f in doc["files"] if f.get("settled")]
    assert [Path(f["path"]).name for f in settled] == [old.name] and settled[0]["status"] == "invalid"


def test_cli_a_file_that_is_no_workbook_is_not_called_a_foreign_workbook(inbox):
    """E117 means a workbook that is not ours; memo.txt is no workbook at all (E123)."""
    doc = json.loads(run(str(inbox), "--json").stdout)
    memo = next(f for f in doc["files"] if f["path"].endswith("memo.txt"))
    assert memo["status"] == "ignored" and [e["code"] for e in memo["errors"]] == ["E123"]
