"""Advice (助言) and reminder (督促) letters rendered from a summary workbook (kofu-advise).

Data flows one way: the summary's 指摘事項 and 未提出 sheets (:mod:`.source`) → :class:`Letter`
records (:mod:`.build`: facts only) → Jinja templates (:mod:`.render`: all the wording and
layout, ``templates/``) → md / html / docx bytes (:mod:`.docx`) → files written atomically.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

from ..findings import KofuError
from ..names import fit_path
from ..refdata import Master, ReviewConfig, load_config, load_master
from ..write.atomic import write_atomic
from ..write.guard import InputFiles
from .build import (
    DEFAULT_DUE_DAYS,
    KIND_WORDS,
    Entry,
    Item,
    Letter,
    build_advice,
    build_reminders,
    next_open_day,
)
from .docx import docx_bytes
from .render import make_environment, render_template
from .source import FINDINGS_HEADER, MISSING_HEADER, MissingRow, Summary, SummaryRow, read_summary

__all__ = [
    "FINDINGS_HEADER",
    "FORMATS",
    "MISSING_HEADER",
    "Entry",
    "Item",
    "Letter",
    "LetterFile",
    "LettersResult",
    "MissingRow",
    "Summary",
    "SummaryRow",
    "build_advice",
    "build_reminders",
    "make_environment",
    "read_summary",
    "render_letters",
]

E_OPTION = "E603"  # a bad option value (format, date)
FORMATS = ("docx", "html", "md")


@dataclass(frozen=True)
class LetterFile:
    muni_code: str
    muni_name: str
    path: Path
    doc_number: str
    items: int
    urgent: bool

    def to_json(self) -> dict[str, Any]:
        return {"muni_code": self.muni_code, "muni_name": self.muni_name, "path": str(self.path),
                "doc_number": self.doc_number, "items": self.items, "urgent": self.urgent}


@dataclass
class LettersResult:
    kind: str  # advice | reminder
    fmt: str
    out_dir: Path
    date: str  # ISO date on the letters
    letters: list[LetterFile] = dc_field(default_factory=list)
    combined: Path | None = None  # all letters in one file, for printing

    @property
    def files(self) -> list[Path]:
        return [f.path for f in self.letters] + ([self.combined] if self.combined else [])

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": self.fmt, "output": str(self.out_dir),
                "date": self.date, "letters": [f.to_json() for f in self.letters],
                "combined": str(self.combined) if self.combined else None}


def _as_date(v: dt.date | str | None, what: str) -> dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v).strip())
    except ValueError:
        raise KofuError(E_OPTION, f"{what}「{v}」は YYYY-MM-DD（例: 2020-04-10）で指定してください") from None


def render_letters(
    summary_path: str | Path,
    out_dir: str | Path,
    fmt: str = "docx",
    templates_dir: str | Path | None = None,
    config: ReviewConfig | str | Path | None = None,
    missing: bool = False,
    munis: Sequence[str] = (),
    date: dt.date | str | None = None,
    master: Master | None = None,
    due: dt.date | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LettersResult:
    """Write one letter per municipality that needs one, plus one combined file for printing.

    ``missing=False``: advice letters (助言) from the review findings and rejected workbooks;
    ``missing=True``: reminders (督促) to those with a form not submitted. ``munis``: only these
    municipalities (codes or names, as the master resolves them). ``date``: the date on
    the letters (default: ``[letters] date`` of the config, else today); ``due``: the reminder's
    deadline (default: 7 days later, moved to an open day). Nothing is written when a template
    fails: every letter is rendered before the first file is written. ``progress(done, total)``
    is called as letters are rendered.
    """
    if fmt not in FORMATS:
        raise KofuError(E_OPTION, f"形式「{fmt}」は使えません（{' / '.join(FORMATS)}）")
    cfg = config if isinstance(config, ReviewConfig) else load_config(config)
    master = master or load_master(None)
    when = _as_date(date, "日付") or _as_date(cfg.letters.get("date"), "設定の日付") or dt.date.today()
    summary = read_summary(summary_path)
    kind = "reminder" if missing else "advice"
    # --muni takes codes or names as kofu-template does (E504 for one the master lacks)
    codes = [m.code for m in master.select(munis=munis)] if munis else []
    if kind == "advice":
        letters = build_advice(summary, master, cfg, when, codes)
    else:
        deadline = _as_date(due, "提出期限") or next_open_day(when + dt.timedelta(days=DEFAULT_DUE_DAYS))
        letters = build_reminders(summary, master, cfg, when, deadline, codes)
    out = Path(out_dir)
    result = LettersResult(kind, fmt, out, when.isoformat())
    if not letters:
        return result

    env = make_environment(templates_dir, fmt)
    name = f"{kind}.{fmt}.j2"

    def render(batch: list[Letter], combined: bool) -> bytes:
        text = render_template(env, name, {"letters": batch, "combined": combined})
        if fmt == "docx":
            title = f"マイナンバーカード交付円滑化計画（{KIND_WORDS[kind]}）"
            return docx_bytes(text, title, when, name)
        return text.encode("utf-8")

    outputs: list[tuple[Path, bytes, Letter]] = []
    for i, lt in enumerate(letters):
        outputs.append((fit_path(out, f"{lt.file_stem}.{fmt}"), render([lt], False), lt))
        if progress is not None:
            progress(i + 1, len(letters) + 1)
    combined = (out / f"{KIND_WORDS[kind]}_一括.{fmt}", render(letters, True))
    if progress is not None:
        progress(len(letters) + 1, len(letters) + 1)
    # Before the first file: no letter replaces an input (the summary, a template, the config)
    # or anything but a regular file (E903 / E904).
    inputs = InputFiles([summary_path], walk=False)
    inputs.add(templates_dir, config if not isinstance(config, ReviewConfig) else None)
    inputs.refuse([*(path for path, _data, _lt in outputs), combined[0]])
    for path, data, lt in outputs:
        write_atomic(path, data)
        result.letters.append(LetterFile(lt.muni_code, lt.muni_name, path, lt.doc_number,
                                         len(lt.items), lt.urgent))
    write_atomic(*combined)
    result.combined = combined[0]
    return result
