"""kofu-template: blank or pre-filled submission workbooks."""

from __future__ import annotations

import click

from .common import command, echo_json, json_option, kind_option, master_option, schedule_option


@command("template", help="提出様式（Excel）を作成します。団体ごとに記入済みのブック、または白紙の様式を1つ作成します。\n\n"
                          "Write the submission workbooks: one pre-filled per municipality, or one generic blank.")
@kind_option
@master_option
@schedule_option
@click.option("--pref", help="都道府県（コード 01 / 010006 または名称 北海道） / prefecture")
@click.option("--muni", multiple=True, help="団体コード（複数指定可） / municipality code, repeatable")
@click.option("--blank", is_flag=True, help="団体を特定しない白紙の様式を1つ作成 / one generic blank workbook")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="出力先フォルダ / output folder")
@json_option
def template_cmd(kind: str, master: str | None, schedule: str | None, pref: str | None,
                 muni: tuple[str, ...], blank: bool, out_dir: str, as_json: bool) -> None:
    from .. import forms
    from ..refdata import load_master, load_schedule
    from ..write.template import generate

    result = generate(kind, out_dir, master=None if blank else load_master(master), pref=pref,
                      munis=muni, blank=blank, schedule=load_schedule(schedule))
    if as_json:
        echo_json({"kind": kind, "version": forms.FORM_VERSION, "files": [str(p) for p in result.files]})
    else:
        click.echo(f"{forms.FORMS[kind].label}の様式を {len(result.files)} 件作成しました: {out_dir}")
