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
from ..stamp import LETTER_MARK
from ..write.atomic import staged
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
    placeholder_keys,
    sender_of,
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
    "placeholder_keys",
    "placeholder_warning",
    "read_summary",
    "render_letters",
    "sender_of",
]

E_OPTION = "E603"  # a bad option value (format, date)
W_PLACEHOLDER = "W601"  # [letters] still holds the built-in placeholders
W_DATE = "W602"  # letters dated today, far from the summary's data date
# Letters dated today (no --date, no [letters] date) are expected within this many days after the
# summary's data date (its latest 提出日): a monthly cycle. Beyond it, or before it, W602.
DATE_DRIFT_DAYS = 45
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
    warnings: list[str] = dc_field(default_factory=list)  # "Wnnn: …" lines for the console

    @property
    def files(self) -> list[Path]:
        return [f.path for f in self.letters] + ([self.combined] if self.combined else [])

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": self.fmt, "output": str(self.out_dir),
                "date": self.date, "letters": [f.to_json() for f in self.letters],
                "combined": str(self.combined) if self.combined else None,
                "warnings": list(self.warnings)}


def placeholder_warning(config: ReviewConfig) -> str:
    """One line (W601) when ``[letters]`` still holds placeholders, saying how to set them;
    "" when every letter setting is the prefecture's own."""
    keys = placeholder_keys(config.letters)
    if not keys:
        return ""
    return (f"{W_PLACEHOLDER}: 文書の差出人・連絡先が仮の値のままです（[letters] の {'、'.join(keys)}）。"
            "設定ファイル（UTF-8 の TOML）の [letters] に書き、--config で指定してください"
            "（docs/configuration.md）")


def _date_warning(given: dt.date | None, when: dt.date, data_date: dt.date | None) -> str:
    """W602 when the letters are dated today by default and today is far from the summary's
    data date: letters of an old summary would otherwise go out dated today, silently."""
    if given is not None or data_date is None:
        return ""
    days = (when - data_date).days
    if 0 <= days <= DATE_DRIFT_DAYS:
        return ""
    return (f"{W_DATE}: 文書の日付を今日（{when.isoformat()}）としましたが、とりまとめ表のデータの基準日"
            f"（最新の提出日 {data_date.isoformat()}）から {abs(days)} 日離れています。"
            "文書の日付は --date で指定してください")


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
    given = _as_date(date, "日付") or _as_date(cfg.letters.get("date"), "設定の日付")
    when = given or dt.date.today()
    kind = "reminder" if missing else "advice"
    deadline = None
    if kind == "reminder":
        deadline = _as_date(due, "提出期限") or next_open_day(when + dt.timedelta(days=DEFAULT_DUE_DAYS))
        if deadline < when:
            raise KofuError(E_OPTION, f"提出期限（{deadline.isoformat()}）が文書の日付（{when.isoformat()}）"
                                      "より前です。--due は文書の日付以降を指定してください"
                                      "（文書の日付は --date で指定できます）")
    summary = read_summary(summary_path)
    warnings = [w for w in (placeholder_warning(cfg), _date_warning(given, when, summary.data_date)) if w]
    # --muni takes codes or names as kofu-template does (E504 for one the master lacks)
    codes = [m.code for m in master.select(munis=munis)] if munis else []
    if kind == "advice":
        letters = build_advice(summary, master, cfg, when, codes)
    else:
        assert deadline is not None
        letters = build_reminders(summary, master, cfg, when, deadline, codes)
    out = Path(out_dir)
    result = LettersResult(kind, fmt, out, when.isoformat())
    result.warnings.extend(warnings)
    if not letters:
        return result

    env = make_environment(templates_dir, fmt)
    name = f"{kind}.{fmt}.j2"

    def render(batch: list[Letter], combined: bool) -> bytes:
        text = render_template(env, name, {"letters": batch, "combined": combined})
        if fmt == "docx":
            title = f"マイナンバーカード交付円滑化計画（{KIND_WORDS[kind]}）"
            return docx_bytes(text, title, when, name)
        # Stamped, so that a letter saved in an inbox is never taken for a submission.
        return (text.rstrip("\n") + f"\n{LETTER_MARK}\n").encode("utf-8")

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
    with staged() as st:  # every letter and the combined file, or none of them
        for path, data, lt in outputs:
            st.write(path, data)
            result.letters.append(LetterFile(lt.muni_code, lt.muni_name, path, lt.doc_number,
                                             len(lt.items), lt.urgent))
        st.write(*combined)
    result.combined = combined[0]
    return result
