"""Every usage mistake is one ``E7nn: 日本語`` line, the same words in every command, exit 2,
nothing written; Ctrl-C is one E990 line and exit 130; OS errors say what happened in Japanese."""

from __future__ import annotations

import configparser
import errno
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from kofu_excel.cli import main
from kofu_excel.cli.usage import parse_date_option
from kofu_excel.findings import CODES
from kofu_excel.oserrors import describe

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
LINE = re.compile(r"^E7\d\d: \S.*$")
ENGLISH = re.compile(r"\b(Error|Usage|Invalid|Missing|Try|does not exist|No such|Got unexpected|"
                     r"is a directory|is a file|requires|Traceback|Aborted)\b")


@pytest.fixture()
def here(tmp_path, monkeypatch) -> Path:
    """A working folder with one inbox folder and one workbook; nothing else may appear."""
    (tmp_path / "受信").mkdir()
    (tmp_path / "様式.xlsx").write_bytes(b"PK")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def usage_line(here: Path, *args: str) -> str:
    before = sorted(p.name for p in here.rglob("*"))
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 2, (args, res.output)
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and LINE.match(lines[0]), (args, res.stderr)
    assert not ENGLISH.search(lines[0]), lines[0]
    assert sorted(p.name for p in here.rglob("*")) == before  # nothing written
    return lines[0]


def test_a_missing_path_is_the_same_line_in_validate_and_merge(here):
    validate = usage_line(here, "validate", "受信なし/")
    merge = usage_line(here, "merge", "受信なし/", "-o", "x.xlsx")
    assert validate == merge == "E703: 指定されたファイル・フォルダが見つかりません：受信なし/"


@pytest.mark.parametrize("args", [
    ("merge", "受信"), ("advise", "様式.xlsx"), ("template", "--kind", "plan"),
])
def test_a_missing_required_option_is_E701_with_the_same_words(here, args):
    assert usage_line(here, *args) == "E701: -o/--out を指定してください"


@pytest.mark.parametrize("args", [("merge", "-o", "x.xlsx"), ("validate",)])
def test_a_missing_argument_is_E701_in_japanese(here, args):
    assert usage_line(here, *args) == "E701: 確認・とりまとめするファイルまたはフォルダを指定してください"


def test_an_option_without_its_value_is_E701(here):
    assert usage_line(here, "merge", "受信", "-o") == "E701: -o の後に値を指定してください"


@pytest.mark.parametrize("args, line", [
    (("merge", "受信", "-o", "x.xlsx", "--level", "県"),
     "E702: --level には prefecture、national のいずれかを指定してください（指定された値：県）"),
    (("template", "--kind", "計画", "-o", "out"),
     "E702: --kind には plan、monthly のいずれかを指定してください（指定された値：計画）"),
    (("advise", "様式.xlsx", "-o", "out", "--format", "pdf"),
     "E702: --format には docx、html、md のいずれかを指定してください（指定された値：pdf）"),
])
def test_a_bad_choice_is_E702_listing_the_choices(here, args, line):
    assert usage_line(here, *args) == line


@pytest.mark.parametrize("args, line", [
    (("merge", "受信", "-o", "受信"), "E704: -o/--out に指定された「受信」はフォルダです。ファイルを指定してください"),
    (("advise", "受信", "-o", "out"), "E704: 指定された「受信」はフォルダです。ファイルを指定してください"),
    (("validate", "受信", "--passwords", "受信"),
     "E704: --passwords に指定された「受信」はフォルダです。ファイルを指定してください"),
    (("template", "--kind", "plan", "-o", "様式.xlsx"),
     "E704: -o/--out に指定された「様式.xlsx」はファイルです。フォルダを指定してください"),
])
def test_a_folder_where_a_file_is_needed_is_E704(here, args, line):
    assert usage_line(here, *args) == line


@pytest.mark.parametrize("option", ["--date", "--due"])
@pytest.mark.parametrize("value", ["2020-13-01", "来週", "令和2年2月30日"])
def test_a_malformed_date_is_E705_naming_the_spellings(here, option, value):
    line = usage_line(here, "advise", "様式.xlsx", "-o", "out", option, value)
    assert line.startswith(f"E705: {option} の日付「{value}」を読み取れません。")
    assert "令和2年4月20日" in line


@pytest.mark.parametrize("value", ["2020-13", "三月"])
def test_a_malformed_month_is_E705_too(here, value):
    line = usage_line(here, "sample", "--kind", "monthly", "-o", "out", "--report-month", value)
    assert line.startswith(f"E705: --report-month の年月「{value}」を読み取れません。")


@pytest.mark.parametrize("text", ["2020-04-20", "2020/4/20", "2020年4月20日", "令和2年4月20日",
                                  "R2.4.20", "Ｒ２．４．２０", "20200420"])
def test_dates_accept_the_spellings_the_workbooks_accept(text):
    import datetime as dt

    assert parse_date_option(None, None, text) == dt.date(2020, 4, 20)


