"""kofu-validate: check returned workbooks, print the findings, write a report and copies to
send back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_SOME_BAD,
    command,
    config_option,
    emit,
    json_option,
    master_option,
    passwords_option,
    progress_bar,
    refuse_side_inputs,
)
from .usage import output_file, output_folder

if TYPE_CHECKING:
    from ..model import FileResult
    from ..pipeline import ValidationRun

_HEAD = {"valid": "OK", "invalid": "NG", "unreadable": "NG（読込不可）", "ignored": "対象外"}


def _headline(fr: FileResult) -> str:
    n_err, n_warn = len(fr.errors), len(fr.warnings)
    if fr.status == "valid":
        head = f"OK (警告 {n_warn} 件)" if n_warn else "OK"
    elif fr.status == "invalid":
        head = f"NG (エラー {n_err} 件・警告 {n_warn} 件)"
    else:
        head = _HEAD.get(fr.status, fr.status)
    return f"{head}  {fr.label}"


def render(run: ValidationRun) -> list[str]:
    """The human-readable report, one line per file, then one per finding."""
    lines = []
    for fr in run.files:
        lines.append(_headline(fr))
        if fr.settled:
            lines.append(f"  解決済：{fr.settled}")
        for f in fr.findings:
            lines.append(f"  {f.code} {f.message}")
    counts = {s: sum(1 for fr in run.files if fr.status == s) for s in _HEAD}
    lines.append(f"確認 {len(run.files)} 件：OK {counts['valid']} 件・NG {counts['invalid'] + counts['unreadable']} 件"
                 f"・対象外 {counts['ignored']} 件")
    if run.report is not None:
        lines.append(f"確認結果のブックを書き出しました：{run.report}")
    if run.annotated:
        lines.append(f"差し戻し用のブックを {len(run.annotated)} 件書き出しました：{run.annotated[0].parent}")
    return lines


@command("validate", help="提出されたブックを検証し、誤りをファイル・シート・セルごとに表示します。"
                          "確認結果のブック（--report）と差し戻し用のブック（--annotate）も作成できます。\n\n"
                          "Check returned workbooks (files, folders, e-mails, archives) and report every "
                          "finding by file, sheet and cell.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--report", "report", type=click.Path(dir_okay=False), callback=output_file(".xlsx"),
              help="確認結果を一覧にしたブック（xlsx）の出力先。拡張子を省くと .xlsx を付けます"
                   " / write a report workbook (.xlsx added when no extension)")
@click.option("--annotate", "annotate", type=click.Path(file_okay=False),
              callback=output_folder,
              help="誤りのあるブックごとに、誤りのセルに色とコメントを付けた差し戻し用のブックを作るフォルダ"
                   " / folder for annotated copies to send back")
@json_option
@passwords_option
@master_option
@click.option("--pref", help="とりまとめ対象の都道府県（コード 01 または名称）。他の都道府県の団体はエラー"
                             " / only municipalities of this prefecture are valid")
@config_option("limits")
@click.pass_context
def validate_cmd(ctx: click.Context, paths: tuple[str, ...], report: str | None,
                 annotate: str | None, as_json: bool, passwords: str | None, master: str | None,
                 pref: str | None, config: str | None) -> None:
    refuse_side_inputs([report], master, passwords, config)
    # The library only now, not at start-up: --help and usage errors stay instant.
    from ..model import BatchOptions
    from ..pipeline import E_NOTHING, read_passwords, validate_paths
    from ..refdata import load_config, load_master

    limits = load_config(config).intake_limits()
    with progress_bar("読込・検証中", as_json) as bar:
        options = BatchOptions(passwords=read_passwords(passwords) if passwords else (),
                               master=load_master(master), pref=pref, limits=limits, progress=bar)
        run = validate_paths(list(paths), options, report=report, annotate=annotate)
    emit(run, as_json, render)
    if run.nothing_found:
        click.echo(f"{E_NOTHING}: 検証できるブックが見つかりませんでした（対象外のファイルのみ）", err=True)
        ctx.exit(EXIT_FAIL)
    ctx.exit(EXIT_OK if run.all_valid else EXIT_SOME_BAD)
