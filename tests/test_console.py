"""On any console encoding every result is printed and the exit status is unchanged
(cli/console.py): the real commands, in subprocesses, under PYTHONIOENCODING=cp932 and =ascii,
with file names no code page has all of (𠮷 is outside cp932; ①, ㈱, 髙, 﨑 are NEC/IBM extensions)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from kofu_excel.cli import console

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "samples" / "inbox" / "計画"
NAMES = {  # name in the inbox ← sample it is a copy of
    "131016_𠮷田_交付円滑化計画.xlsx": "312011_鳥取市_交付円滑化計画.xlsx",
    "①㈱髙﨑_交付円滑化計画.xlsx": "313289_智頭町_交付円滑化計画.xlsx",  # has one E203
    "𠮷野①町_交付円滑化計画.xlsx": "312029_米子市_交付円滑化計画.xlsx",
}


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    box = tmp_path_factory.mktemp("console") / "受信箱"
    box.mkdir()
    for name, src in NAMES.items():
        shutil.copyfile(PLANS / src, box / name)
    return box


def run(command: str, args: list[str], encoding: str | None, cwd: Path) -> subprocess.CompletedProcess:
    """A console script as setup.cfg installs it, with stdout/stderr in ``encoding``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8")}
    if encoding:
        env["PYTHONIOENCODING"] = encoding
    func = command.replace("-", "_")
    code = f"import sys; sys.argv[0] = {command!r}; from kofu_excel.cli.entry import {func}; {func}()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True,
                          timeout=300)


def shown(name: str, encoding: str) -> str:
    """How a name looks on that console: 〓 for a character it cannot show."""
    return "".join(c if c.encode(encoding, "ignore") else "〓" for c in name)


CASES = [("kofu-validate", []), ("kofu-merge", ["-o", "{out}"])]
ENCODINGS = ("utf-8", "cp932", "ascii")


@pytest.fixture(scope="module")
def results(inbox, tmp_path_factory) -> dict[tuple[str, str, bool], subprocess.CompletedProcess]:
    """Each command, text and --json, on each console encoding (run once: they take seconds)."""
    cwd = tmp_path_factory.mktemp("runs")
    done = {}
    for command, extra in CASES:
        for encoding in ENCODINGS:
            for as_json in (False, True):
                out = cwd / f"{command}-{encoding}-{as_json}.xlsx"
                args = [str(inbox), *["--json"] * as_json, *[a.format(out=out) for a in extra]]
                done[command, encoding, as_json] = run(command, args, encoding, cwd)
    return done


@pytest.mark.parametrize("command", [c for c, _ in CASES])
def test_cp932_console_prints_every_result_with_geta_for_what_it_cannot_show(results, command):
    base, res = results[command, "utf-8", False], results[command, "cp932", False]
    assert base.returncode == res.returncode == 1  # the 髙﨑 copy has an error: 1, not 2 (E999)
    text = res.stdout.decode("cp932")  # strictly: every byte is cp932
    assert "E999" not in res.stderr.decode("cp932")
    assert "①㈱髙﨑_交付円滑化計画.xlsx" in text  # in cp932: shown as such
    assert "E203" in text
    expected = base.stdout.decode("utf-8").replace("-utf-8-", "-cp932-")
    assert text == expected.replace("𠮷", "〓")  # the same lines, only 𠮷 replaced
    if command == "kofu-validate":
        assert "131016_〓田_交付円滑化計画.xlsx" in text


@pytest.mark.parametrize("command", [c for c, _ in CASES])
def test_ascii_console_prints_every_result_and_keeps_the_exit_status(results, command):
    base, res = results[command, "utf-8", False], results[command, "ascii", False]
    assert res.returncode == base.returncode == 1
    assert b"E999" not in res.stderr and b"Traceback" not in res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == len(base.stdout.splitlines())
    assert sum(b"E203" in line for line in lines) == 1


@pytest.mark.parametrize("encoding", ["cp932", "ascii"])
@pytest.mark.parametrize("command", [c for c, _ in CASES])
def test_json_stays_valid_and_complete_on_any_console(results, command, encoding):
    base, res = results[command, "utf-8", True], results[command, encoding, True]
    assert res.returncode == base.returncode == 1
    assert res.stdout.isascii()  # escaped, so any console shows it
    doc = json.loads(res.stdout)
    expected = base.stdout.decode("utf-8").replace("-utf-8-", f"-{encoding}-")
    assert doc == json.loads(expected)  # nothing replaced, nothing lost
    assert set(NAMES) <= {Path(p).name for p in _paths(doc)}


def _paths(doc) -> list[str]:
    if isinstance(doc, dict):
        return [v for k, v in doc.items() if k == "path" and isinstance(v, str)] + [
            p for v in doc.values() for p in _paths(v)]
    if isinstance(doc, list):
        return [p for v in doc for p in _paths(v)]
    return []


def test_files_written_under_a_cp932_console_keep_every_character(inbox, results, tmp_path):
    out = Path(json.loads(results["kofu-merge", "cp932", True].stdout)["output"])
    annotated = tmp_path / "差戻し"
    wb = openpyxl.load_workbook(out, read_only=True)
    log = " ".join(str(c) for row in wb["取込記録"].iter_rows(values_only=True) for c in row if c)
    wb.close()
    assert all(name in log for name in NAMES)
    assert run("kofu-validate", [str(inbox), "--annotate", str(annotated)], "ascii",
               tmp_path).returncode == 1
    assert [p.name for p in annotated.iterdir()] == ["①㈱髙﨑_交付円滑化計画_確認結果.xlsx"]


def test_usage_errors_are_readable_on_a_cp932_console(tmp_path):
    res = run("kofu-merge", ["𠮷田の受信箱", "-o", "x.xlsx"], "cp932", tmp_path)
    assert res.returncode == 2
    assert res.stderr.decode("cp932") == "E703: 指定されたファイル・フォルダが見つかりません：〓田の受信箱\n"


def test_the_replacement_mark_fits_the_console():
    console.setup()
    import codecs

    assert "𠮷①".encode("cp932", console.ERRORS) == "〓①".encode("cp932")
    assert "𠮷a".encode("ascii", console.ERRORS) == b"?a"
    assert "\udce9".encode("utf-8", console.ERRORS) == "\ufffd".encode()  # an undecodable file name
    assert codecs.lookup_error(console.ERRORS)
