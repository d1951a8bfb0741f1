"""Shared fixtures: the built-in reference data and sample workbooks made by ``kofu sample``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kofu_excel.demo.sample import SampleResult, make_samples
from kofu_excel.refdata import load_master, load_schedule


@pytest.fixture(scope="session")
def master():
    return load_master(None)


@pytest.fixture(scope="session")
def schedule():
    return load_schedule(None)


@pytest.fixture(scope="session")
def make_sample(tmp_path_factory, master, schedule) -> Callable[..., SampleResult]:
    """make_sample(kind, **options) → SampleResult, cached per option set for the session."""
    cache: dict[tuple, SampleResult] = {}

    def make(kind: str = "plan", **opts) -> SampleResult:
        key = (kind, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in opts.items())))
        if key not in cache:
            out = tmp_path_factory.mktemp(f"sample-{kind}")
            cache[key] = make_samples(kind, out, master=master, schedule=schedule, **opts)
        return cache[key]

    return make


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def require_soffice() -> str:
    """LibreOffice tests skip only where it is truly absent — never in CI."""
    exe = soffice()
    if exe is None:
        if os.environ.get("KOFU_REQUIRE_LIBREOFFICE") or os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is required here but not installed")
        pytest.skip("LibreOffice (soffice) not installed")
    return exe


def convert(src: Path, fmt: str, out_dir: Path) -> Path:
    """Convert with headless LibreOffice (own profile dir, so parallel runs don't clash)."""
    import subprocess

    exe = require_soffice()
    profile = out_dir / ".lo-profile"
    subprocess.run(
        [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", fmt,
         "--outdir", str(out_dir), str(src)],
        check=True, capture_output=True, timeout=180,
    )
    out = out_dir / (src.stem + "." + fmt.split(":")[0])
    assert out.exists(), f"LibreOffice did not write {out}"
    return out


def data_rows(path: Path) -> list[tuple]:
    """The rows of a summary's データ sheet (below the header), read with openpyxl."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return [tuple(r) for r in wb["データ"].iter_rows(min_row=2, values_only=True)]
    finally:
        wb.close()


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def require_chromium() -> tuple[str, str]:
    """Debian's chromium and chromium-driver for the browser tests: skip only where they are truly
    absent — never in CI (.ci/run installs them and sets KOFU_REQUIRE_CHROMIUM=1)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        if os.environ.get("KOFU_REQUIRE_CHROMIUM") or os.environ.get("CI"):
            pytest.fail(f"chromium and chromium-driver are required here but missing: {missing}")
        pytest.skip(f"chromium / chromium-driver not installed: {missing}")
    return CHROMIUM, CHROMEDRIVER
