"""kofu serve: the monthly cycle in a local web page (the web stack is imported only here)."""

from __future__ import annotations

import os
import sys

import click

from .common import command, config_option


@command("serve", help="とりまとめ・確認・文書・様式の作成を、ブラウザの画面から行うためのサーバーを"
                       "このパソコンの中だけで起動します。1行目に表示する URL（合言葉 token 付き）を開いてください。"
                       "止めるには Ctrl+C を押します。\n\n"
                       "Serve the monthly cycle as a local web page on 127.0.0.1 (merge, validate, "
                       "letters, templates); the first line printed is the URL with its access token.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True,
              help="使うポート番号（使用中なら空いているものを使います） / port (another is picked when busy)")
@click.option("--workspace", type=click.Path(file_okay=False),
              help="実行ごとの入力・出力・記録を保存するフォルダ（省略時はドキュメントの中の kofu-excel）"
                   " / folder that keeps every run")
@click.option("--no-browser", is_flag=True, help="ブラウザを自動で開かない / do not open the browser")
@config_option("review", "letters", "limits")
@click.pass_context
def serve_cmd(ctx: click.Context, port: int, workspace: str | None, no_browser: bool, config: str | None) -> None:
    from ..serve.server import run  # the web stack only when serving

    def echo(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    # KOFU_NO_OPEN: the launchers' switch for "open nothing" (tests, remote sessions).
    open_browser = not no_browser and not os.environ.get("KOFU_NO_OPEN")
    code = run(port, workspace, open_browser, config, echo, lambda line: click.echo(line, err=True))
    ctx.exit(code)
