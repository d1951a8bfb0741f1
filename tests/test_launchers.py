"""The double-click launchers (launchers.py): one definition → .cmd and .sh → the runner.

The .sh launchers run end to end here on samples/, in folders whose names have spaces,
Japanese, parentheses, &, %, ^ and !. The .cmd launchers cannot run on Linux: what is tested
is that they are generated, are cp932 with CRLF, switch the code page before any Japanese line,
keep every path inside double quotes with delayed expansion off, take the dropped path from the
raw command line by the steps checked below, and call the same runner with the same name.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from kofu_excel import launchers
from kofu_excel.launchers import BY_NAME, LAUNCHERS, plan, write_launchers

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
HOSTILE = "受信 R2(4月)&5月 100% ^!x"
NAMES = ("とりまとめ", "確認", "様式作成", "助言文書", "kofu画面")


def test_the_one_definition_has_the_four_launchers_and_their_commands():
    assert tuple(lc.name for lc in LAUNCHERS) == NAMES
    assert [lc.commands for lc in LAUNCHERS] == [("kofu-merge",), ("kofu-validate",),
                                                  ("kofu-template", "kofu-template"), ("kofu-advise",),
                                                  ("kofu",)]


def test_both_platforms_are_generated_from_it(tmp_path):
    win = {p.name for p in write_launchers(tmp_path / "win", "windows")}
    posix = {p.name for p in write_launchers(tmp_path / "posix", "posix")}
    assert win == {f"{n}.cmd" for n in NAMES} | {"設定.txt"}
    assert posix == {f"{n}.sh" for n in NAMES} | {"設定.txt"}
    for name in NAMES:
        assert os.access(tmp_path / "posix" / f"{name}.sh", os.X_OK)
    settings = (tmp_path / "win" / "設定.txt").read_bytes()
    assert settings.startswith(b"\xef\xbb\xbf") and b"\r\n" in settings  # Notepad's own format
    assert launchers.read_settings(tmp_path / "win") == {"都道府県": ""}


def test_the_users_settings_are_never_overwritten(tmp_path):
    (tmp_path / "設定.txt").write_text("都道府県=31\n", encoding="utf-8")
    write_launchers(tmp_path, "posix")
    assert launchers.read_settings(tmp_path) == {"都道府県": "31"}


def test_settings_saved_by_old_notepad_in_cp932_are_read(tmp_path):
    (tmp_path / "設定.txt").write_bytes("# 説明\r\n都道府県 = 鳥取県\r\n".encode("cp932"))
    assert launchers.read_settings(tmp_path) == {"都道府県": "鳥取県"}


# --- .cmd ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cmd_files(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("cmd")
    write_launchers(folder, "windows")
    return {name: (folder / f"{name}.cmd").read_bytes() for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_cmd_is_cp932_with_crlf_and_switches_the_code_page_before_any_japanese(cmd_files, name):
    data = cmd_files[name]
    text = data.decode("cp932")  # strictly
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    lines = text.split("\r\n")
    assert lines[0] == "@echo off"
    chcp = lines.index("chcp 932 >nul")
    assert all(line.isascii() for line in lines[:chcp + 1])  # read before the switch
    assert any(not line.isascii() for line in lines[chcp + 1:])
    restore = lines.index("if defined KOFU_CP chcp %KOFU_CP% >nul")
    assert all(line.isascii() for line in lines[restore:])  # read after switching back
    assert lines.index("setlocal DisableDelayedExpansion") < chcp


PATH_VARS = re.compile(r"%(KOFU_IN|KOFU_PY|KOFU_PYTHON|~dp0|~f1|~1)(:~-1)?%")


@pytest.mark.parametrize("name", NAMES)
def test_cmd_expands_every_path_inside_quotes_with_delayed_expansion_off(cmd_files, name):
    lines = cmd_files[name].decode("cp932").split("\r\n")
    delayed = False
    for line in lines:
        if line.startswith("setlocal EnableDelayedExpansion"):
            delayed = True
        for m in PATH_VARS.finditer(line):
            assert line[:m.start()].count('"') % 2 == 1, f"unquoted {m[0]}: {line}"
            assert not (delayed and m[1] in ("KOFU_IN", "KOFU_PY", "KOFU_PYTHON", "~dp0", "~f1")), line
            assert not re.search(r"\(\s*[^)]*$", line[:m.start()].split('"')[0]), f"in a block: {line}"
        if line.startswith(("endlocal", "for /f \"delims=\" %%P")) or line == ":from_console":
            delayed = False
    calls = [line for line in lines if line.startswith('"%KOFU_PY%"')]
    assert calls and not any('%~dp0"' in line or '\\"' in line for line in calls)  # \" would escape


@pytest.mark.parametrize("name", NAMES)
def test_cmd_and_sh_call_the_same_runner_with_the_same_name(cmd_files, tmp_path, name):
    cmd = cmd_files[name].decode("cp932")
    write_launchers(tmp_path, "posix")
    sh = (tmp_path / f"{name}.sh").read_text(encoding="utf-8")
    call = f"-I -m kofu_excel.launchers {name} --home"  # -I: never import from the current folder
    assert f'"%KOFU_PY%" {call} "%~dp0."' in cmd
    assert f'"$py" {call} "$here"' in sh
    if BY_NAME[name].drop:
        assert f'"%KOFU_PY%" {call} "%~dp0." "--target=%KOFU_IN%"' in cmd
        assert 'set -- "--target=$1"' in sh


def dropped_path(cmd_text: str, cmdcmdline: str, script: str) -> str:
    """Apply the .cmd's own substitutions on %cmdcmdline% (read from the generated text)."""
    value = cmdcmdline
    for search in re.findall(r'^set "KOFU_LINE=!KOFU_LINE:(.*)!"$', cmd_text, re.M):
        search = search.replace("%~nx0", script)
        if search == "~0,-1":
            value = value[:-1]
        elif search.startswith("*"):
            pattern, _, repl = search[1:].partition("=")
            i = value.lower().find(pattern.lower())
            value = repl + value[i + len(pattern):] if i >= 0 else value
        else:
            pattern, _, repl = search.partition("=")
            value = value.replace(pattern, repl)
    return value


