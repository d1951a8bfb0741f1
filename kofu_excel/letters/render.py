"""THE Jinja environment of the letters, and rendering with one clear E602 per template fault.

The package's templates are in ``templates/`` beside this module (package data); a user's
folder (``--templates DIR``) is searched first and then runs sandboxed. Municipal text (names,
finding messages, cell values) only ever reaches a template as a context value, never as
template source. StrictUndefined (a typo in a template is an error, not a blank), autoescape
for html and for the docx mini-markup (XML).

To change the wording, copy a file of ``templates/`` into a folder of your own, edit it and pass
``--templates FOLDER``: a file there replaces the one of the same name. All wording is in
``_wording.j2``; the ``_letter.*.j2`` files lay it out for each format.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    select_autoescape,
)
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup

from ..findings import KofuError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

E_TEMPLATE = "E602"  # a letter template cannot be used
MARKUP_FORMATS = ("docx", "html")  # escaped: html, and the XML markup docx is built from
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _template_root() -> Traversable:
    """The package's templates: ``templates/`` beside this module, from a checkout, an installed
    package, a wheel or a zip alike."""
    return resources.files(__package__).joinpath("templates")


class _ResourceLoader(BaseLoader):
    """Loads templates from a package resource folder (works from a wheel or a zip too)."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool]]:
        node = self.root
        for part in split_template_path(template):  # refuses '..'
            node = node.joinpath(part)
        if not node.is_file():
            raise TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), f"kofu_excel/letters/templates/{template}", lambda: True

    def list_templates(self) -> list[str]:
        return sorted(n.name for n in self.root.iterdir() if n.name.endswith(".j2"))


MAX_TEMPLATE_BYTES = 1 << 20  # a user's template file (a few KB in practice)
MAX_ITEMS = 1_000_000  # range() items one rendering may make, over all its loops
MAX_TEXT = 10_000_000  # characters of a product ("x" * n, [..] * n) or of one rendering


class _Budget:
    """What one rendering of a user's template may still spend: ``range(10**10)`` or nested
    ``range(100000)`` loops end as E602 instead of running for hours."""

    def __init__(self) -> None:
        self.items = MAX_ITEMS

    def range(self, *args: int) -> range:
        r = range(*args)
        self.items -= len(r)
        if self.items < 0:
            raise SecurityError(f"繰り返しの回数が多すぎます（range の合計 {MAX_ITEMS:,} 回まで）")
        return r


class _BoundedFileSystemLoader(FileSystemLoader):
    """A user's template folder, each file read as a side file: a regular file of at most
    MAX_TEMPLATE_BYTES (never a device or FIFO a name may point to)."""

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        from ..sidefiles import read_side_file

        pieces = split_template_path(template)  # refuses '..'
        for root in self.searchpath:
            path = os.path.join(root, *pieces)
            if not os.path.lexists(path):
                continue
            data = read_side_file(path, "文書のテンプレート", E_TEMPLATE, MAX_TEMPLATE_BYTES)
            try:
                return data.decode(self.encoding), os.path.normpath(path), lambda: True
            except UnicodeDecodeError:
                raise KofuError(E_TEMPLATE, f"文書のテンプレート {template}: UTF-8 で保存してください") from None
        raise TemplateNotFound(template)


class _Sandbox(SandboxedEnvironment):
    """The sandbox for a user's templates, with sizes capped: range() items per rendering and
    the length of ``*`` / ``**`` results (a template cannot allocate gigabytes)."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 1000:
            raise SecurityError("べき乗の指数が大きすぎます")
        if operator == "*" and isinstance(left, int) and isinstance(right, (str, list, tuple)):
            left, right = right, left
        if operator == "*" and isinstance(left, (str, list, tuple)) and isinstance(right, int) \
                and len(left) * right > MAX_TEXT:
            raise SecurityError("文字列・リストの繰り返しが長すぎます")
        return super().call_binop(context, operator, left, right)


def _finalize(value: Any) -> Any:
    """Every printed value: no control characters (they break XML and docx)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _CONTROL.sub("", value)
    return value


