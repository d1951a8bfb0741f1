"""The offline bundle (scripts/build_bundle.py): the Linux one installs with the index switched
off and runs the README's main job; the Windows one builds, all binary wheels.

Building downloads wheels from the package index, so it takes a minute the first time. In CI
(.ci/run sets KOFU_REQUIRE_BUNDLE=1) these tests must run; elsewhere they skip only when the
build cannot reach the index. Both builds of one run share pip's download cache.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kofu_excel.names import safe_name

ROOT = Path(__file__).resolve().parent.parent
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"  # the Linux bundle is for this one


def required() -> bool:
    return bool(os.environ.get("KOFU_REQUIRE_BUNDLE") or os.environ.get("CI"))


@pytest.fixture(scope="session")
def pip_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pip-cache")


def build(out: Path, platform: str, python: str, cache: Path) -> Path:
    res = subprocess.run([sys.executable, str(ROOT / "scripts/build_bundle.py"), "--platform", platform,
                          "--python", python, "-o", str(out), "--pip-cache", str(cache)],
                         capture_output=True, text=True, timeout=1200)
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-5:])
        if required():
            pytest.fail(f"the {platform} bundle must build here:\n{tail}")
        pytest.skip(f"cannot build the bundle here (no package index?):\n{tail}")
    [archive] = out.glob("*.zip")
    return archive


def runtime_requirements() -> set[str]:
    """install_requires of setup.cfg (names, normalised), without those for older Pythons."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    names = set()
    for line in cfg["options"]["install_requires"].strip().splitlines():
        if "python_version <" in line:
            continue
        names.add(re.split(r"[<>=;\s\[]", line.strip(), maxsplit=1)[0].lower().replace("-", "_"))
    return names


def version() -> str:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    return cfg["metadata"]["version"]


def test_the_windows_bundle_is_all_binary_wheels_with_cp932_launchers(tmp_path, pip_cache):
    archive = build(tmp_path, "win_amd64", "3.12", pip_cache)
    top = f"kofu-excel-{version()}-win_amd64/"
    assert archive.name == f"kofu-excel-{version()}-win_amd64.zip"
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        for name in names:  # every name in the bundle is valid on Windows, and stored as UTF-8
            assert all(safe_name(part) == part for part in name.split("/")), name
        assert all(info.flag_bits & 0x800 for info in zf.infolist() if not info.filename.isascii())
        wheels = [n[len(top + "wheels/"):] for n in names if n.startswith(top + "wheels/")]
        assert wheels and all(w.endswith(".whl") for w in wheels), wheels  # no sdist
        have = {w.split("-")[0].lower() for w in wheels}
        assert runtime_requirements() | {"kofu_excel"} <= have
        for binary in ("numpy", "pandas", "python_calamine", "lxml"):
            [wheel] = [w for w in wheels if w.lower().startswith(binary + "-")]
            assert wheel.endswith(("-cp312-win_amd64.whl", "-abi3-win_amd64.whl")), wheel
        for name in ("install.cmd", "とりまとめ.cmd", "確認.cmd", "様式作成.cmd", "助言文書.cmd", "kofu画面.cmd"):
            data = zf.read(top + name)
            assert data.startswith(b"@echo off\r\n") and b"\n" not in data.replace(b"\r\n", b"")
            data.decode("cp932")
        install = zf.read(top + "install.cmd").decode("cp932")
        assert "--no-index --find-links" in install and "py -3.12" in install
        readme = zf.read(top + "はじめにお読みください.txt")
        assert readme.startswith(b"\xef\xbb\xbf") and b"\n" not in readme.replace(b"\r\n", b"")
        text = readme.decode("utf-8-sig")
        for part in ("準備", "python.org", "Microsoft Store", "py -3.12", "install.cmd", "アンインストール"):
            assert part in text


def test_the_linux_bundle_installs_offline_and_runs_the_readme_main_job(tmp_path, pip_cache):
    archive = build(tmp_path / "dist", "linux", PYTHON, pip_cache)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path)
    bundle = tmp_path / archive.stem
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, KOFU_BASE_PYTHON=sys.executable)
    res = subprocess.run(["sh", str(bundle / "install.sh")], env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    venv = bundle / ".venv"
    assert (venv / "bin" / "kofu-merge").exists()

    # The README's main job (its first line, after the install), with the bundle's commands.
    first = next(line for line in _readme_sh_block() if "kofu-merge" in line)
    job = first[first.index(".venv/bin/kofu-merge"):]
    work = tmp_path / "work"
    work.mkdir()
    (work / "samples").symlink_to(ROOT / "samples")
    (work / ".venv").symlink_to(venv)
    res = subprocess.run(["bash", "-c", job], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr  # the last command, kofu-advise
    assert "ファイル 51 件" in res.stdout and "助言文書を作成しました" in res.stdout
    assert (work / "out/summary.xlsx").is_file() and any((work / "out/letters").glob("*.docx"))

    # A launcher of the bundle finds the bundle's own .venv.
    inbox = tmp_path / "受信 (4月)"
    shutil.copytree(ROOT / "samples/inbox", inbox)
    shutil.copyfile(ROOT / "samples/passwords.txt", bundle / "パスワード.txt")
    env.update(KOFU_NO_WAIT="1", KOFU_NO_OPEN="1")
    env.pop("KOFU_PYTHON", None)
    res = subprocess.run(["sh", str(bundle / "とりまとめ.sh"), str(inbox)], env=env, capture_output=True,
                         text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert res.returncode == 1 and "終了コード 1" in res.stdout, res.stdout + res.stderr
    assert list(tmp_path.glob("とりまとめ_*.xlsx"))


def _readme_sh_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```(?:sh|shell|bash)\n(.*?)```", text, re.S)
    assert block
    return block[1].strip().splitlines()


def test_readme_has_a_windows_section_after_the_ci_block():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    ci_block = text.index("```sh\n")
    windows = text.index("## Windows で使う")
    assert ci_block < windows
    section = text[windows:text.index("\n## ", windows + 1)]
    for part in ("scripts/build_bundle.py --platform win_amd64", "install.cmd", "py -3.12 -m venv .venv",
                 r".venv\Scripts\kofu-merge", "PowerShell", "コマンドプロンプト", "とりまとめ.cmd", "確認.cmd",
                 "様式作成.cmd", "助言文書.cmd", "3.10〜3.13"):
        assert part in section, part
