"""kofu fields / kofu sample: the field catalog and filled sample workbooks."""

from __future__ import annotations

import click

from .. import forms
from ..refdata import load_master, load_schedule
from ..sample import make_samples
from .common import command, echo_json, json_option, kind_option, master_option, schedule_option


@command("fields", help="様式の項目一覧（シート・セル・名前付き範囲）を表示します。\n\n"
                        "Print the field catalog of a form, one entry per input cell.")
@kind_option
@json_option
def fields_cmd(kind: str, as_json: bool) -> None:
    entries = forms.catalog(kind)
    if as_json:
        echo_json({"kind": kind, "version": forms.FORM_VERSION,
                   "fields": [e.to_json() for e in entries]})
        return
    for e in entries:
        click.echo(f"{e.id}\t{e.sheet}!{e.cell}\t{e.defined_name}\t{e.type}\t{e.label}")


@command("sample", help="記入例のブックを作成します（数値は架空）。--messy で手入力の表記ゆれ、--errors で誤りを1つずつ含めます。\n\n"
                        "Write filled sample workbooks with fictitious, plausible values.")
@kind_option
@master_option
@schedule_option
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="出力先フォルダ / output folder")
@click.option("--count", type=int, help="作成する団体数（名簿の先頭から） / number of municipalities")
@click.option("--pref", help="都道府県（コードまたは名称）の全団体 / all municipalities of a prefecture")
@click.option("--muni", multiple=True, help="団体コード（複数指定可） / municipality code")
@click.option("--seed", type=int, default=2019, show_default=True, help="乱数の種 / random seed")
@click.option("--messy", is_flag=True, help="全角数字・和暦・単位付きなど手入力の表記で記入 / typed the messy way")
@click.option("--errors", is_flag=True, help="各ブックに誤りを1つ含める（内容は injected.json に記録） / one known error each")
@click.option("--report-month", default="2020-03", show_default=True,
              help="実績報告の対象月（YYYY-MM） / report month of monthly samples")
@json_option
def sample_cmd(kind: str, master: str | None, schedule: str | None, out_dir: str,
               count: int | None, pref: str | None, muni: tuple[str, ...], seed: int, messy: bool,
               errors: bool, report_month: str, as_json: bool) -> None:
    result = make_samples(kind, out_dir, master=load_master(master), schedule=load_schedule(schedule),
                          count=count, pref=pref, munis=muni, seed=seed, messy=messy, errors=errors,
                          report_month=report_month)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"記入例を {len(result.files)} 件作成しました: {out_dir}")
