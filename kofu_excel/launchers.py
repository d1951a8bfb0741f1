"""Double-click use: the launchers (とりまとめ, 確認, 様式作成, 助言文書, kofu画面), defined once.

:data:`LAUNCHERS` is the one definition. From it come

- the Windows launchers ``<名前>.cmd`` (cp932, CRLF) and the POSIX ones ``<名前>.sh``
  (:func:`render_cmd`, :func:`render_sh`, :func:`write_launchers`): both only find the
  dropped path and the bundle's Python, then run ``python -m kofu_excel.launchers <名前>``;
- that runner (:func:`run`), shared by both: it works out the output next to the dropped
  folder with the date and time in its name, runs the kofu command(s) with an argument list
  (no shell, so no quoting rules apply past the launcher), opens the output, says in Japanese
  what happened and what the exit status means.

So the only platform-specific code is a few lines per launcher, and the rest is tested here
end to end through the ``.sh`` launchers.

The ``.cmd`` files, and why they look the way they do:

- **Code page.** The file is cp932 and starts with ASCII-only lines that save the console's
  code page and switch to 932 (``chcp 932``); cmd reads a batch file line by line in the code
  page current at that moment, so the Japanese lines after it parse correctly even where the
  console had been switched to 65001 (UTF-8) or the PC uses the "UTF-8 for worldwide language
  support" setting. The old code page is restored at the end (ASCII-only lines again). Paths
  themselves never go through the code page: cmd keeps ``%1`` and variables as UTF-16 and
  hands them to Python as such, so even 𠮷 in a folder name arrives intact.
- **The dropped path.** Explorer quotes a dropped path only when it contains a space, so
  ``C:\\受信\\R2(4月)&5月`` would be cut at ``&`` (and ``^`` eaten, ``%PATH%`` expanded) on
  the way to ``%1``. The launcher reads it instead from the raw ``%cmdcmdline%`` (with
  delayed expansion on for those lines only, where values are never re-parsed), hands it out
  of that ``setlocal`` through a ``for`` variable, and ends with ``exit`` (not ``exit /b``)
  so that the remainder of a cut command line is never run. Started from a console instead,
  it uses ``%~f1`` as typed.
- **Isolation.** Python runs with ``-I``: the current folder (where a drop may start it, even
  an inbox of attachments) is never on ``sys.path``, nor are PYTHON* variables read.
- **Quoting.** Delayed expansion is off wherever a path is expanded (so ``!`` stays), every
  path is expanded inside double quotes (so ``&``, ``^``, ``(``, ``)``, spaces are literal;
  ``%`` inside a value is never expanded twice), and no path is expanded inside a
  parenthesised block. A trailing backslash (a dropped drive, ``%~dp0``) is followed by ``.``
  so that ``\\"`` never escapes the closing quote for Python's argument parser.

Environment for tests and for people who run them by hand: ``KOFU_PYTHON`` (the Python to
use instead of the bundle's ``.venv``), ``KOFU_NO_WAIT`` (do not wait for a key),
``KOFU_NO_OPEN`` (do not open the output).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SETTINGS = "設定.txt"
PASSWORDS = "パスワード.txt"
SETTINGS_TEXT = """\
# kofu-excel の起動用ファイル（様式作成など）の設定です。「#」で始まる行は説明です。
# 都道府県：様式作成で様式を作る都道府県を、都道府県コード（2桁の数字。例：鳥取県は 31）で書きます。
都道府県=
"""


@dataclass(frozen=True)
class Step:
    """One kofu command: the script name and its arguments as groups of tokens.

    Tokens may name ``{input}`` (the dropped path), ``{output}`` (the launcher's output, next
    to the dropped item), ``{annotate}`` (差戻し_<stamp> beside it), ``{stamp}`` (date and
    time), ``{pref}`` (from the settings) and ``{passwords}`` (パスワード.txt if there is one).
    A group with ``{passwords}`` is left out when there is no password file.
    """

    command: str
    args: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Launcher:
    name: str  # the file name (とりまとめ → とりまとめ.cmd / とりまとめ.sh)
    what: str  # what it does, said to the user
    drop: str  # "folder", "file", "any" or "" (nothing to drop)
    output: str  # the output's name next to the dropped item (or the launchers), with {stamp}; "" for none
    steps: tuple[Step, ...]
    some_bad: str  # what exit status 1 means for this launcher
    ok: str = ""  # what exit status 0 means, when not "all accepted" (kofu画面: the page was closed)

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(s.command for s in self.steps)


LAUNCHERS: tuple[Launcher, ...] = (
    Launcher(
        "とりまとめ", "受信したメール・ファイルのフォルダから、とりまとめ表を作ります", "folder",
        "とりまとめ_{stamp}.xlsx",
        (Step("kofu-merge", (("{input}",), ("--passwords", "{passwords}"), ("-o", "{output}"))),),
        "とりまとめ表は作りましたが、受理できないファイルがあります（画面の「不受理」と、とりまとめ表の"
        "「取込記録」シートを確認してください）",
    ),
    Launcher(
        "確認", "返ってきたブック（フォルダ・ファイル）を確認し、確認結果と差し戻し用のブックを作ります", "any",
        "確認結果_{stamp}.xlsx",
        (Step("kofu-validate", (("{input}",), ("--passwords", "{passwords}"), ("--report", "{output}"),
                                ("--annotate", "{annotate}"))),),
        "誤りのあるブックがあります（確認結果のブックと、差戻し_… フォルダの差し戻し用のブックを確認してください）",
    ),
    Launcher(
        "様式作成", "設定.txt の都道府県の市区町村ごとに、提出様式（計画・実績報告）を作ります", "",
        "様式_{stamp}",
        (Step("kofu-template", (("--kind", "plan"), ("--pref", "{pref}"), ("-o", "{output}"))),
         Step("kofu-template", (("--kind", "monthly"), ("--pref", "{pref}"), ("-o", "{output}")))),
        "様式の一部を作れませんでした（画面のメッセージを確認してください）",
    ),
    Launcher(
        "助言文書", "とりまとめ表から、市区町村あての助言文書（Word）を作ります", "file",
        "助言文書_{stamp}",
        (Step("kofu-advise", (("{input}",), ("-o", "{output}"))),),
        "文書の一部を作れませんでした（画面のメッセージを確認してください）",
    ),
    Launcher(
        "kofu画面", "ブラウザの画面で、とりまとめ・確認・文書の作成を行います（このパソコンの中だけで動きます）。"
        "ブラウザが開きます。終わるときは、この黒い画面で Ctrl+C を押してください", "",
        "",
        (Step("kofu", (("serve",),)),),
        "画面を起動できませんでした（上のメッセージを確認してください）",
        ok="画面を終了しました（終了コード 0）。これまでの結果は作業フォルダに残っています。",
    ),
)
BY_NAME = {lc.name: lc for lc in LAUNCHERS}
OPTIONAL = frozenset({"passwords"})

MEANINGS = {
    0: "正常に終わりました（終了コード 0：すべて受理・問題なし）。",
    2: "実行できませんでした（終了コード 2：E で始まるコードのメッセージを確認してください。出力は作っていません）。",
    130: "中断しました（終了コード 130：出力は変更していません）。",
    143: "中断しました（終了コード 143：終了の要求を受けました。出力は変更していません）。",
}


def meaning(launcher: Launcher, rc: int) -> str:
    """What an exit status means, in Japanese, for this launcher."""
    if rc == 0 and launcher.ok:
        return launcher.ok
    if rc == 1:
        return f"終わりました（終了コード 1）。{launcher.some_bad}。"
    return MEANINGS.get(rc, f"予期しない終了コード {rc} で終わりました（画面のメッセージを確認してください）。")


# --- the runner (both platforms) -------------------------------------------------------------

def read_settings(home: Path) -> dict[str, str]:
    """``key=value`` lines of 設定.txt (UTF-8 with or without BOM, or cp932 from old Notepad)."""
    path = home / SETTINGS
    if not path.is_file():
        return {}
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp932", errors="replace")
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _command(script: str) -> list[str]:
    """The console script beside this Python (the bundle's .venv), else the same entry point."""
    folder = Path(sys.executable).parent
    for name in (script + ".exe", script):
        if (folder / name).is_file():
            return [str(folder / name)]
    func = script.replace("-", "_")
    return [sys.executable, "-c", f"import sys; sys.argv[0] = {script!r}; "
            f"from kofu_excel.cli.entry import {func}; {func}()"]


class MissingSetting(Exception):
    """A token the launcher needs is not set (the prefecture in 設定.txt)."""


def plan(launcher: Launcher, target: Path | None, home: Path,
         now: dt.datetime) -> tuple[Path | None, list[list[str]]]:
    """The output (None for a launcher without one) and the command lines (script name first)
    for one use of a launcher."""
    here = target.parent if target is not None else home
    stamp = now.strftime("%Y%m%d_%H%M")
    output = here / launcher.output.format(stamp=stamp) if launcher.output else None
    passwords = None
    candidates = [target / PASSWORDS] if target is not None and target.is_dir() else []
    for candidate in [*candidates, home / PASSWORDS]:
        if candidate.is_file():
            passwords = candidate
            break
    values = {"input": str(target) if target is not None else None,
              "output": str(output) if output is not None else None,
              "annotate": str(here / f"差戻し_{stamp}"), "stamp": stamp,
              "pref": read_settings(home).get("都道府県") or None,
              "passwords": str(passwords) if passwords else None}
    known = {k: v for k, v in values.items() if v is not None}
    lines = []
    for step in launcher.steps:
        args = [step.command]
        for group in step.args:
            try:
                args += [tok.format(**known) for tok in group]
            except KeyError as exc:
                if exc.args[0] in OPTIONAL:
                    continue
                raise MissingSetting(exc.args[0]) from None
        lines.append(args)
    return output, lines


def _say(text: str = "") -> None:
    print(text, flush=True)


def open_output(path: Path) -> None:
    """The summary in Excel, the folder of letters in Explorer (or the desktop's opener)."""
    if os.environ.get("KOFU_NO_OPEN"):
        return
    try:
        if sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined]
        elif sys.platform == "darwin":
            subprocess.Popen(["open", str(path)])
        elif shutil.which("xdg-open") and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            subprocess.Popen(["xdg-open", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        _say(f"出力を開けませんでした。自分で開いてください：{path}")


def _wait(proc: subprocess.Popen[bytes]) -> int:
    """The command's exit status. A Ctrl-C reaches the command too (the same console), which
    says E990 itself and exits 130: the runner only waits for that, adding nothing."""
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def run(name: str, target: str | None, home: str | Path, now: dt.datetime | None = None) -> int:
    """One use of a launcher: check the dropped item, run the command(s), open, explain."""
    from .cli import console

    console.setup()
    launcher = BY_NAME[name]
    home = Path(home).resolve()
    _say(f"【{launcher.name}】{launcher.what}")
    path = Path(os.path.abspath(target)) if target else None
    wanted = {"folder": "フォルダ", "file": "ファイル", "any": "フォルダまたはファイル"}.get(launcher.drop, "")
    if launcher.drop and path is None:
        _say(f"{wanted}を、この「{launcher.name}」のアイコンの上にドラッグ＆ドロップしてください。")
        return 2
    if path is not None and launcher.drop:
        if not path.exists():
            _say(f"ドロップされたものが見つかりません：{path}")
            return 2
        if (launcher.drop == "folder" and not path.is_dir()) or (launcher.drop == "file" and path.is_dir()):
            _say(f"{wanted}をドロップしてください（ドロップされたもの：{path}）")
            return 2
    if not launcher.drop:
        path = None
    try:
        output, lines = plan(launcher, path, home, now or dt.datetime.now())
    except MissingSetting:
        _say(f"{home / SETTINGS} の「都道府県=」に都道府県コード（例：鳥取県は 31）を書いてから、"
             "もう一度実行してください。")
        return 2
    rc = 0
    for line in lines:
        _say("実行：" + " ".join(f'"{a}"' if " " in a else a for a in line))
        code = _wait(subprocess.Popen([*_command(line[0]), *line[1:]]))
        rc = code if code not in (0, 1) else max(rc, code)  # 2, 130 …: stop at the first
        if rc not in (0, 1):
            break
    _say()
    _say(meaning(launcher, rc))
    if rc in (0, 1) and output is not None and output.exists():
        _say(f"出力：{output}")
        open_output(output)
    return rc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kofu_excel.launchers",
                                     description="起動用ファイル（.cmd / .sh）から呼ばれます。--write で起動用ファイルを作ります。")
    parser.add_argument("name", nargs="?", choices=sorted(BY_NAME))
    parser.add_argument("--target", help="ドロップされたフォルダ・ファイル（--target=PATH と書く）")
    parser.add_argument("--home", default=".", help="起動用ファイルのあるフォルダ")
    parser.add_argument("--write", metavar="DIR", help="起動用ファイルをこのフォルダに作る")
    parser.add_argument("--platform", choices=("windows", "posix"), default="windows" if os.name == "nt" else "posix")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_launchers(args.write, args.platform):
            print(path)
        return 0
    if args.name is None:
        parser.error("起動用ファイルの名前を指定してください")
    try:
        return run(args.name, args.target, args.home)
    except KeyboardInterrupt:
        print("E990: 中断しました（出力ファイルは変更していません）", file=sys.stderr)
        return 130


# --- the launcher files ------------------------------------------------------------------------

CMD_HEAD = r"""@echo off
rem kofu-excel launcher, generated by kofu_excel/launchers.py (edit that, not this file).
rem The lines up to chcp are ASCII: cmd reads each line in the code page current then.
setlocal DisableDelayedExpansion
set "KOFU_CP="
for /f "tokens=2 delims=:." %%c in ('chcp') do set "KOFU_CP=%%c"
chcp 932 >nul
"""

CMD_FIND_PYTHON = """\
set "KOFU_PY=%~dp0.venv\\Scripts\\python.exe"
if defined KOFU_PYTHON set "KOFU_PY=%KOFU_PYTHON%"
if exist "%KOFU_PY%" goto :python_ok
echo kofu-excel がインストールされていません。先に install.cmd をダブルクリックしてください。
set "KOFU_RC=2"
goto :done
:python_ok
"""

CMD_DROPPED = """\
rem ドロップされたパス：Explorer は空白を含まないパスを引用符で囲まないので、アンド記号や山記号を
rem 含むパスは引数では途中で切れる。そのため、元のコマンドライン（cmdcmdline）から取り出す。
set "KOFU_IN="
set "KOFU_FROM_EXPLORER="
if "%~1"=="" goto :have_input
setlocal EnableDelayedExpansion
set "KOFU_LINE=!cmdcmdline!"
if "!KOFU_LINE:%~nx0=!"=="!KOFU_LINE!" goto :from_console
set "KOFU_LINE=!KOFU_LINE:~0,-1!"
set "KOFU_LINE=!KOFU_LINE:*%~nx0" =!"
set "KOFU_LINE=!KOFU_LINE:"=!"
for /f "delims=" %%P in ("!KOFU_LINE!") do endlocal& set "KOFU_IN=%%P"& set "KOFU_FROM_EXPLORER=1"
if not defined KOFU_IN endlocal
goto :have_input
:from_console
endlocal
set "KOFU_IN=%~f1"
:have_input
if not defined KOFU_IN goto :run
if "%KOFU_IN:~-1%"=="\\" set "KOFU_IN=%KOFU_IN%."
"""

CMD_TAIL = """\
set "KOFU_RC=%ERRORLEVEL%"
:done
if not defined KOFU_NO_WAIT pause
if defined KOFU_CP chcp %KOFU_CP% >nul
if defined KOFU_FROM_EXPLORER exit %KOFU_RC%
exit /b %KOFU_RC%
"""


def render_cmd(launcher: Launcher) -> str:
    """The Windows launcher's text (written in cp932 with CRLF by :func:`write_launchers`)."""
    call = f'"%KOFU_PY%" -I -m kofu_excel.launchers {launcher.name} --home "%~dp0."'
    body = [CMD_HEAD, f"rem {launcher.name}：{launcher.what}\n", "title kofu-excel " + launcher.name + "\n",
            CMD_FIND_PYTHON]
    if launcher.drop:
        body.append(CMD_DROPPED)
        body.append(f':run\nif not defined KOFU_IN goto :without_input\n{call} "--target=%KOFU_IN%"\ngoto :ran\n'
                    f":without_input\n{call}\n:ran\n")
    else:
        body.append(f"{call}\n")
    body.append(CMD_TAIL)
    return "".join(body)


SH_TEMPLATE = """\
#!/bin/sh
# kofu-excel launcher, generated by kofu_excel/launchers.py (edit that, not this file).
# {name}：{what}
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
py=${{KOFU_PYTHON:-"$here/.venv/bin/python"}}
if [ ! -x "$py" ]; then
  echo "kofu-excel がインストールされていません。先に install.sh を実行してください。"
  exit 2
fi
if [ $# -gt 0 ]; then set -- "--target=$1"; fi
# Ctrl-C is for the command (it says E990, or kofu serve stops): the launcher itself stays to
# explain the exit status. A trap with a command, not '': children get the default back.
trap : INT
"$py" -I -m kofu_excel.launchers {name} --home "$here" "$@"
rc=$?
if [ -z "${{KOFU_NO_WAIT:-}}" ] && [ -t 0 ]; then
  printf '%s' "Enter キーを押すと閉じます。"
  read -r _ || true
fi
exit $rc
"""


def render_sh(launcher: Launcher) -> str:
    return SH_TEMPLATE.format(name=launcher.name, what=launcher.what)


def write_launchers(folder: str | Path, platform: str) -> list[Path]:
    """Every launcher for ``platform`` ("windows": .cmd in cp932 + CRLF; "posix": .sh, 0755),
    and 設定.txt (only if there is none: it is the user's)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for launcher in LAUNCHERS:
        if platform == "windows":
            path = out / f"{launcher.name}.cmd"
            path.write_bytes(render_cmd(launcher).replace("\n", "\r\n").encode("cp932"))
        else:
            path = out / f"{launcher.name}.sh"
            path.write_bytes(render_sh(launcher).encode("utf-8"))
            path.chmod(0o755)
        written.append(path)
    settings = out / SETTINGS
    if not settings.exists():
        text = SETTINGS_TEXT.replace("\n", "\r\n") if platform == "windows" else SETTINGS_TEXT
        settings.write_bytes(("\ufeff" if platform == "windows" else "").encode("utf-8") + text.encode("utf-8"))
        written.append(settings)
    return written


if __name__ == "__main__":
    sys.exit(main())
