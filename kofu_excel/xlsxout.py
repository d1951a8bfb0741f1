"""Safe, deterministic xlsx output shared by every writer (templates, report, summary).

- Text is written as text, never as a formula or link: the workbook is opened with
  ``strings_to_formulas=False, strings_to_urls=False`` and text that a spreadsheet would treat
  as a formula if re-entered (``= + - @``, tab, CR, full-width ``＝＋－＠``) gets a quote prefix
  (OWASP ASVS 1.2.10).
- Outputs go to a temporary file in the same folder, are fsynced and renamed, so a crash or
  Ctrl-C leaves the earlier output intact; the temp file a killed run leaves behind is removed
  by the next write of the same output.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from .findings import KofuError
from .forms import FORM_DATE
from .oserrors import describe

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
MAX_TEXT = 32767
FIXED_CREATED = datetime.fromisoformat(FORM_DATE)
TEMP_PREFIX = ".kofu-tmp-"


def new_workbook(target: BytesIO, title: str = "") -> xlsxwriter.Workbook:
    wb = xlsxwriter.Workbook(
        target,
        {
            "in_memory": True,  # no temp files: the default mode costs seconds of system time per batch
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    # Fixed dates: the same inputs give the same bytes.
    wb.set_properties({"title": title, "author": "kofu-excel", "created": FIXED_CREATED})
    return wb


class ClassicFormulaSheet(Worksheet):
    """A worksheet for formulas that use only classic functions (SUM, IF, ROUND…).

    xlsxwriter runs ~35 regex substitutions on every formula to prefix Excel 365 functions with
    _xlfn.; a template has ~60 formulas, and this was a fifth of writing one. Our formulas are
    fixed by the form definition and use none of those functions.
    """

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        return formula[1:] if formula.startswith("=") else formula


class Styles:
    """Formats of one workbook, created once per distinct property set."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.wb = wb
        self._cache: dict[tuple[tuple[str, Any], ...], Format] = {}

    def __call__(self, **props: Any) -> Format:
        key = tuple(sorted(props.items()))
        fmt = self._cache.get(key)
        if fmt is None:
            fmt = self._cache[key] = self.wb.add_format({"font_name": "游ゴシック", **props})
        return fmt


def needs_quote(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def write_text(ws: Worksheet, row: int, col: int, text: str, styles: Styles, **props: Any) -> None:
    """Write untrusted text as plain text (quote-prefixed where a formula could be re-entered)."""
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    if needs_quote(text):
        props["quote_prefix"] = True
    rc = ws.write_string(row, col, text, styles(**props) if props else None)
    if rc < 0:  # xlsxwriter reports problems by return code, not exception
        raise KofuError("E902", f"セル {row + 1}行{col + 1}列 に文字列を書き込めませんでした（コード {rc}）")


def write_title(ws: Worksheet, text: str, styles: Styles, row: int = 0) -> None:
    """A sheet's title line: 14 pt bold, with the row made tall enough for it (LibreOffice
    does not grow a row for a larger font by itself and clips the text)."""
    ws.set_row(row, 24)
    write_text(ws, row, 0, text, styles, bold=True, font_size=14)


def write_value(ws: Worksheet, row: int, col: int, value: Any, styles: Styles, **props: Any) -> None:
    """Write a cell value by its type — never through xlsxwriter's guessing ``write()``."""
    if value is None:
        if props:
            ws.write_blank(row, col, None, styles(**props))
        return
    if isinstance(value, bool):
        write_text(ws, row, col, "はい" if value else "いいえ", styles, **props)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, styles(**props) if props else None)
    elif isinstance(value, datetime):
        ws.write_datetime(row, col, value, styles(**{"num_format": "yyyy/m/d", **props}))
    elif isinstance(value, date):
        ws.write_datetime(row, col, datetime(value.year, value.month, value.day),
                          styles(**{"num_format": "yyyy/m/d", **props}))
    else:
        write_text(ws, row, col, str(value), styles, **props)


class _FastZipInfo(zipfile.ZipInfo):
    """Zip members deflated at level 1: for a summary with a 100 MB data sheet, zlib's default
    level costs more than writing the rows (measured: 0.85 s of 2.0 s for 1,741 municipalities)
    for a file only ~35 % smaller."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._compresslevel = 1


def build_xlsx(build: Callable[[xlsxwriter.Workbook, Styles], None], title: str = "",
               fast_deflate: bool = False) -> bytes:
    buf = BytesIO()
    wb = new_workbook(buf, title)
    build(wb, Styles(wb))
    if fast_deflate:
        # xlsxwriter offers no compression option; it builds each member's ZipInfo itself.
        with _patched(xlsxwriter.workbook, "ZipInfo", _FastZipInfo):
            wb.close()
    else:
        wb.close()
    return buf.getvalue()


@contextlib.contextmanager
def _patched(module: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def temp_path(path: Path) -> Path:
    """The one temp file of an output, named after it: a run killed while writing leaves it
    behind, and the next write of the same output removes it (no directory listing, which
    would cost seconds when kofu-template writes 1,741 workbooks into one folder)."""
    tag = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]
    return path.with_name(f"{TEMP_PREFIX}{tag}{path.suffix}")


@contextlib.contextmanager
def _temp_beside(path: Path) -> Iterator[Path]:
    tmp_path = temp_path(path)
    with contextlib.suppress(FileNotFoundError):
        tmp_path.unlink()  # stale: left by a run killed while writing this output
    # Created exclusively (never through a planted link), with the usual permissions.
    os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    try:
        yield tmp_path
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes to ``path`` via a temp file + fsync + rename: all or nothing."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _temp_beside(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    except PermissionError as exc:
        raise KofuError(
            "E901",
            f"{path} に書き込めません。Excel 等で開いている場合は閉じてから再実行してください"
            f"（{describe(exc)}）",
        ) from None
    except OSError as exc:
        raise KofuError("E901", f"{path} に書き込めません（{describe(exc)}）") from None
