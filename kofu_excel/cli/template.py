"""kofu-template: blank or pre-filled submission workbooks."""

from __future__ import annotations

import click

from .common import (
    command,
    echo_json,
    force_option,
    json_option,
    kind_option,
    master_option,
    schedule_option,
)
from .usage import output_folder


@command("template", help="提出様式（Excel）を作成します。団体ごとに記入済みのブック、または白紙の様式を1つ作成します。\n\n"
                          "Write the submission workbooks: one pre-filled per municipality, or one generic blank.")
@kind_option
@master_option
@schedule_option
@click.option("--pref", help="都道府県（コード 01 / 010006 または名称 北海道）。--pref も --muni も"
                             "省略すると全国の全市区町村の様式を作成します / prefecture (all "
                             "municipalities when neither --pref nor --muni is given)")
@click.option("--muni", multiple=True, help="団体コード（複数指定可） / municipality code, repeatable")
@click.option("--blank", is_flag=True, help="団体を特定しない白紙の様式を1つ作成 / one generic blank workbook")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              callback=output_folder,
              help="出力先フォルダ / output folder")
@force_option
@json_option
def template_cmd(kind: str, master: str | None, schedule: str | None, pref: str | None,
                 muni: tuple[str, ...], blank: bool, out_dir: str, force: bool, as_json: bool) -> None:
    from .. import forms
    from ..refdata import load_master, load_schedule
    from ..write.template import generate

    roster = None if blank else load_master(master)
    if roster is not None and not pref and not muni:
        # Said before the minutes of writing, on stderr (the JSON on stdout stays one document).
        click.echo(f"--pref・--muni の指定がないため、名簿の全 {len(roster.select()):,} 団体（全国の市区町村）の"
                   "様式を作成します。一つの都道府県だけなら --pref を指定してください", err=True)
    result = generate(kind, out_dir, master=roster, pref=pref,
                      munis=muni, blank=blank, schedule=load_schedule(schedule), force=force)
    if as_json:
        echo_json({"kind": kind, "version": forms.FORM_VERSION, "files": [str(p) for p in result.files]})
    else:
        click.echo(f"{forms.FORMS[kind].label}の様式を {len(result.files)} 件作成しました: {out_dir}")
