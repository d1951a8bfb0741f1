"""Generated documentation: the field catalog, the error codes, each command's --help and the
built-in settings files.

``python -m kofu_excel.docs`` rewrites the generated pages and blocks under ``docs/``; a test
(``tests/test_docs.py``) fails when they are stale, so the docs cannot drift from the form
definition, the commands or the defaults. Hand-written text in a page lives outside the
``<!-- BEGIN GENERATED: name -->`` … ``<!-- END GENERATED: name -->`` markers and is kept.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import click

from . import forms
from .codes import TABLE
from .contract import KIND_LABELS, SEVERITY_LABELS

REGENERATE = ".venv/bin/python -m kofu_excel.docs"
# --help is rendered at a fixed width so the pages do not depend on the terminal.
HELP_WIDTH = 80


def markers(name: str) -> tuple[str, str]:
    return f"<!-- BEGIN GENERATED: {name} -->", f"<!-- END GENERATED: {name} -->"


BEGIN, END = markers("usage")
GROUP_ONLY = ("fields", "sample", "serve")  # sub-commands of ``kofu`` with no ``kofu-X`` script


def field_catalog_md(kind: str) -> str:
    form = forms.FORMS[kind]
    lines = [
        f"# 項目一覧：{form.label}（{kind}）",
        "",
        f"様式バージョン {form.version}。このページは `python -m kofu_excel.docs` が様式の定義"
        "（`kofu_excel/forms.py`）から生成します。手で編集しないでください。",
        "機械可読の一覧は `kofu fields --kind " + kind + " --json`。",
        "",
    ]
    for table in form.tables:
        lines += [f"## {table.title}（`{table.id}`、シート「{table.sheet}」）", ""]
        if table.rows:
            rows = "、".join(f"`{r.key}` {r.label}" for r in table.rows)
            lines += [f"行：{rows}", ""]
        lines += ["| id | 項目 | 型 | 単位 | 必須 | 範囲 | 選択肢 | 名前付き範囲 | 先頭セル |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for p in forms.placements(table):
            f = p.field
            req = "○" if f.required else ("条件付き" if f.required_if else "")
            rng = "" if f.lower is None and f.max is None else f"{f.lower if f.lower is not None else ''}～{f.max if f.max is not None else ''}"
            lines.append(f"| `{f.id}` | {f.label} | {f.type} | {f.unit} | {req} | {rng} | "
                         f"{' / '.join(f.choices)} | `{p.name}` | {p.cell()} |")
        if table.derived:
            lines += ["", "計算列（読み取らず、再計算します）：" + "、".join(d.label for d in table.derived)]
        lines.append("")
    return "\n".join(lines)


def error_codes_md() -> str:
    lines = ["# エラー・指摘のコード", "",
             "このページは `python -m kofu_excel.docs` が `kofu_excel/codes.py` から生成します。",
             "重大度は通常のもの（R201 は処理能力の不足が大きいとき「至急」）。", "",
             "| 区分 | 意味 |", "|---|---|",
             "| E1xx | ファイル（読み込めない・様式でない・圧縮ファイルの上限など） |",
             "| E2xx | 項目（未入力・形式・範囲・選択肢・団体コード） |",
             "| E3xx | 項目間（累計と人口、月次の累計の大小関係など） |",
             "| W4xx | 警告（受理されます） |",
             "| E5xx | 名簿・スケジュール・設定ファイル |",
             "| E6xx | 助言文書 |",
             "| E7xx | コマンドの指定（使い方の誤り。何も書き出さず、終了コード 2） |",
             "| E9xx | 出力・実行 |",
             "| R/F | 確認・助言（第4-1、第4-2。受理・不受理には影響しません） |", "",
             "| コード | 内容 | 重大度 | 観点 | 様式 |", "|---|---|---|---|---|"]
    lines += [f"| {c.code} | {c.title} | {SEVERITY_LABELS[c.severity]} | {c.check} | "
              f"{KIND_LABELS.get(c.form, '')} |" for _, c in sorted(TABLE.items())]
    return "\n".join(lines) + "\n"


def help_text(cmd: click.Command, prog: str) -> str:
    """``prog --help`` as a user sees it, at a fixed width."""
    settings = {**cmd.context_settings, "terminal_width": HELP_WIDTH, "max_content_width": HELP_WIDTH}
    ctx = cmd.context_class(cmd, info_name=prog, **settings)
    return cmd.get_help(ctx)


def usage_block(cmd: click.Command, name: str) -> str:
    return f"{BEGIN}\n```text\n{help_text(cmd, name)}\n```\n{END}"


def fill(current: str, name: str, content: str) -> str:
    """``current`` with the generated block ``name`` set to ``content`` (appended when absent)."""
    begin, end = markers(name)
    if begin not in current:
        current = current.rstrip("\n") + f"\n\n{begin}\n{end}\n"
    head, _, rest = current.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{content}\n{end}{tail}"


def command_pages() -> dict[str, click.Command]:
    from .cli import main

    return {name: main.commands[name] for name in sorted(main.commands)}


def prog_name(name: str) -> str:
    """How a user types the command: ``kofu-merge``, or ``kofu fields`` for the group-only ones."""
    return f"kofu {name}" if name in GROUP_ONLY else f"kofu-{name}"


def data_file(name: str) -> str:
    return resources.files("kofu_excel").joinpath("data", name).read_text(encoding="utf-8")


def settings_table_md(name: str = "review.toml") -> str:
    """The settings of a built-in TOML file as a table: section, key, default, and the comment
    written above the key in the file (the file is the one source of the defaults)."""
    lines = ["| 表 | 項目 | 既定値 | 説明 |", "|---|---|---|---|"]
    section, title, comment = "", "", []
    for raw in data_file(name).splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section, title, comment = line.strip("[]"), "", []
        elif line.startswith("#"):
            if section and not title:
                title = line.lstrip("# ")
                lines.append(f"| **[{section}]** | | | **{title}** |")
            elif section:
                comment.append(line.lstrip("# "))
        elif "=" in line and section:
            key, _, value = (part.strip() for part in line.partition("="))
            text = " ".join(comment).replace("|", "\\|")
            lines.append(f"| [{section}] | `{key}` | `{value}` | {text} |")
            comment = []
        elif not line:
            comment = []
    return "\n".join(lines)


def _read(page: Path, default: str) -> str:
    return page.read_text(encoding="utf-8") if page.exists() else default


def render(root: Path) -> dict[Path, str]:
    """Every generated file and its expected content."""
    from .cli import main

    docs = root / "docs"
    out = {docs / f"fields-{k}.md": field_catalog_md(k) for k in forms.KINDS}
    out[docs / "errors.md"] = error_codes_md()
    for name, cmd in command_pages().items():
        page = docs / "commands" / f"{name}.md"
        prog = prog_name(name)
        current = _read(page, f"# {prog}\n\n（説明を書いてください）\n\n## 使い方\n\n{BEGIN}\n{END}\n")
        out[page] = fill(current, "usage", f"```text\n{help_text(cmd, prog)}\n```")
    index = docs / "index.md"
    out[index] = fill(_read(index, "# kofu-excel の文書\n"), "usage",
                      f"```text\n{help_text(main, 'kofu')}\n```")
    config = docs / "configuration.md"
    current = _read(config, "# 設定ファイル\n")
    current = fill(current, "review-settings", settings_table_md("review.toml"))
    for name in ("review.toml", "schedule.toml"):
        current = fill(current, name, f"```toml\n{data_file(name).rstrip()}\n```")
    out[config] = current
    return out


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0]) if argv else Path.cwd()
    for path, text in render(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
