"""The ``kofu`` group and the ``kofu-X`` commands (the same click commands).

Importing this module imports every command's options, not the library: each command imports
what it uses when it runs (pandas, pandera … only then), so ``--help`` stays instant.
"""

from __future__ import annotations

import click

from .advise import advise_cmd
from .common import KofuGroup
from .merge import merge_cmd
from .serve import serve_cmd
from .template import template_cmd
from .tools import fields_cmd, sample_cmd
from .validate import validate_cmd


@click.group(help="マイナンバーカード交付円滑化計画の様式作成・検証・とりまとめ・助言ツール。\n\n"
                  "kofu-excel: templates, validation, merge and advice letters for the "
                  "My Number Card issuance facilitation plan.",
             cls=KofuGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kofu-excel",
                      help="バージョンを表示して終了します / Show the version and exit.")
def main() -> None:
    pass


for _cmd in (template_cmd, validate_cmd, merge_cmd, advise_cmd, fields_cmd, sample_cmd, serve_cmd):
    main.add_command(_cmd)

# The kofu-X scripts are the very same click commands.
template_main = template_cmd
validate_main = validate_cmd
merge_main = merge_cmd
advise_main = advise_cmd
