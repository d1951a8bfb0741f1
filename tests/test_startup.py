"""Start-up stays instant: the console scripts import no heavy library until a command runs.

Checked on sys.modules (not by timing): a fresh interpreter runs ``kofu-X --help`` (and a usage
mistake) through the console entry and reports what got imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

HEAVY = ("pandas", "pandera", "numpy", "openpyxl", "jinja2", "docx", "xlsxwriter", "flask",
         "waitress", "python_calamine", "msoffcrypto", "pyzipper", "defusedxml", "olefile",
         "hypothesis")

PROBE = """
import json, sys
sys.argv = [{name!r}] + {args!r}
from kofu_excel.cli import entry
try:
    getattr(entry, {func!r})()
except SystemExit as exc:
    status = exc.code
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
print(json.dumps({{"status": status, "heavy": heavy}}), file=sys.stderr)
"""


def _probe(name: str, func: str, args: list[str]) -> dict:
    code = PROBE.format(name=name, func=func, args=args, heavy=HEAVY)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         encoding="utf-8", timeout=120)
    return json.loads(res.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(("name", "func", "args"), [
    ("kofu", "kofu", ["--help"]),
    ("kofu", "kofu", ["merge", "--help"]),
    ("kofu-merge", "kofu_merge", ["--help"]),
    ("kofu-validate", "kofu_validate", ["--help"]),
    ("kofu-template", "kofu_template", ["--help"]),
    ("kofu-advise", "kofu_advise", ["--help"]),
])
def test_help_imports_no_heavy_library(name, func, args):
    got = _probe(name, func, args)
    assert got == {"status": 0, "heavy": []}


def test_a_usage_mistake_is_answered_before_any_heavy_import():
    got = _probe("kofu-merge", "kofu_merge", ["受信なし/", "-o", "x.xlsx"])
    assert got == {"status": 2, "heavy": []}


def test_importing_the_cli_group_imports_no_heavy_library():
    code = ("import sys, kofu_excel.cli.group; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "[]", res.stderr


def test_advise_offers_exactly_the_letter_formats():
    from kofu_excel import letters
    from kofu_excel.cli import advise

    assert advise.FORMATS == letters.FORMATS


def test_validating_loads_neither_hypothesis_nor_pytest_and_leaves_hypothesis_importable():
    """pandera imports hypothesis when installed (0.6 s, and pytest with it): never needed here."""
    from pathlib import Path

    plans = Path(__file__).resolve().parent.parent / "samples" / "inbox" / "計画"
    code = ("import sys; from kofu_excel.model import BatchOptions; "
            "from kofu_excel.pipeline import load_batch; "
            f"b = load_batch([{str(plans)!r}], BatchOptions()); "
            "assert sum(x.status == 'valid' for x in b.books) > 10; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'hypothesis', 'pytest'})); "
            "import hypothesis.strategies")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (res.returncode, res.stdout.strip()) == (0, "[]"), res.stderr[-2000:]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1_048_575), st.integers(0, 16_383), st.integers(0, 3), st.integers(0, 3))
def test_cell_addresses_are_xlsxwriters(row, col, dr, dc):
    """cells.py spells and parses addresses itself (no xlsxwriter import for readers): the same
    results as xlsxwriter.utility."""
    from xlsxwriter import utility as u

    from kofu_excel import cells

    ref = u.xl_rowcol_to_cell(row, col)
    assert cells.a1(row, col) == ref and cells.col_name(col) == u.xl_col_to_name(col)
    assert cells.rowcol(ref) == u.xl_cell_to_rowcol(ref) == (row, col)
    assert cells.rowcol(u.xl_rowcol_to_cell(row, col, True, True)) == (row, col)
    want = f"={u.quote_sheetname('基本 情報')}!{u.xl_range_abs(row, col, row + dr, col + dc)}"
    assert cells.range_ref("基本 情報", row, col, row + dr, col + dc) == want


def test_reading_imports_no_writer():
    """The reading workers and the pre-scan import neither xlsxwriter nor pandas (~60 ms and
    ~0.5 s a spawned worker would pay for nothing)."""
    code = ("import sys, kofu_excel.pipeline.pool, kofu_excel.formats; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'xlsxwriter', 'pandas', 'openpyxl'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