@pytest.mark.parametrize("path", [
    r"C:\Users\職員\受信\R2(4月)&5月", r"C:\受信 箱\100% ^ok!", r"\\server\共有\(令和2年度)\受信",
    r"D:\𠮷田町&髙﨑市\受信", r"C:\a^b&c",
])
def test_cmd_takes_a_dropped_path_whole_from_the_raw_command_line(cmd_files, path):
    """Explorer quotes a dropped path only when it has a space; either way it comes out whole."""
    text = cmd_files["とりまとめ"].decode("cp932").replace("\r\n", "\n")
    script = r"C:\Users\職員\デスクトップ\kofu (R2)\とりまとめ.cmd"
    shown = f'"{path}"' if " " in path else path
    line = rf'C:\WINDOWS\system32\cmd.exe /c ""{script}" {shown}"'
    assert dropped_path(text, line, "とりまとめ.cmd") == path


# --- the runner and the .sh launchers, end to end -------------------------------------------------

def test_plan_puts_the_output_next_to_the_dropped_folder_with_the_date(tmp_path):
    inbox = tmp_path / HOSTILE
    inbox.mkdir()
    (tmp_path / "launch").mkdir()
    (tmp_path / "launch" / "パスワード.txt").write_text("x\n", encoding="utf-8")
    now = dt.datetime(2020, 4, 20, 9, 5)
    output, lines = plan(BY_NAME["確認"], inbox, tmp_path / "launch", now)
    assert output == tmp_path / "確認結果_20200420_0905.xlsx"
    assert lines == [["kofu-validate", str(inbox), "--passwords", str(tmp_path / "launch" / "パスワード.txt"),
                      "--report", str(output), "--annotate", str(tmp_path / "差戻し_20200420_0905")]]
    (inbox / "パスワード.txt").write_text("y\n", encoding="utf-8")  # the folder's own list wins
    assert plan(BY_NAME["とりまとめ"], inbox, tmp_path / "launch", now)[1][0][2:4] == [
        "--passwords", str(inbox / "パスワード.txt")]


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Path:
    """A desk: the launchers in a folder with a hostile name, an inbox beside them."""
    root = tmp_path_factory.mktemp("desk")
    home = root / "kofu-excel (R2)"
    write_launchers(home, "posix")
    shutil.copyfile(SAMPLES / "passwords.txt", home / "パスワード.txt")
    shutil.copytree(SAMPLES / "inbox", root / HOSTILE)
    return root


def desk_env(**extra: str) -> dict[str, str]:
    """The environment of a launcher run by a test: this Python, no waiting, nothing opened."""
    return {**os.environ, "KOFU_PYTHON": sys.executable, "KOFU_NO_WAIT": "1", "KOFU_NO_OPEN": "1", **extra}


