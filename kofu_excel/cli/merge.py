"""kofu-merge (being built)."""

from __future__ import annotations

import click

from .common import EXIT_FAIL, command


@command("merge", help="（準備中） / not available yet")
@click.argument("args", nargs=-1)
def merge_cmd(args: tuple[str, ...]) -> None:
    click.echo("E000: kofu-merge はまだ利用できません（準備中です） / not available yet", err=True)
    raise SystemExit(EXIT_FAIL)
