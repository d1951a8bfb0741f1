"""kofu-merge on the command line: the same result as the library, exit codes, messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from kofu_excel.cli import main
from kofu_excel.cli.merge import merge_cmd
from kofu_excel.merge import merge
from kofu_excel.model import BatchOptions

PREF = "31"


def _inbox(tmp_path: Path, make_sample, broken: bool = True) -> Path:
    inbox = tmp_path / "受信"
    inbox.mkdir()
    for p in make_sample("plan", pref=PREF).files[:5]:
        shutil.copy(p, inbox)
    if broken:
        (inbox / "壊れた.xlsx").write_bytes(b"not a workbook at all")
    (inbox / "メモ.txt").write_text("対象外", encoding="utf-8")
    return inbox


def test_cli_merge_json_matches_library(tmp_path, make_sample, master, schedule):
    inbox = _inbox(tmp_path, make_sample)
    out_cli, out_lib = tmp_path / "cli.xlsx", tmp_path / "lib.xlsx"
    res = CliRunner().invoke(merge_cmd, [str(inbox), "-o", str(out_cli), "--json"])
    assert res.exit_code == 1, res.output  # one input was rejected
    doc = json.loads(res.stdout)
    lib = merge([inbox], out_lib, BatchOptions(master=master), schedule=schedule)
    want = lib.to_json()
    assert doc["output"] == str(out_cli)
    assert {k: v for k, v in doc.items() if k != "output"} == {k: v for k, v in want.items() if k != "output"}
    assert out_cli.read_bytes() == out_lib.read_bytes()
    assert {i["status"] for i in doc["inputs"]} == {"accepted", "rejected", "ignored"}
    # docs/spec/cli.md's fields, plus the stable code of the reason
    assert set(doc["inputs"][0]) == {"path", "member", "sha256", "kind", "muni_code", "status", "code",
                                     "reason"}
    assert len(doc["missing"]) == 19 - 5
    assert doc["totals"]["plan"]["forecast.planned_issued"] > 0


def test_cli_merge_prints_a_short_japanese_summary(tmp_path, make_sample):
    inbox = _inbox(tmp_path, make_sample, broken=False)
    out = tmp_path / "とりまとめ.xlsx"
    res = CliRunner().invoke(main, ["merge", str(inbox), "-o", str(out), "--pref", "鳥取県"])
    assert res.exit_code == 0, res.output
    assert "受理 5 件" in res.stdout and "対象外 1 件" in res.stdout
    assert "提出 5 / 19 団体" in res.stdout
    assert f"出力: {out}" in res.stdout
    assert out.exists()


def test_cli_merge_nothing_usable_exit_2(tmp_path):
    inbox = tmp_path / "受信"
    inbox.mkdir()
    (inbox / "メモ.txt").write_text("対象外", encoding="utf-8")
    out = tmp_path / "とりまとめ.xlsx"
    out.write_bytes(b"earlier")
    res = CliRunner().invoke(merge_cmd, [str(inbox), "-o", str(out), "--pref", PREF])
    assert res.exit_code == 2
    assert "E109" in res.stderr and "Traceback" not in res.output
    assert out.read_bytes() == b"earlier"


def test_cli_merge_output_is_input_one_line_message(tmp_path, make_sample):
    src = tmp_path / "in.xlsx"
    shutil.copy(make_sample("plan", pref=PREF).files[0], src)
    res = CliRunner().invoke(merge_cmd, [str(src), "-o", str(src)])
    assert res.exit_code == 2
    assert res.stderr.startswith("E903: ") and len(res.stderr.strip().splitlines()) == 1


def test_cli_merge_national_with_pref_is_bad_usage(tmp_path, make_sample):
    inbox = _inbox(tmp_path, make_sample, broken=False)
    res = CliRunner().invoke(merge_cmd, [str(inbox), "-o", str(tmp_path / "n.xlsx"),
                                         "--level", "national", "--pref", PREF])
    assert res.exit_code == 2
    # A usage mistake (options that cannot go together), not "the prefecture cannot be told".
    assert res.stderr.startswith("E709: ")


def test_text_output_gives_every_reason_the_json_gives(tmp_path, make_sample, master, schedule):
    """Prefectural summaries merged without --level national: the reason shows on the console."""
    inbox = tmp_path / "各県"
    inbox.mkdir()
    for pref in ("31", "32"):
        merge(make_sample("plan", pref=pref).files[0].parent.glob("*.xlsx"), inbox / f"{pref}.xlsx",
              BatchOptions(master=master), schedule=schedule)
    shutil.copy(make_sample("plan", pref="31").files[0], inbox)
    args = [str(inbox), "-o", str(tmp_path / "out.xlsx"), "--pref", "31"]
    doc = json.loads(CliRunner().invoke(merge_cmd, [*args, "--json"]).stdout)
    text = CliRunner().invoke(merge_cmd, args).stdout
    not_accepted = [i for i in doc["inputs"] if i["status"] not in ("accepted", "opened")]
    assert len(not_accepted) == 2
    for i in not_accepted:
        code = f"{i['code']} " if i["code"] else ""
        assert f"対象外 {i['path']}：{code}{i['reason']}" in text


def test_text_output_groups_a_reason_shared_by_many_files(tmp_path, make_sample):
    inbox = _inbox(tmp_path, make_sample, broken=False)
    for n in range(6):
        (inbox / f"メモ{n}.txt").write_text("対象外", encoding="utf-8")
    res = CliRunner().invoke(main, ["merge", str(inbox), "-o", str(tmp_path / "out.xlsx")])
    lines = [ln for ln in res.stdout.splitlines() if "取込対象外のファイル形式です" in ln]
    assert lines == [f"  対象外 7 件：取込対象外のファイル形式です（{inbox / 'メモ.txt'} ほか 6 件）"]