def launch(desk: Path, name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = desk_env()
    return subprocess.run(["sh", str(desk / "kofu-excel (R2)" / f"{name}.sh"), *args], cwd=cwd or desk, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=600, stdin=subprocess.DEVNULL)


def outputs(folder: Path, prefix: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(prefix))


def test_sh_merge_and_advise_launchers_end_to_end(desk):
    res = launch(desk, "とりまとめ", str(desk / HOSTILE))
    assert res.returncode == 1, res.stdout + res.stderr
    [summary] = outputs(desk, "とりまとめ_")
    assert re.fullmatch(r"とりまとめ_\d{8}_\d{4}\.xlsx", summary.name)
    assert "終了コード 1" in res.stdout and "受理できないファイルがあります" in res.stdout
    wb = openpyxl.load_workbook(summary, read_only=True)
    assert "取込記録" in wb.sheetnames
    wb.close()
    assert "E102" not in res.stdout  # the password list beside the launcher was used

    res = launch(desk, "助言文書", str(summary))
    assert res.returncode == 0, res.stdout + res.stderr
    [letters] = outputs(desk, "助言文書_")
    assert letters.is_dir() and any(letters.glob("*.docx"))
    assert "正常に終わりました（終了コード 0" in res.stdout


def test_sh_validate_launcher_writes_the_report_and_copies_beside_the_folder(desk):
    res = launch(desk, "確認", str(desk / HOSTILE / "計画"))
    assert res.returncode == 1, res.stdout + res.stderr
    [report] = outputs(desk / HOSTILE, "確認結果_")
    [copies] = outputs(desk / HOSTILE, "差戻し_")
    assert report.is_file() and [p.name for p in copies.iterdir()] == ["313289_智頭町_交付円滑化計画_確認結果.xlsx"]
    assert "誤りのあるブックがあります" in res.stdout


def test_sh_template_launcher_uses_the_settings_file(desk):
    settings = desk / "kofu-excel (R2)" / "設定.txt"
    res = launch(desk, "様式作成")
    assert res.returncode == 2 and "都道府県=" in res.stdout  # not set yet: says where to set it
    settings.write_text("都道府県=31\n", encoding="utf-8")
    try:
        res = launch(desk, "様式作成")
    finally:
        settings.write_text(launchers.SETTINGS_TEXT, encoding="utf-8")
    assert res.returncode == 0, res.stdout + res.stderr
    [forms] = outputs(desk / "kofu-excel (R2)", "様式_")
    assert len(list(forms.glob("*_交付円滑化計画.xlsx"))) == len(list(forms.glob("*_実績報告.xlsx"))) == 19


def test_sh_launchers_without_a_drop_or_with_the_wrong_thing_say_what_to_drop(desk):
    res = launch(desk, "とりまとめ")
    assert res.returncode == 2 and "ドラッグ＆ドロップしてください" in res.stdout
    res = launch(desk, "とりまとめ", str(SAMPLES / "passwords.txt"))
    assert res.returncode == 2 and "フォルダをドロップしてください" in res.stdout
    res = launch(desk, "助言文書", str(desk / HOSTILE))
    assert res.returncode == 2 and "ファイルをドロップしてください" in res.stdout


def test_a_launcher_never_imports_code_from_the_folder_it_is_started_in(desk, tmp_path):
    (tmp_path / "kofu_excel").mkdir()
    (tmp_path / "kofu_excel" / "__init__.py").write_text("raise SystemExit(99)\n", encoding="utf-8")
    res = launch(desk, "とりまとめ", cwd=tmp_path)
    assert res.returncode == 2 and "ドラッグ＆ドロップしてください" in res.stdout


def test_the_exit_status_is_explained_in_japanese():
    merge = BY_NAME["とりまとめ"]
    assert "終了コード 0" in launchers.meaning(merge, 0)
    assert "終了コード 1" in launchers.meaning(merge, 1) and "取込記録" in launchers.meaning(merge, 1)
    assert "出力は作っていません" in launchers.meaning(merge, 2)
    assert "中断" in launchers.meaning(merge, 130)
    assert "中断" in launchers.meaning(merge, 143) and "終了コード 143" in launchers.meaning(merge, 143)
    assert "予期しない終了コード 7" in launchers.meaning(merge, 7)


def test_sh_kofu_gamen_launcher_starts_the_page_and_ctrl_c_stops_it_cleanly(desk, tmp_path):
    """kofu画面: nothing to drop; the page answers at the URL printed first; Ctrl-C (SIGINT to
    the console's process group) stops it, and the launcher explains that the page was closed."""
    import signal
    import urllib.request

    env = desk_env(HOME=str(tmp_path), USERPROFILE=str(tmp_path))  # the workspace under it
    proc = subprocess.Popen(["sh", str(desk / "kofu-excel (R2)" / "kofu画面.sh")], cwd=desk, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True, encoding="utf-8", start_new_session=True)
    try:
        url = ""
        seen = []
        for line in proc.stdout:  # type: ignore[union-attr]
            seen.append(line)
            if line.startswith("http://127.0.0.1:"):
                url = line.strip()
                break
        assert url, "".join(seen)
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200 and "とりまとめ" in page.read().decode("utf-8")
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.stdout.read()  # type: ignore[union-attr]
        assert proc.wait(timeout=60) == 0, "".join(seen) + rest
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out = "".join(seen) + rest
    assert "画面を終了しました（終了コード 0）" in out and "Traceback" not in out
