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


def _finalize(value: Any) -> Any:
    """Every printed value: no control characters (they break XML and docx)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _CONTROL.sub("", value)
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
        loaders.append(FileSystemLoader(str(folder), encoding="utf-8"))
    loaders.append(_ResourceLoader(_template_root()))
    cls = SandboxedEnvironment if templates_dir is not None else Environment
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
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


def render_template(env: Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render a template; every template fault becomes one clear E602 message."""
    try:
        return env.get_template(name).render(context)
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
    except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError) as exc:
        raise KofuError(E_TEMPLATE, f"テンプレート {name} の処理中にエラーが発生しました"
                                    f"（{type(exc).__name__}: {exc}）") from None
