"""Usage mistakes as the one ``Ennn: 日本語の説明`` line every other error is, in every command.

click's own messages are English ("Error: Invalid value for 'PATHS...': Path '受信なし/' does
not exist.") and end with a usage block. Here every usage mistake becomes one line on stderr,
with the same words whichever command it was, and exit status 2; the command has not started,
so nothing is written:

====  =====================================================================================
E701  a required option or argument is missing, or an option without its value
E702  a value that is not one of the choices
E703  a file or folder that does not exist
E704  a folder where a file is needed, or a file where a folder is needed
E705  a date that cannot be read (和暦 and the spellings the workbooks accept are read)
E706  a number that is not a whole number
E707  an option or command that does not exist
E708  arguments left over (often a path with a space, not quoted)
E709  any other usage mistake (options that cannot go together …)
E710  a file or folder that cannot be read
E711  an output file named as another kind of file (``-o summary.csv`` for a workbook)
====  =====================================================================================

The parameter types of every kofu command (click.Path, click.Choice) are swapped for the
subclasses below by :class:`~kofu_excel.cli.common.KofuCommand`, so the checks know the value
that was given. This module imports nothing heavy.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
from typing import Any

import click

E_MISSING_PARAM = "E701"
E_CHOICE = "E702"
E_NO_PATH = "E703"
E_PATH_KIND = "E704"
E_DATE = "E705"
E_NUMBER = "E706"
E_NO_SUCH = "E707"
E_EXTRA = "E708"
E_USAGE = "E709"
E_UNREADABLE = "E710"
E_OUTPUT_NAME = "E711"

# How arguments (which have no --name) are called in the messages.
ARGUMENT_NAMES = {
    "paths": "確認・とりまとめするファイルまたはフォルダ",
    "summary": "とりまとめ表（xlsx）",
}


class UsageFault(click.UsageError):
    """A usage mistake with its code; shown as ``code: message`` and exit status 2."""

    def __init__(self, code: str, message: str, ctx: click.Context | None = None) -> None:
        super().__init__(message, ctx)
        self.code = code

    def line(self) -> str:
        return f"{self.code}: {self.message}"


def name_of(param: click.Parameter | None) -> str:
    """'-o/--out' for an option, the Japanese name for an argument."""
    if param is None:
        return "指定"
    if isinstance(param, click.Option):
        return "/".join(param.opts)
    return ARGUMENT_NAMES.get(param.name or "", param.human_readable_name)


def _subject(param: click.Parameter | None) -> str:
    """The name followed by what Japanese text needs after it: a space after --out, none after 。"""
    name = name_of(param)
    return name + (" " if name[-1:].isascii() else "")


class KofuPath(click.Path):
    """click.Path with the E703 / E704 / E710 lines (same checks, Japanese words)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fsdecode(value) if isinstance(value, (str, bytes, os.PathLike)) else str(value)
        if self.allow_dash and text == "-":
            return super().convert(value, param, ctx)
        where = "" if not isinstance(param, click.Option) else f"{_subject(param)}に"
        if not text:  # `-o ""`: no path at all (Path("") would mean the current folder)
            raise UsageFault(E_MISSING_PARAM, f"{_subject(param)}に空の値が指定されました。"
                                              "ファイル・フォルダの名前を指定してください", ctx)
        what = ("ファイル" if not self.dir_okay else "フォルダ" if not self.file_okay
                else "ファイル・フォルダ")
        if not os.path.lexists(text):
            if self.exists:
                raise UsageFault(E_NO_PATH, f"{where}指定された{what}が見つかりません：{text}", ctx)
            return super().convert(value, param, ctx)
        if not os.path.exists(text):  # a broken link: intake reports it as a file of its own
            return value
        if not self.dir_okay and os.path.isdir(text):
            raise UsageFault(E_PATH_KIND, f"{where}指定された「{text}」はフォルダです。ファイルを指定してください",
                             ctx)
        if not self.file_okay and not os.path.isdir(text):
            raise UsageFault(E_PATH_KIND, f"{where}指定された「{text}」はファイルです。フォルダを指定してください",
                             ctx)
        if self.readable and not os.access(text, os.R_OK):
            raise UsageFault(E_UNREADABLE, f"{where}指定された{what}を読み取れません（権限がありません）：{text}",
                             ctx)
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            raise UsageFault(E_USAGE, f"{where}指定された{what}は使えません：{text}", ctx) from None


