"""The docs cannot drift: generated pages are fresh, and no command, option, field or code is missing."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import click
import pytest

from kofu_excel import docs, forms
from kofu_excel.cli import main
from kofu_excel.findings import CODES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]{3,}(?:[ ,;:()'-]+[A-Za-z]{2,})+")  # a few English words
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
# Written by another engineer at the same time: linked already, checked once it exists.
PENDING = {"docs/security.md", "security.md"}


def _prose(text: str) -> str:
    """A page without its generated blocks: what was written by hand."""
    return re.sub(r"<!-- BEGIN GENERATED: ([\w.-]+) -->.*?<!-- END GENERATED: \1 -->", "", text, flags=re.S)


def test_generated_pages_are_fresh() -> None:
    stale = [str(path.relative_to(ROOT)) for path, text in docs.render(ROOT).items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"stale generated docs {stale}: run `{docs.REGENERATE}`"


def test_help_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    wide = docs.render(ROOT)
    monkeypatch.setenv("COLUMNS", "50")
    assert docs.render(ROOT) == wide


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_a_page_naming_every_option(name: str) -> None:
    page = DOCS / "commands" / f"{name}.md"
    assert page.exists(), f"docs/commands/{name}.md is missing: write it, then run `{docs.REGENERATE}`"
    text = page.read_text(encoding="utf-8")
    prose = _prose(text)
    for section in ("## 使い方", "## 出力", "## 終了コード", "## 例"):
        assert section in prose, f"{page.name}: no section {section}"
    prog = docs.prog_name(name)
    assert f".venv/bin/{prog}" in prose, f"{page.name}: no example of {prog}"
    for param in main.commands[name].params:
        opts = [o for o in (*param.opts, *param.secondary_opts) if o.startswith("-")]
        if not opts or "--help" in opts:
            continue
        assert any(o in text for o in opts), f"{page.name}: option {opts} missing"
        # Described by hand too, not only listed by the generated --help.
        assert any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", prose) for o in opts), \
            f"{page.name}: option {opts} is not described outside the generated usage"


def test_index_lists_every_command_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for name in main.commands:
        assert f"commands/{name}.md" in index


def test_every_field_is_in_the_catalog_pages() -> None:
    for kind in forms.KINDS:
        text = (DOCS / f"fields-{kind}.md").read_text(encoding="utf-8")
        form = forms.FORMS[kind]
        for table in form.tables:
            assert f"`{table.id}`" in text, f"fields-{kind}.md: table {table.id} missing"
            for p in forms.placements(table):
                assert f"`{p.field.id}`" in text, f"fields-{kind}.md: field {table.id}.{p.field.id} missing"
                assert f"`{p.name}`" in text, f"fields-{kind}.md: defined name {p.name} missing"
        for entry in forms.catalog(kind):
            assert entry.defined_name in text, f"fields-{kind}.md: {entry.id} ({entry.defined_name}) missing"


def test_every_code_is_documented() -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    for code, title in CODES.items():
        assert f"| {code} | {title} |" in text, f"errors.md: {code} missing: run `{docs.REGENERATE}`"


def test_every_code_used_in_the_source_is_known() -> None:
    """A code raised or reported anywhere in the library has a title in findings.CODES."""
    used: dict[str, str] = {}
    sources = [*(ROOT / "kofu_excel").rglob("*.py"), *(ROOT / "kofu_excel" / "letters" / "templates").glob("*.j2")]
    for path in sources:
        for code in re.findall(r"""["']([EWRF]\d{3})["']""", path.read_text(encoding="utf-8")):
            used.setdefault(code, str(path.relative_to(ROOT)))
    unknown = {c: p for c, p in used.items() if c not in CODES}
    assert not unknown, f"codes used but not in findings.CODES (add a Japanese title): {unknown}"
    assert len(used) > 50


def _all_commands() -> list[tuple[str, click.Command]]:
    return [("kofu", main), *((docs.prog_name(n), c) for n, c in sorted(main.commands.items()))]


@pytest.mark.parametrize(("prog", "cmd"), _all_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_help_is_japanese_with_an_english_line(prog: str, cmd: click.Command) -> None:
    text = docs.help_text(cmd, prog)
    paragraphs = [p.strip() for p in (cmd.help or "").split("\n\n") if p.strip()]
    assert paragraphs and JAPANESE.search(paragraphs[0]), f"{prog}: help starts without Japanese"
    assert any(ENGLISH.search(p) and not JAPANESE.search(p) for p in paragraphs), \
        f"{prog}: no English line in the help"
    ctx = click.Context(cmd, info_name=prog, **cmd.context_settings)
    for param in cmd.get_params(ctx):
        if not isinstance(param, click.Option):
            continue
        help_ = param.help or ""
        ja, _, en = help_.rpartition(" / ")
        assert JAPANESE.search(ja) and ENGLISH_WORD.search(en) and not JAPANESE.search(en), \
            f"{prog} {param.opts}: help must be 「日本語 / English」, got {help_!r}"
    assert "-h, --help" in text


def _help_at(cmd: click.Command, prog: str, columns: int) -> str:
    settings = {**cmd.context_settings, "terminal_width": columns, "max_content_width": columns}
    return cmd.get_help(cmd.context_class(cmd, info_name=prog, **settings))


@pytest.mark.parametrize(("prog", "cmd"), _all_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_help_wraps_by_display_width_and_never_inside_a_word(prog: str, cmd: click.Command) -> None:
    from kofu_excel.cli.helpfmt import width

    unwrapped = _help_at(cmd, prog, 100_000)
    words = set(re.findall(r"[!-~]+", unwrapped))
    text = docs.help_text(cmd, prog)
    for line in text.splitlines():
        assert width(line) <= docs.HELP_WIDTH, f"{prog}: wider than {docs.HELP_WIDTH} columns: {line!r}"
        assert not re.match(r"\s*[）」、。]", line), f"{prog}: a line starts with closing punctuation: {line!r}"
        assert not line.rstrip().endswith(("（", "「")), f"{prog}: a line ends with an opening bracket: {line!r}"
    cut = set(re.findall(r"[!-~]+", text)) - words
    assert not cut, f"{prog}: words cut in two by wrapping: {cut}"
    for whole in ("（TOML）", "README.md"):
        if whole in unwrapped:
            assert whole in text


def test_help_wrapping_keeps_ascii_words_and_brackets_whole() -> None:
    from kofu_excel.cli.helpfmt import wrap

    text = "確認・助言の基準値、文書の設定を変える設定ファイル（TOML）と README.md を参照"
    for limit in range(12, 60):
        lines = wrap(text, limit).splitlines()
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        assert all("TOML" in ln or "TOM" not in ln for ln in lines)
        assert all("README.md" in ln or "README" not in ln for ln in lines)


def test_config_help_names_only_the_sections_each_command_reads() -> None:
    def config_help(name: str) -> str:
        return next(p.help for p in main.commands[name].params if p.name == "config")

    assert "[limits]" in config_help("validate") and "[letters]" not in config_help("validate")
    assert "[r1]" not in config_help("validate")
    assert "[letters]" in config_help("advise") and "[limits]" not in config_help("advise")
    assert "[r1]" not in config_help("advise")
    assert "[r1]" in config_help("merge") and "[limits]" in config_help("merge")
    assert "[letters]" not in config_help("merge")


def test_help_says_shikuchoson() -> None:
    for prog, cmd in _all_commands():
        assert not re.search(r"(?<!区)市町村", docs.help_text(cmd, prog)), prog


def test_links_resolve() -> None:
    pages = [ROOT / "README.md", ROOT / "samples" / "README.md", *DOCS.rglob("*.md")]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path = target.split("#", 1)[0]
            if path and not (path in PENDING and not (page.parent / path).exists()):
                assert (page.parent / path).exists(), f"{page.relative_to(ROOT)}: broken link {target}"


def test_readme_pictures_exist_and_are_small() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pictures = re.findall(r"!\[[^\]]+\]\((docs/images/[^)]+\.png)\)", readme)
    assert {"docs/images/template.png", "docs/images/annotated.png", "docs/images/summary.png",
            "docs/images/letter.png"} <= set(pictures)
    for pic in pictures:
        data = (ROOT / pic).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 150 * 1024, pic


def test_readme_first_block_is_the_two_setup_commands() -> None:
    """CI runs the first fenced shell block of the README line by line: exactly these two."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^```(?:sh|shell|bash)\n(.*?)^```", readme, flags=re.S | re.M)
    assert block
    lines = [ln for ln in block.group(1).splitlines() if ln.strip()]
    assert len(lines) == 2
    assert "pip install" in lines[0] and "kofu-merge samples/inbox" in lines[0] and "kofu-advise" in lines[0]
    assert "pytest" in lines[1]


def test_readme_has_japanese_and_an_english_summary() -> None:
    readme = unicodedata.normalize("NFC", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert "English summary" in readme and "## 毎月の流れ" in readme
