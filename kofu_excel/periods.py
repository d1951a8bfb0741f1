"""The period axes of the forms, written one way everywhere.

Months ``YYYY-MM``; calendar quarters ``YYYYQn`` (2019Q4 = Oct–Dec 2019 = 令和元年度第3四半期);
fiscal years ``FYyyyy`` (FY2019 = 令和元年度, April 2019 – March 2020).
"""

from __future__ import annotations

from datetime import date
from functools import cache

FIRST_MONTH = "2019-10"
LAST_MONTH = "2023-03"

# Eras the normaliser and the letters know. Only these three: a whole-history table makes
# abbreviations such as R/H ambiguous.
ERAS: tuple[tuple[str, str, date], ...] = (
    ("令和", "R", date(2019, 5, 1)),
    ("平成", "H", date(1989, 1, 8)),
    ("昭和", "S", date(1926, 12, 25)),
)


def month_key(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def month_date(key: str) -> date:
    return date(int(key[:4]), int(key[5:7]), 1)


def add_months(key: str, n: int) -> str:
    y, m = int(key[:4]), int(key[5:7]) - 1 + n
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


@cache
def months(first: str = FIRST_MONTH, last: str = LAST_MONTH) -> tuple[str, ...]:
    out = [first]
    while out[-1] != last:
        out.append(add_months(out[-1], 1))
    return tuple(out)


def quarter_of(month: str) -> str:
    """Calendar quarter of a month key: 2019-10 → 2019Q4."""
    return f"{month[:4]}Q{(int(month[5:7]) - 1) // 3 + 1}"


def fiscal_year_of(month: str) -> str:
    """Fiscal year (April–March) of a month key: 2020-03 → FY2019."""
    y, m = int(month[:4]), int(month[5:7])
    return f"FY{y if m >= 4 else y - 1}"


@cache
def quarters(first: str = FIRST_MONTH, last: str = LAST_MONTH) -> tuple[str, ...]:
    return tuple(dict.fromkeys(quarter_of(m) for m in months(first, last)))


@cache
def fiscal_years(first: str = FIRST_MONTH, last: str = LAST_MONTH) -> tuple[str, ...]:
    return tuple(dict.fromkeys(fiscal_year_of(m) for m in months(first, last)))


def quarter_months(q: str) -> tuple[str, str, str]:
    y, n = int(q[:4]), int(q[5])
    return tuple(f"{y:04d}-{3 * (n - 1) + i:02d}" for i in (1, 2, 3))  # type: ignore[return-value]


def era_of(d: date) -> tuple[str, int]:
    for name, _abbr, start in ERAS:
        if d >= start:
            return name, d.year - start.year + 1
    raise ValueError(f"date before 昭和: {d}")


def _era_year(name: str, year: int) -> str:
    return f"{name}{'元' if year == 1 else year}年"


def wareki_date(d: date) -> str:
    """令和元年10月1日 — the form officials write dates in."""
    name, year = era_of(d)
    return f"{_era_year(name, year)}{d.month}月{d.day}日"


def wareki_month(key: str) -> str:
    """2019-10 → 令和元年10月."""
    d = month_date(key)
    name, year = era_of(d)
    return f"{_era_year(name, year)}{d.month}月"


def fiscal_year_label(fy: str) -> str:
    """FY2019 → 令和元年度."""
    # FY2019 is called 令和元年度 although April 2019 was still 平成.
    name, year = era_of(date(int(fy[2:]), 5, 1))
    return f"{name}{'元' if year == 1 else year}年度"


def quarter_label(q: str) -> str:
    """2019Q4 → 令和元年度第3四半期（10～12月）: labels say the fiscal quarter."""
    first = quarter_months(q)[0]
    fy = fiscal_year_of(first)
    fq = (int(q[5]) + 2) % 4 + 1
    m1, m3 = int(first[5:7]), int(first[5:7]) + 2
    return f"{fiscal_year_label(fy)}第{fq}四半期（{m1}～{m3}月）"