class KofuChoice(click.Choice):
    """click.Choice with the E702 line."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            choices = "、".join(str(c) for c in self.choices)
            raise UsageFault(E_CHOICE, f"{_subject(param)}には {choices} のいずれかを指定してください"
                                       f"（指定された値：{value}）", ctx) from None


def japanese_type(t: click.ParamType) -> click.ParamType:
    """The Japanese-speaking version of a parameter type (the same settings), else ``t``."""
    for base, ours in ((click.Path, KofuPath), (click.Choice, KofuChoice)):
        if type(t) is base:
            new = copy.copy(t)
            new.__class__ = ours
            return new
    return t


def output_file(suffix: str) -> Any:
    """A click callback for an output file's option: the file is named as what it is. A name
    without an extension gets ``suffix`` (``-o out/summary`` → ``out/summary.xlsx``); any other
    extension (``.csv``, ``.xls``) is E711, since the bytes written would not be that. An
    existing path that is not a regular file is kept as named, for the writer's E904."""
    def check(ctx: click.Context | None, param: click.Parameter | None, value: Any) -> Any:
        if value is None:
            return None
        text = os.fsdecode(value)
        if os.path.islink(text) or (os.path.lexists(text) and not os.path.isfile(text)):
            return text  # an existing device, FIFO, folder or link: refused as it is named (E904)
        head, name = os.path.split(text)
        stem, ext = os.path.splitext(name)
        if not ext:
            return os.path.join(head, name + suffix) if name else text
        if ext.lower() != suffix:
            raise UsageFault(E_OUTPUT_NAME, f"{_subject(param)}に指定された「{text}」の拡張子は {ext} ですが、"
                                            f"作成するのは {suffix} のファイルです。{os.path.join(head, stem + suffix)}"
                                            " のように指定してください", ctx)
        return text
    return check


# A folder named like a file would be a trap (``-o 文書.docx`` making a folder of that name).
FILE_LIKE_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".docx", ".doc", ".md",
                                ".html", ".htm", ".pdf", ".txt", ".zip", ".json"})


def output_folder(ctx: click.Context | None, param: click.Parameter | None, value: Any) -> Any:
    """A click callback for an output folder's option: a new folder named like a file
    (``-o 督促.docx``) is E711; an existing folder of any name is used as it is."""
    if value is None:
        return None
    text = os.fsdecode(value)
    ext = os.path.splitext(text.rstrip("/\\"))[1]
    if ext.lower() in FILE_LIKE_SUFFIXES and not os.path.isdir(text):
        raise UsageFault(E_OUTPUT_NAME, f"{_subject(param)}にはファイルではなくフォルダを指定してください"
                                        f"（指定された値：{text}。拡張子 {ext} の付かない名前にしてください）", ctx)
    return value


DATE_SPELLINGS = "YYYY-MM-DD（例 2020-04-20）、2020/4/20、2020年4月20日、令和2年4月20日、R2.4.20"


def parse_date_option(ctx: click.Context | None, param: click.Parameter | None,
                      value: str | None) -> dt.date | None:
    """A click callback: the date spellings the workbooks accept (refdata.parse_date), or E705."""
    if value is None:
        return None
    from ..refdata import parse_date  # not at start-up: --help stays fast

    try:
        parsed = parse_date(value)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise UsageFault(E_DATE, f"{_subject(param)}の日付「{value}」を読み取れません。"
                                 f"{DATE_SPELLINGS} のように指定してください", ctx)
    return parsed


def parse_month_option(ctx: click.Context | None, param: click.Parameter | None,
                       value: str | None) -> str | None:
    """A click callback: a month as the workbooks accept it (normalise.to_month) → 'YYYY-MM'."""
    if value is None:
        return None
    from ..normalise import to_month  # not at start-up: --help stays fast

    norm = to_month(value)
    if norm.state != "value" or not isinstance(norm.value, dt.date):
        raise UsageFault(E_DATE, f"{_subject(param)}の年月「{value}」を読み取れません。"
                                 "2020-03、2020/3、令和2年3月、R2.3 のように指定してください", ctx)
    return norm.value.strftime("%Y-%m")


_EXTRA = re.compile(r"\((.*)\)", re.S)


def to_line(exc: click.ClickException) -> str:
    """Any click exception as the one ``Ennn: 日本語`` line."""
    if isinstance(exc, UsageFault):
        return exc.line()
    param = getattr(exc, "param", None)
    if isinstance(exc, click.MissingParameter):
        return f"{E_MISSING_PARAM}: {_subject(param)}を指定してください"
    if isinstance(exc, click.NoSuchOption):
        near = f"（{'、'.join(exc.possibilities)} のことですか）" if exc.possibilities else ""
        return f"{E_NO_SUCH}: {exc.option_name} というオプションはありません{near}。-h で使い方を表示します"
    if isinstance(exc, click.BadOptionUsage):
        if "requires" in exc.message:
            return f"{E_MISSING_PARAM}: {exc.option_name} の後に値を指定してください"
        return f"{E_USAGE}: {exc.option_name} の指定のしかたが正しくありません（値を付けないオプションです）"
    if isinstance(exc, click.BadParameter):
        if isinstance(getattr(param, "type", None), (click.types.IntParamType, click.types.FloatParamType)):
            return f"{E_NUMBER}: {_subject(param)}には数値（整数）を指定してください"
        return f"{E_USAGE}: {_subject(param)}の指定が正しくありません"
    if isinstance(exc, click.UsageError) and exc.message.startswith("Got unexpected extra argument"):
        m = _EXTRA.search(exc.message)
        extra = m[1] if m else ""
        return (f"{E_EXTRA}: 余分な指定があります：{extra}（空白を含むパスは \"…\" で囲んでください。"
                "-h で使い方を表示します）")
    if isinstance(exc, click.UsageError) and not exc.message.isascii():  # already Japanese
        return f"{E_USAGE}: {' '.join(exc.message.split())}"
    if isinstance(exc, click.UsageError):
        return f"{E_USAGE}: コマンドの指定が正しくありません。-h で使い方を表示します"
    return f"{E_USAGE}: コマンドを実行できませんでした"