# Markdown is mostly read rendered to HTML: a cell's "<script>" or "![x](http://…)" must stay
# text. Entities, not backslashes: the escape is idempotent (a macro's output, already escaped,
# is printed again by the layout) and plain text is untouched.
_MD_ESCAPES = {"<": "&lt;", ">": "&gt;", "[": "&#91;", "]": "&#93;"}
_MD_SPECIAL = re.compile("[<>\\[\\]]")


def _finalize_md(value: Any) -> Any:
    value = _finalize(value)
    if isinstance(value, str):
        return _MD_SPECIAL.sub(lambda m: _MD_ESCAPES[m.group()], value)
    return value


def make_environment(templates_dir: str | Path | None = None, fmt: str = "html") -> Environment:
    """THE Jinja environment of the letters: a user's folder first (sandboxed), then ours.

    Escaping is decided per template name, and for the shared parts (``_wording.j2``) by the
    output format: a macro's text takes the escaping of the template that calls it, so a
    shared part must be compiled with the same setting as the html/docx layout using it, or
    municipal text would reach the output unescaped.
    """
    loaders: list[BaseLoader] = []
    if templates_dir is not None:
        folder = Path(templates_dir)
        if not folder.is_dir():
            raise KofuError(E_TEMPLATE, f"テンプレートのフォルダ {folder} が見つかりません")
        loaders.append(_BoundedFileSystemLoader(str(folder), encoding="utf-8"))
    loaders.append(_ResourceLoader(_template_root()))
    cls = _Sandbox if templates_dir is not None else Environment
    return cls(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        # html and the docx markup (XML) are escaped; markdown is text.
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2", "docx.j2"),
            disabled_extensions=("md", "txt", "md.j2", "txt.j2"),
            default_for_string=True,
            default=fmt in MARKUP_FORMATS,
        ),
        finalize=_finalize if fmt in MARKUP_FORMATS else _finalize_md,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


def render_template(env: Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render a template; every template fault becomes one clear E602 message."""
    try:
        template = env.get_template(name)
        if not isinstance(env, _Sandbox):
            return template.render(context)
        # A user's template: its range() and its output are bounded (see _Budget, MAX_TEXT).
        # The budget is a global, so macros imported without context draw on it too.
        env.globals["range"] = _Budget().range
        parts: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_TEXT:
                raise SecurityError(f"文書が長すぎます（{MAX_TEXT:,} 文字まで）")
            parts.append(chunk)
        return "".join(parts)
    except TemplateNotFound as exc:
        raise KofuError(E_TEMPLATE, f"文書のテンプレート {exc.name} が見つかりません") from None
    except TemplateSyntaxError as exc:
        where = f"{Path(exc.filename).name if exc.filename else exc.name or name}（{exc.lineno}行目）"
        raise KofuError(E_TEMPLATE, f"テンプレート {where} の書き方に誤りがあります: {exc.message}") from None
    except UndefinedError as exc:
        raise KofuError(E_TEMPLATE, f"テンプレート {name} に未定義の名前があります（{exc.message}）。"
                                    "名前の綴りを確認してください") from None
    except SecurityError as exc:
        raise KofuError(E_TEMPLATE, f"テンプレート {name} で許可されていない操作です（{exc}）") from None
    except TemplateError as exc:
        raise KofuError(E_TEMPLATE, f"テンプレート {name} を処理できません（{exc}）") from None
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise KofuError(E_TEMPLATE, f"テンプレート {name} の処理が大きすぎます（{type(exc).__name__}）。"
                                    "繰り返し・再帰の回数を確認してください") from None
    except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError) as exc:
        raise KofuError(E_TEMPLATE, f"テンプレート {name} の処理中にエラーが発生しました"
                                    f"（{type(exc).__name__}: {exc}）") from None
