"""The one table of codes and the rule registries agree, and what is derived from it matches."""

from __future__ import annotations

import re
import string

from kofu_excel import codes
from kofu_excel.contract import SEVERITIES
from kofu_excel.findings import CODES
from kofu_excel.review import CHECKS, RULES, kind_of
from kofu_excel.validate.rules import RULES as VALIDATION_RULES


def _rule_codes(registry: dict) -> dict[str, str]:
    return {c: fn.__name__ for rules in registry.values() for fn in rules for c in fn.codes}


def test_every_review_rule_code_is_in_the_table_and_every_review_code_has_a_rule() -> None:
    registered = _rule_codes(RULES)
    assert set(registered) <= set(codes.TABLE), "a rule's code is missing from kofu_excel/codes.py"
    table = {c for c in codes.TABLE if c[0] in "RF"}
    assert table == codes.review_codes()
    assert table <= set(registered), f"R/F codes with no rule: {table - set(registered)}"


def test_every_validation_rule_code_is_in_the_table() -> None:
    registered = _rule_codes(VALIDATION_RULES)
    assert registered and set(registered) <= set(codes.TABLE)
    for code in registered:
        assert codes.TABLE[code].form in ("any", *[k for k, rules in VALIDATION_RULES.items()
                                                   if any(code in fn.codes for fn in rules)])


def test_the_derived_views() -> None:
    assert {c: e.title for c, e in codes.TABLE.items()} == CODES
    assert dict(CHECKS) == {c: e.check for c, e in codes.TABLE.items() if e.check}
    assert codes.advice_codes() == {c for c in codes.TABLE if re.fullmatch(r"R\d{3}|F10[12]", c)}
    assert codes.not_ours_codes() == {"E120", "E206", "E207"}
    assert all(kind_of(c) == ("monthly" if c.startswith("F") else "plan") for c in CHECKS)
    assert codes.check_of("F999") == "第4-2" and codes.check_of("R999") == "第4-1(1)"


def test_every_template_names_only_words() -> None:
    for c in codes.TABLE.values():
        assert c.severity in SEVERITIES
        for text in c.messages.values():
            names = [f for _, f, _, _ in string.Formatter().parse(text) if f]
            assert all(n.isidentifier() for n in names), (c.code, names)
