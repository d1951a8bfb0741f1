"""What every command shares: options as decorators, error rendering, exit codes.

Exit status (docs/spec/cli.md): 0 all inputs accepted/valid; 1 done but some input rejected/invalid;
2 bad usage or nothing usable (and then no output is written).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import click

from ..findings import KofuError
from ..oserrors import describe
from . import console, helpfmt, usage

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_SOME_BAD, EXIT_FAIL = 0, 1, 2

HELP_OPTION_HELP = "この説明を表示して終了します / Show this message and exit."


def _bilingual_help_option(cmd: click.Command, ctx: click.Context) -> click.Option | None:
    opt = click.Command.get_help_option(cmd, ctx)
    if opt is not None:
        opt.help = HELP_OPTION_HELP
    return opt


E_OS = "E907"  # an OS error outside the writers' own E901 (reading an input, a folder …)


def run_main(main: Callable[..., Any], standalone_mode: bool, **kwargs: Any) -> Any:
    """click's ``main`` with every way out as one line: usage mistakes (usage.py) exit 2,
    Ctrl-C is E990 and exit 130. The console's encoding never loses a result (console.py)."""
    if not standalone_mode:
        return main(standalone_mode=False, **kwargs)
    console.setup()
    try:
        with console.sigterm_as_interrupt():
            rv = main(standalone_mode=False, **kwargs)
    except click.ClickException as exc:
        no_args_help = getattr(click.exceptions, "NoArgsIsHelpError", ())
        if no_args_help and isinstance(exc, no_args_help) and exc.ctx is not None:
            click.echo(exc.ctx.get_help(), err=True)
        else:
            click.echo(usage.to_line(exc), err=True)
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt, EOFError) as exc:
        console.interrupted(exc)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


class KofuGroup(click.Group):
    """The ``kofu`` group: its -h/--help explained in Japanese with an English line too."""

    context_class = helpfmt.Context

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return _bilingual_help_option(self, ctx)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        return run_main(super().main, standalone_mode, args=args, prog_name=prog_name,
                        complete_var=complete_var, **extra)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise usage.UsageFault(usage.E_NO_SUCH, f"「{name}」というコマンドはありません。"
                                   f"{'、'.join(self.list_commands(ctx))} のいずれかを指定してください", ctx)
        return super().resolve_command(ctx, args)