def test_the_letters_carry_a_wareki_date_given_on_the_command_line(tmp_path):
    summary = tmp_path / "summary.xlsx"
    merged = CliRunner().invoke(main, ["merge", str(SAMPLES / "inbox"), "--passwords",
                                       str(SAMPLES / "passwords.txt"), "-o", str(summary)])
    assert merged.exit_code == 1 and summary.exists(), merged.output
    res = CliRunner().invoke(main, ["advise", str(summary), "-o", str(tmp_path / "letters"),
                                    "--format", "md", "--date", "令和2年4月20日", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["date"] == "2020-04-20"


def test_unknown_options_commands_and_extra_arguments_are_one_line(here):
    assert usage_line(here, "merge", "受信", "-o", "x.xlsx", "--levl", "national").startswith(
        "E707: --levl というオプションはありません（--level")
    assert usage_line(here, "merge2").startswith("E707: 「merge2」というコマンドはありません。")
    assert usage_line(here, "advise", "様式.xlsx", "余分", "-o", "out").startswith(
        "E708: 余分な指定があります：余分")
    assert usage_line(here, "sample", "--count", "十") == "E706: --count には数値（整数）を指定してください"
    assert usage_line(here, "sample", "--inbox", "x", "--kind", "plan") == \
        "E709: --inbox と --kind は同時に指定できません"
    assert usage_line(here, "validate", "受信", "--json=yes").startswith("E709: --json ")


def test_every_usage_code_is_documented():
    for code in ("E701", "E702", "E703", "E704", "E705", "E706", "E707", "E708", "E709", "E710",
                 "E711", "E906", "E907"):
        assert code in CODES
        assert f"| {code} |" in (ROOT / "docs/errors.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("args", [
    ("merge", "受信", "-o", "out/summary.csv"),
    ("merge", "受信", "-o", "summary.xls"),
    ("validate", "受信", "--report", "out/report.csv"),
])
def test_an_output_file_named_as_another_kind_is_E711_in_every_command(here, args):
    line = usage_line(here, *args)
    assert line.startswith("E711: ") and ".xlsx のように指定してください" in line


@pytest.mark.parametrize("args", [
    ("advise", "様式.xlsx", "-o", "督促.docx"),
    ("template", "--kind", "plan", "--pref", "31", "-o", "配布用.xlsx"),
    ("validate", "受信", "--annotate", "差し戻し.xlsx"),
    ("sample", "--kind", "plan", "-o", "記入例.xlsx"),
])
def test_an_output_folder_named_like_a_file_is_E711_in_every_command(here, args):
    line = usage_line(here, *args)
    assert line.startswith("E711: ") and "フォルダを指定してください" in line


def test_an_output_file_without_extension_is_written_as_xlsx(tmp_path, make_sample):
    inbox = make_sample("plan", pref="31").files[0].parent
    res = CliRunner().invoke(main, ["merge", str(inbox), "-o", str(tmp_path / "out" / "summary")])
    assert res.exit_code in (0, 1), res.output
    assert (tmp_path / "out" / "summary.xlsx").is_file() and not (tmp_path / "out" / "summary").exists()
    assert f"出力: {tmp_path / 'out' / 'summary.xlsx'}" in res.stdout


@pytest.mark.parametrize("number, text", [
    (errno.ENOSPC, "ディスクの空き容量が足りません"),
    (errno.EACCES, "アクセスが拒否されました"),
    (errno.EEXIST, "同じ名前のファイルまたはフォルダが既にあります"),
    (errno.ENOENT, "見つかりません"),
    (errno.EROFS, "読み取り専用"),
    (errno.ENAMETOOLONG, "長すぎます"),
    (errno.EISDIR, "同じ名前のフォルダがあります"),
])
def test_os_errors_are_described_in_japanese(number, text):
    assert text in describe(OSError(number, os.strerror(number)))


def test_windows_sharing_violation_says_another_program_has_the_file_open():
    exc = OSError(errno.EACCES, "The process cannot access the file")
    exc.winerror = 32  # type: ignore[attr-defined]
    assert "Excel" in describe(exc) and "開いています" in describe(exc)


def test_a_path_over_max_path_on_windows_is_said_to_be_too_long_not_missing(tmp_path):
    long = str(tmp_path / ("とても長いフォルダ名" * 30) / "summary.xlsx")
    exc = FileNotFoundError(errno.ENOENT, "The system cannot find the path specified", long)
    exc.winerror = 3  # type: ignore[attr-defined]  # what Windows says for a path over MAX_PATH
    assert "パスが長すぎます" in describe(exc) and "259" in describe(exc)
    short = FileNotFoundError(errno.ENOENT, "No such file", str(tmp_path / "x.xlsx"))
    assert describe(short) == "ファイルまたはフォルダが見つかりません"


def test_an_output_folder_that_is_a_file_is_E901_in_japanese_not_file_exists(tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("x", encoding="utf-8")
    res = CliRunner().invoke(main, ["merge", str(SAMPLES / "inbox"), "--passwords",
                                    str(SAMPLES / "passwords.txt"), "-o", str(blocker / "summary.xlsx")])
    assert res.exit_code == 2
    assert res.stderr.startswith("E901: ") and "File exists" not in res.stderr
    assert "（" in res.stderr and not ENGLISH.search(res.stderr)


# --- the real console scripts --------------------------------------------------------------------

def entry(name: str) -> list[str]:
    """The command line a console script runs (setup.cfg → kofu_excel.cli.entry)."""
    func = name.replace("-", "_")
    return [sys.executable, "-c", f"import sys; sys.argv[0] = {name!r}; "
            f"from kofu_excel.cli.entry import {func}; {func}()"]


def test_console_scripts_go_through_the_light_entry_module():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    scripts = dict(line.split(" = ") for line in cfg["options.entry_points"]["console_scripts"].split("\n")
                   if line.strip())
    assert scripts == {n: f"kofu_excel.cli.entry:{n.replace('-', '_')}"
                       for n in ("kofu", "kofu-template", "kofu-validate", "kofu-merge", "kofu-advise")}
    out = subprocess.run([sys.executable, "-c", "import sys, kofu_excel.cli.entry; "
                          "print('pandas' in sys.modules, 'kofu_excel.cli.group' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_a_real_kofu_merge_usage_error_is_one_japanese_line(tmp_path):
    res = subprocess.run([*entry("kofu-merge"), "受信なし/", "-o", "x.xlsx"], cwd=tmp_path,
                         capture_output=True, text=True, encoding="utf-8")
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == "E703: 指定されたファイル・フォルダが見つかりません：受信なし/\n"
    assert list(tmp_path.iterdir()) == []


INTERRUPT_AT_IMPORT = textwrap.dedent("""
    import importlib.abc, os, signal, sys

    class Interrupt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == os.environ["KOFU_TEST_INTERRUPT_AT"]:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered during this import
            return None

    sys.meta_path.insert(0, Interrupt())
""")


@pytest.mark.parametrize("module", ["kofu_excel.cli.group", "pandas", "kofu_excel.merge", "xlsxwriter"])
def test_ctrl_c_during_start_up_imports_is_one_E990_line_and_exit_130(tmp_path, module):
    (tmp_path / "sitecustomize.py").write_text(INTERRUPT_AT_IMPORT, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
           "KOFU_TEST_INTERRUPT_AT": module}
    out = tmp_path / "out.xlsx"
    res = subprocess.run([*entry("kofu-merge"), str(SAMPLES / "inbox"), "-o", str(out)], env=env,
                         capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip() == "E990: 中断しました（出力ファイルは変更していません）"
    assert res.stdout == "" and not out.exists()


INTERRUPT_AT_FSYNC = textwrap.dedent("""
    import os, signal

    _fsync = os.fsync

    def fsync(fd):
        _fsync(fd)
        os.killpg(0, signal.SIGINT)  # Ctrl-C, as a terminal sends it: the temp file is written,
                                     # the output not yet replaced

    os.fsync = fsync
""")


def test_ctrl_c_while_writing_is_one_E990_line_and_leaves_the_earlier_output(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(INTERRUPT_AT_FSYNC, encoding="utf-8")
    out = tmp_path / "out" / "summary.xlsx"
    out.parent.mkdir()
    out.write_bytes(b"the earlier summary")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    res = subprocess.run([*entry("kofu-merge"), str(SAMPLES / "inbox"), "--passwords",
                          str(SAMPLES / "passwords.txt"), "-o", str(out)], env=env, capture_output=True,
                         text=True, encoding="utf-8", timeout=300, start_new_session=True)
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip() == "E990: 中断しました（出力ファイルは変更していません）"
    assert out.read_bytes() == b"the earlier summary"
    assert [p.name for p in out.parent.iterdir()] == ["summary.xlsx"]  # no temp file left


def test_a_ctrl_c_after_the_work_is_done_changes_nothing():
    """Between the last line and the exit, "中断しました" would be untrue: the status stays."""
    code = ("import os, signal, sys; sys.argv[0] = 'kofu'; from kofu_excel.cli import console; "
            "done = console.finished; "
            "console.finished = lambda: (done(), os.kill(os.getpid(), signal.SIGINT)); "
            "from kofu_excel.cli.entry import kofu; kofu()")
    res = subprocess.run([sys.executable, "-c", code, "fields", "--kind", "plan"], capture_output=True,
                         text=True, encoding="utf-8", timeout=120)
    assert res.returncode == 0 and res.stderr == "" and res.stdout.count("\n") > 100


def test_an_os_error_anywhere_else_is_E907_in_japanese_not_E999(tmp_path, monkeypatch):
    from kofu_excel import merge as merge_mod

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "受信" / "a.xlsx"))

    monkeypatch.setattr(merge_mod, "merge", full_disk)  # the CLI imports it when run
    res = CliRunner().invoke(main, ["merge", str(SAMPLES / "inbox"), "-o", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2
    assert res.stderr == (f"E907: {tmp_path / '受信' / 'a.xlsx'}：ファイルの読み書きに失敗しました"
                          "（ディスクの空き容量が足りません）\n")
