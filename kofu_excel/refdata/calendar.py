"""The office calendar: public holidays 2019-10 … 2023-03 (data/holidays.csv), the days a
municipal office is closed, and the working days of a quarter (review rule R2's capacity)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from functools import cache

from kofu_excel.periods import quarter_months

from .settings import data_text

__all__ = ["closed_days", "holiday_names", "holidays", "is_year_end", "working_days"]

# holidays.csv covers exactly this span.
HOLIDAYS_FIRST = date(2019, 10, 1)
HOLIDAYS_LAST = date(2023, 3, 31)


@cache
def holiday_names() -> dict[date, str]:
    """Public holidays 2019-10-01 … 2023-03-31 (国民の祝日, 振替休日, 国民の休日) → name."""
    rows = csv.DictReader(io.StringIO(data_text("holidays.csv")))
    return {date.fromisoformat(r["date"]): r["name"] for r in rows}


@cache
def holidays() -> frozenset[date]:
    return frozenset(holiday_names())


def is_year_end(d: date) -> bool:
    """年末年始 (12-29 … 01-03): not public holidays, but offices are closed by ordinance."""
    return (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)


def closed_days(first: date, last: date) -> set[date]:
    """Days in ``first … last`` (inclusive) on which a municipal office is normally closed:
    Saturdays, Sundays, public holidays and the year-end closure (12-29 … 01-03).

    Raises ``ValueError`` outside the span whose holidays are known (2019-10 … 2023-03).
    """
    if first > last:
        return set()
    if first < HOLIDAYS_FIRST or last > HOLIDAYS_LAST:
        raise ValueError(f"holidays are known for {HOLIDAYS_FIRST} … {HOLIDAYS_LAST} only")
    hol = holidays()
    out: set[date] = set()
    d = first
    while d <= last:
        if d.weekday() >= 5 or d in hol or is_year_end(d):
            out.add(d)
        d += timedelta(days=1)
    return out


def _quarter_span(quarter: str) -> tuple[date, date]:
    if not re.fullmatch(r"\d{4}Q[1-4]", quarter):
        raise ValueError(f"not a quarter key (YYYYQn): {quarter!r}")
    first_month, _m2, last_month = quarter_months(quarter)
    first = date(int(first_month[:4]), int(first_month[5:]), 1)
    y, m = int(last_month[:4]), int(last_month[5:])
    last = date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)
    return first, last


def working_days(quarter: str) -> int:
    """Working days of a calendar quarter (2019Q4): weekdays less public holidays and the
    year-end closure."""
    first, last = _quarter_span(quarter)
    return (last - first).days + 1 - len(closed_days(first, last))
