"""The console scripts (``kofu``, ``kofu-merge`` …): light until the command is loaded.

Loading the commands imports click and the options only; each command imports the library it
needs (pandas, pandera, openpyxl …) when it runs, so ``--help`` and usage errors are instant
(tests/test_startup.py). A Ctrl-C during start-up would otherwise print a Python traceback;
here it is the same one E990 line and exit status 130 as a Ctrl-C while the command runs
(cli/common.py handles that part).
"""

from __future__ import annotations

from . import console


def _run(name: str) -> None:
    with console.sigterm_as_interrupt():  # SIGTERM is Ctrl-C from the first line (exit 143)
        try:
            console.setup()
            from . import group

            command = getattr(group, name)
        except KeyboardInterrupt as exc:
            console.interrupted(exc)
        try:
            command.main()  # always ends in SystemExit with the command's status
        except SystemExit:
            console.finished()  # done and said: a Ctrl-C from here to the exit changes nothing
            raise
        except KeyboardInterrupt as exc:  # between parsing and the command's own handler
            console.interrupted(exc)


def kofu() -> None:
    _run("main")


def kofu_template() -> None:
    _run("template_main")


def kofu_validate() -> None:
    _run("validate_main")


def kofu_merge() -> None:
    _run("merge_main")


def kofu_advise() -> None:
    _run("advise_main")
