"""kofu-merge: an inbox as it came by e-mail → the prefectural or national summary workbook."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ..contract import STATUS_LABELS, STATUSES
from .common import (
    command,
    config_option,
    emit,
    json_option,
    master_option,
    passwords_option,
    progress_bar,
    refuse_side_inputs,
    schedule_option,
)
from .usage import output_file

# Statuses explained file by file on the console, as in --json: all but accepted and opened (a
# mail or zip that opened; its contents are listed themselves).
EXPLAINED = ("rejected", "superseded", "duplicate", "ignored")
GROUP_FROM = 3  # this many files with the same status and reason are one line


def reasons(items: Sequence[Item]) -> list[str]:
    """Why each file that was not accepted was not: one line per file, or one per reason when
    several files share it (「対象外 5 件：取込対象外のファイル形式です（メモ.txt ほか 4 件）」)."""
    lines = []
    for status in EXPLAINED:
        by_reason: dict[str, list[Item]] = {}
        for it in items:
            if it.status == status:
                why = f"{it.code} {it.reason}" if it.code else (it.reason or "")
                by_reason.setdefault(why, []).append(it)
        for why, group in by_reason.items():
            label = STATUS_LABELS[status]
            if len(group) >= GROUP_FROM:
                lines.append(f"  {label} {len(group)} 件：{why}（{group[0].where} ほか {len(group) - 1} 件）")
            else:
                lines.extend(f"  {label} {it.where}：{why}" for it in group)
    return lines

if TYPE_CHECKING:
    from ..intake import Item
    from ..merge import MergeResult


def render(result: MergeResult) -> list[str]:
    """The short Japanese account: counts by status, why each file was not accepted (as --json
    says), missing, the output."""
    from .. import forms

    counts = "、".join(f"{STATUS_LABELS[s]} {result.count(s)} 件" for s in STATUSES
                      if result.count(s) or s in ("accepted", "rejected"))
    lines = [f"ファイル {len(result.items)} 件：{counts}", *reasons(result.items)]
    sm = result.summary
    if sm is not None:
        for kind in sm.kinds:
            got = sum(1 for m in sm.scope if m.code in sm.values.get(kind, {}))
            lines.append(f"{forms.FORMS[kind].label}：提出 {got} / {len(sm.scope)} 団体"
                         f"（未提出 {len(sm.scope) - got} 団体）")
    if result.output is not None:
        lines.append(f"出力: {result.output}")
    return lines


@command("merge", help="受信したファイル（フォルダ・メール・zip・ブック）をそのまま受け取り、都道府県または"
                       "全国のとりまとめ表（Excel）を作成します。すべてのファイルの取扱いを取込記録に残します。\n\n"
                       "Merge an inbox (folders, e-mails, archives, workbooks) into the prefectural or "
                       "national summary workbook, accounting for every file.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False),
              callback=output_file(".xlsx"),
              help="とりまとめ表（xlsx）の出力先。拡張子を省くと .xlsx を付けます / the summary "
                   "workbook to write (.xlsx added when no extension)")
@master_option
@click.option("--pref", help="とりまとめる都道府県（コード 31 / 310000 または名称 鳥取県）。省略時は提出された"
                             "ブックから判定 / prefecture (inferred from the workbooks when omitted)")
@click.option("--level", type=click.Choice(["prefecture", "national"]), default="prefecture",
              show_default=True,
              help="prefecture=都道府県のとりまとめ、national=全国のとりまとめ（各都道府県のとりまとめ表も入力可）"
                   " / prefectural or national summary")
@passwords_option
@schedule_option
@config_option("review", "limits")
@json_option
@click.pass_context
def merge_cmd(ctx: click.Context, paths: tuple[str, ...], out: str, master: str | None,
              pref: str | None, level: str, passwords: str | None, schedule: str | None,
              config: str | None, as_json: bool) -> None:
    refuse_side_inputs([out], master, passwords, schedule, config)
    # The library only now, not at start-up: --help and usage errors stay instant.
    from ..merge import E_NOTHING, merge
    from ..model import BatchOptions
    from ..pipeline import read_passwords
    from ..refdata import load_config, load_master, load_schedule

    cfg = load_config(config)
    with progress_bar("とりまとめ中", as_json) as bar:
        options = BatchOptions(master=load_master(master), pref=pref,
                               passwords=read_passwords(passwords) if passwords else (),
                               limits=cfg.intake_limits(), progress=bar)
        result = merge(list(paths), out, options, level=level, schedule=load_schedule(schedule),
                       config=cfg)
    emit(result, as_json, render)
    if result.output is None:
        click.echo(f"{E_NOTHING}: 取り込めるブックがありませんでした。とりまとめ表は作成していません"
                   "（既存の出力ファイルは変更していません）", err=True)
    ctx.exit(result.exit_code)
