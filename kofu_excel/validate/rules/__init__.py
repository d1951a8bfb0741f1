"""The validation rules beyond each field's type, one small function per rule, registered per
form kind in the manner of FAC's ``checks = general_checks + [...]``. Each rule takes the
:class:`~kofu_excel.validate.prepare.Run` and adds its findings; they run in the listed order.
To add a rule: its code in ``kofu_excel/codes.py``, a function marked ``@rule("E…")`` in the
module of its form, listed in that module's ``RULES``.
"""

from __future__ import annotations

from . import monthly, plan
from .base import Rule
from .general import GENERAL

RULES: dict[str, list[Rule]] = {
    "plan": GENERAL + plan.RULES,
    "monthly": GENERAL + monthly.RULES,
}
