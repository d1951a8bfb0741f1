"""kofu-merge: an inbox as it came by e-mail → the prefectural or national summary workbook."""

from __future__ import annotations

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
    schedule_option,
)

if TYPE_CHECKING:
    from ..merge import MergeResult


def render(result: MergeResult) -> list[str]:
    """The short Japanese account: counts by status, rejected files, missing, the output."""
    from .. import forms

    counts = "、".join(f"{STATUS_LABELS[s]} {result.count(s)} 件" for s in STATUSES
                      if result.count(s) or s in ("accepted", "rejected"))
    lines = [f"ファイル {len(result.items)} 件：{counts}"]
    for it in result.items:
        if it.status == "rejected":
            lines.append(f"  不受理 {it.where}：{it.code + ' ' if it.code else ''}{it.reason}")
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
              help="とりまとめ表（xlsx）の出力先 / the summary workbook to write")
@master_option
@click.option("--pref", help="とりまとめる都道府県（コード 31 / 310000 または名称 鳥取県）。省略時は提出された"
                             "ブックから判定 / prefecture (inferred from the workbooks when omitted)")
@click.option("--level", type=click.Choice(["prefecture", "national"]), default="prefecture",
              show_default=True,
              help="prefecture=都道府県のとりまとめ、national=全国のとりまとめ（各都道府県のとりまとめ表も入力可）"
                   " / prefectural or national summary")
@passwords_option
@schedule_option
@config_option
@json_option
@click.pass_context
def merge_cmd(ctx: click.Context, paths: tuple[str, ...], out: str, master: str | None,
              pref: str | None, level: str, passwords: str | None, schedule: str | None,
              config: str | None, as_json: bool) -> None:
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
