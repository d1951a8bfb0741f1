"""kofu fields / kofu sample: the field catalog and filled sample workbooks."""

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
from .usage import E_MISSING_PARAM, E_USAGE, UsageFault, output_folder, parse_month_option


@command("fields", help="様式の項目一覧（シート・セル・名前付き範囲）を表示します。\n\n"
                        "Print the field catalog of a form, one entry per input cell.")
@kind_option
@json_option
def fields_cmd(kind: str, as_json: bool) -> None:
    from .. import forms

    entries = forms.catalog(kind)
    if as_json:
        echo_json({"kind": kind, "version": forms.FORM_VERSION,
                   "fields": [e.to_json() for e in entries]})
        return
    for e in entries:
        click.echo(f"{e.id}\t{e.sheet}!{e.cell}\t{e.defined_name}\t{e.type}\t{e.label}")


@command("sample", help="記入例のブックを作成します（数値は架空）。--messy で手入力の表記ゆれ、--errors で誤りを1つずつ"
                        "含めます。--inbox では、メール・パスワード付き zip・再提出・不要なファイルなどを含む"
                        "都道府県の受信箱の例を作成します。\n\n"
                        "Write filled sample workbooks with fictitious, plausible values; with --inbox, a whole "
                        "demo inbox of a prefecture (e-mails, a password zip, resubmissions, junk).")
@click.option("--kind", type=click.Choice(["plan", "monthly"]),
              help="様式の種類（plan=交付円滑化計画、monthly=実績報告）。--inbox のときは不要 / form kind "
                   "(not with --inbox)")
@master_option
@schedule_option
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False),
              callback=output_folder,
              help="出力先フォルダ（--inbox のときは不要） / output folder (not with --inbox)")
@click.option("--inbox", "inbox_dir", type=click.Path(file_okay=False),
              help="受信箱の例を作るフォルダ（DIR/inbox/、DIR/passwords.txt、DIR/README.md を作成） / "
                   "write a demo inbox into this folder")
@click.option("--count", type=int, help="作成する団体数（名簿の先頭から） / number of municipalities")
@click.option("--pref", help="都道府県（コードまたは名称）の全団体。--inbox では既定 31（鳥取県） / all "
                             "municipalities of a prefecture (--inbox: default 31)")
@click.option("--muni", multiple=True, help="団体コード（複数指定可） / municipality code")
@click.option("--seed", type=int, default=2019, show_default=True, help="乱数の種 / random seed")
@click.option("--messy", is_flag=True, help="全角数字・和暦・単位付きなど手入力の表記で記入 / typed the messy way")
@click.option("--errors", is_flag=True, help="各ブックに誤りを1つ含める（内容は injected.json に記録） / one known error each")
@click.option("--report-month", default="2020-03", show_default=True, callback=parse_month_option,
              help="実績報告の対象月（YYYY-MM） / report month of monthly samples")
@force_option
@json_option
@click.pass_context
def sample_cmd(ctx: click.Context, kind: str | None, master: str | None, schedule: str | None,
               out_dir: str | None, inbox_dir: str | None, count: int | None, pref: str | None,
               muni: tuple[str, ...], seed: int, messy: bool, errors: bool, report_month: str,
               force: bool, as_json: bool) -> None:
    from ..refdata import load_master, load_schedule

    if inbox_dir is not None:
        from ..demo.inbox import make_inbox

        given = [opt for opt, on in (("--kind", kind), ("-o/--out", out_dir), ("--count", count is not None),
                                     ("--muni", muni), ("--messy", messy), ("--errors", errors),
                                     ("--report-month", _given(ctx, "report_month")),
                                     ("--force", force)) if on]
        if given:
            raise UsageFault(E_USAGE, f"--inbox と {'、'.join(given)} は同時に指定できません", ctx)
        result = make_inbox(inbox_dir, load_master(master), load_schedule(schedule),
                            pref=pref or "31", seed=seed)
        if as_json:
            echo_json(result.to_json())
        else:
            click.echo(f"受信箱の例（{result.pref_name}、架空の数値）を作成しました: {result.inbox}"
                       f"（ファイル {len(result.files) - 2} 件、パスワード一覧 {result.passwords}、"
                       f"説明 {result.out_dir / 'README.md'}）")
        return
    missing = [opt for opt, value in (("--kind", kind), ("-o/--out", out_dir)) if not value]
    if missing:
        raise UsageFault(E_MISSING_PARAM, f"{'、'.join(missing)} を指定してください（--inbox のときを除く）", ctx)
    assert kind is not None and out_dir is not None
    from ..demo.sample import make_samples

    result = make_samples(kind, out_dir, master=load_master(master), schedule=load_schedule(schedule),
                          count=count, pref=pref, munis=muni, seed=seed, messy=messy, errors=errors,
                          report_month=report_month, force=force)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"記入例を {len(result.files)} 件作成しました: {out_dir}")


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the user typed the option (rather than leaving its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"
