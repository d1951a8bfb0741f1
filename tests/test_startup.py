"""Start-up stays instant: the console scripts import no heavy library until a command runs.

Checked on sys.modules (not by timing): a fresh interpreter runs ``kofu-X --help`` (and a usage
mistake) through the console entry and reports what got imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
