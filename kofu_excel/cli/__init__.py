"""Command-line interface: ``kofu`` (a group) and the ``kofu-X`` scripts (the same commands).

The CLI only parses options, calls one library function, renders the result and sets the
exit code; the library never prints or exits.

This package is light on purpose: ``main``, ``merge_main`` … are loaded from
:mod:`kofu_excel.cli.group` when first asked for, so that the console scripts
(:mod:`kofu_excel.cli.entry`) can catch a Ctrl-C during the heavy imports.
"""

from __future__ import annotations

from typing import Any

_COMMANDS = ("main", "template_main", "validate_main", "merge_main", "advise_main")


def __getattr__(name: str) -> Any:
    if name in _COMMANDS:
        from . import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
