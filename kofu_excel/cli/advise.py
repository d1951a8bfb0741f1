"""kofu-advise: advice (助言) and reminder (督促) letters from a summary workbook."""

from __future__ import annotations

import datetime as dt

import click

from .common import (
    command,
    config_option,
    echo_json,
    json_option,
    master_option,
    progress_bar,
)
from .usage import output_folder, parse_date_option

# letters.FORMATS, named here so that --help does not import the letters (jinja2, docx);
# tests/test_startup.py checks that the two agree.
FORMATS = ("docx", "html", "md")


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    return parse_date_option(ctx, param, value)  # 和暦 too, as the workbooks accept (E705)


@command("advise", help="とりまとめ表の指摘事項から、市区町村あての助言文書を作成します。"
                        "--missing では未提出の団体あての督促文書を作成します。"
                        "1団体1ファイルと、印刷用の一括ファイルを出力します。\n\n"
                        "Render advice letters (or, with --missing, reminders) from a summary "
                        "workbook: one file per municipality plus one combined file for printing.")
@click.argument("summary", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              callback=output_folder,
              help="出力先フォルダ / output folder")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="docx", show_default=True,
              help="文書の形式（docx=Word、html=印刷用HTML、md=Markdown） / output format")
@click.option("--templates", "templates_dir", type=click.Path(exists=True, file_okay=False),
              help="自作のテンプレートのフォルダ（同名のファイルが内蔵のものに優先） / your template folder")
@config_option("letters")
@master_option
@click.option("--missing", is_flag=True,
              help="助言ではなく、未提出の団体への督促文書を作成 / write reminders to those who have not submitted")
@click.option("--muni", multiple=True, help="対象の団体コード（複数指定可） / municipality code (repeatable)")
@click.option("--date", "letter_date", callback=_date,
              help="文書の日付 YYYY-MM-DD または和暦（令和2年4月20日）（省略時は設定の日付、なければ今日）"
                   " / date on the letters")
@click.option("--due", callback=_date,
              help="督促文書の提出期限 YYYY-MM-DD または和暦（省略時は文書の日付の7日後） / reminder deadline")
@json_option
def advise_cmd(summary: str, out_dir: str, fmt: str, templates_dir: str | None, config: str | None,
               master: str | None, missing: bool, muni: tuple[str, ...], letter_date: dt.date | None,
               due: dt.date | None, as_json: bool) -> None:
    from ..letters import render_letters
    from ..refdata import load_master

    with progress_bar("文書を作成中", as_json) as bar:
        result = render_letters(summary, out_dir, fmt=fmt, templates_dir=templates_dir,
                                config=config, missing=missing, munis=muni, date=letter_date,
                                master=load_master(master), due=due, progress=bar)
    for line in result.warnings:  # on stderr, --json or not: stdout stays the document
        click.echo(line, err=True)
    if as_json:
        echo_json(result.to_json())
        return
    word = "督促" if missing else "助言"
    if not result.letters:
        click.echo(f"{word}の対象となる団体はありません（文書は作成していません）")
        return
    urgent = sum(1 for f in result.letters if f.urgent)
    note = f"、うち至急 {urgent} 件" if urgent else ""
    click.echo(f"{len(result.letters)} 件の{word}文書を作成しました（{fmt}{note}）: {out_dir}"
               f"（印刷用の一括ファイル: {result.combined.name if result.combined else '-'}）")