class KofuCommand(click.Command):
    """A click command that turns the toolkit's errors into a one-line Japanese message."""

    context_class = helpfmt.Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:  # click.Path / click.Choice speak Japanese (usage.py)
            param.type = usage.japanese_type(param.type)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return _bilingual_help_option(self, ctx)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        return run_main(super().main, standalone_mode, args=args, prog_name=prog_name,
                        complete_var=complete_var, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KofuError as exc:
            click.echo(f"{exc.code}: {exc.message}", err=True)
            ctx.exit(EXIT_FAIL)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (console.Terminated)
            click.echo(console.INTERRUPTED, err=True)
            ctx.exit(console.exit_status(exc))
        except BrokenPipeError:
            # The reader went away (`kofu fields --json | head`): nothing left to say to it.
            with contextlib.suppress(OSError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit-time flush
            ctx.exit(EXIT_OK)
        except OSError as exc:
            if os.environ.get("KOFU_DEBUG"):
                raise
            where = f"{exc.filename}：" if exc.filename else ""
            click.echo(f"{E_OS}: {where}ファイルの読み書きに失敗しました（{describe(exc)}）", err=True)
            ctx.exit(EXIT_FAIL)
        except Exception as exc:  # last resort: never a traceback for a user
            if os.environ.get("KOFU_DEBUG"):
                raise
            click.echo(f"E999: 予期しないエラーが発生しました（{type(exc).__name__}: {exc}）。"
                       "KOFU_DEBUG=1 を設定して再実行すると詳細を表示します", err=True)
            ctx.exit(EXIT_FAIL)


def command(name: str, help: str) -> Callable[[F], click.Command]:
    # The group's command list shows the first Japanese sentence (click would cut Japanese text,
    # which has no spaces, down to "...").
    first = help.split("\n\n", 1)[0]
    short = first.split("。", 1)[0] + "。" if "。" in first else None
    return click.command(name, cls=KofuCommand, help=help, short_help=short,
                         context_settings={"help_option_names": ["-h", "--help"]})


def kind_option(f: F) -> F:
    return click.option("--kind", type=click.Choice(["plan", "monthly"]), required=True,
                        help="様式の種類（plan=交付円滑化計画、monthly=実績報告） / form kind")(f)


def master_option(f: F) -> F:
    return click.option("--master", type=click.Path(exists=True, dir_okay=False),
                        help="団体名簿（CSV UTF-8/Shift_JIS または xlsx。列：団体コード, 市区町村名, 人口, 人口基準日）。"
                             "省略時は内蔵の名簿 / municipality master file")(f)


def schedule_option(f: F) -> F:
    return click.option("--schedule", type=click.Path(exists=True, dir_okay=False),
                        help="国の全体スケジュール（TOML）。省略時は内蔵の値 / national schedule file")(f)


# What each section of the config file is, as --config's help names it.
CONFIG_SECTIONS = {
    "review": ("確認・助言の基準値（[r1]・[r2]・[r3]・[f1]）", "review thresholds"),
    "letters": ("文書の発信者・連絡先など（[letters]）", "letter settings"),
    "limits": ("取込の上限（[limits]）", "intake limits"),
}


def config_option(*sections: str) -> Callable[[F], F]:
    """--config, its help naming only the sections this command reads."""
    ja = "、".join(CONFIG_SECTIONS[s][0] for s in sections)
    en = ", ".join(CONFIG_SECTIONS[s][1] for s in sections)

    def decorate(f: F) -> F:
        return click.option("--config", type=click.Path(exists=True, dir_okay=False),
                            help=f"{ja}を変える設定ファイル（TOML） / config file: {en}")(f)
    return decorate


def passwords_option(f: F) -> F:
    return click.option("--passwords", type=click.Path(exists=True, dir_okay=False),
                        help="パスワード付き zip・ブックを開くパスワードの一覧（1行に1つ。表示・記録しません）"
                             " / password list, one per line")(f)


def force_option(f: F) -> F:
    return click.option("--force", is_flag=True,
                        help="出力先にある内容の異なる同名のファイルを上書きする（省略時は上書きせずエラー E901）"
                             " / overwrite existing files that differ")(f)


def refuse_side_inputs(outputs: Iterable[str | None], *side: str | None) -> None:
    """E903 when an output is one of the side files (--config, --master …), E904 when it is not
    a regular file: before anything is read (the library checks the inputs it walks)."""
    from ..write.guard import InputFiles

    InputFiles([s for s in side if s], walk=False).refuse(o for o in outputs if o)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True,
                        help="結果を JSON で標準出力に出す / print the machine-readable result")(f)


def echo_json(doc: Any) -> None:
    """The document as JSON: characters as such on a UTF-8 stdout, else \\u escapes (still
    valid JSON, nothing lost on a cp932 or ASCII console)."""
    click.echo(json.dumps(doc, ensure_ascii=not console.is_utf8(), indent=2, allow_nan=False))


def show_progress(as_json: bool) -> bool:
    """A progress bar only on a terminal, never with --json or when piped."""
    return not as_json and sys.stderr.isatty()


class ProgressBar:
    """click.progressbar on stderr, opened at the first report (when the total is known)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.length = total  # a total may grow (e.g. files found inside archives)
        if done > self.done:
            self.bar.update(done - self.done)
            self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@contextlib.contextmanager
def progress_bar(label: str, as_json: bool) -> Iterator[ProgressBar | None]:
    """A ProgressBar while a library call runs (None when no bar is shown), always closed."""
    bar = ProgressBar(label) if show_progress(as_json) else None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()


def emit(result: Any, as_json: bool, render: Callable[[Any], Iterable[str]]) -> None:
    """The result as --json (its ``to_json()``), or as the command's Japanese lines."""
    if as_json:
        echo_json(result.to_json())
        return
    from ..intake.names import clean_text

    for line in render(result):
        # Names and cell values quoted in the lines may carry escape sequences or a CR: printed
        # as plain text, never as terminal commands (JSON escapes them itself).
        click.echo(clean_text(line))
