"""What the validation rules share: the rule type, its marker and a vectorised helper."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..prepare import Run

Rule = Callable[[Run], None]


def rule(*codes: str) -> Callable[[Rule], Rule]:
    """Mark a function as the rule of ``codes`` (a test checks them against the codes table)."""
    def mark(fn: Rule) -> Rule:
        fn.codes = codes  # type: ignore[attr-defined]
        return fn
    return mark


def first_true(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows having a True, column of their first True)."""
    has = m.any(axis=1)
    return np.flatnonzero(has), m.argmax(axis=1)[has]
