"""What the validation rules share: the rule type, its marker and a vectorised helper."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...codes import rule
from ..prepare import Run

__all__ = ["Rule", "first_true", "rule"]

Rule = Callable[[Run], None]


def first_true(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows having a True, column of their first True)."""
    has = m.any(axis=1)
    return np.flatnonzero(has), m.argmax(axis=1)[has]
