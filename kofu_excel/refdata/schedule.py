"""The national schedule (全体スケジュール): milestones, the national population, reported
actuals; the benchmark a municipality's figures are compared with (review rule R1).

:func:`load_schedule` reads data/schedule.toml, overlaid by a user's TOML (E502 when unusable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

from kofu_excel.findings import KofuError
from kofu_excel.periods import wareki_month

from .settings import data_text, is_int, is_month, is_number, read_toml, read_user_toml, toml_date

__all__ = ["BASES", "E_SCHEDULE", "Milestone", "ReportedFigure", "Schedule", "load_schedule"]

E_SCHEDULE = "E502"  # a schedule file that cannot be used

BASES = ("low", "high", "mid")


@dataclass(frozen=True)
class Milestone:
    month: str  # YYYY-MM: the figure is cumulative to the end of that month
    low: int
    high: int
    label: str
    note: str = ""


@dataclass(frozen=True)
class ReportedFigure:
    """A reported national actual (for realism checks, never a benchmark)."""

    as_of: date
    cards: int | None
    rate: float | None
    note: str = ""


@dataclass(frozen=True)
class Schedule:
    milestones: tuple[Milestone, ...]
    national_population: int
    population_date: date
    basis: str = "low"  # which figure R1 compares against: low / high / mid
    population_source: str = ""
    reported: tuple[ReportedFigure, ...] = ()

    @property
    def months(self) -> tuple[str, ...]:
        return tuple(m.month for m in self.milestones)

    def milestone(self, month: str) -> Milestone:
        for m in self.milestones:
            if m.month == month:
                return m
        raise KeyError(f"no milestone for {month}")

    def figure(self, month: str) -> Fraction:
        """The national cumulative figure of ``month`` per :attr:`basis`."""
        m = self.milestone(month)
        if self.basis == "high":
            return Fraction(m.high)
        if self.basis == "mid":
            return Fraction(m.low + m.high, 2)
        return Fraction(m.low)

    def rate(self, month: str) -> float:
        """Figure ÷ national population: the share of residents expected to hold a card."""
        return float(self.figure(month) / self.national_population)

    def benchmark(self, population: int, month: str) -> int:
        """A municipality's expected cumulative cards: population × rate, rounded half up."""
        f = self.figure(month)
        # x = n / d; rounded half up = floor(x + 1/2), whatever the fraction's form (integers:
        # a Fraction per step cost a national summary ~0.05 s).
        n, d = population * f.numerator, f.denominator * self.national_population
        return (2 * n + d) // (2 * d)


_SCHEDULE_KEYS = {
    "benchmark",
    "national_population",
    "population_date",
    "population_source",
    "milestones",
    "reported",
}
_MILESTONE_KEYS = {"month", "low", "high", "label", "note"}
_REPORTED_KEYS = {"as_of", "cards", "rate", "note"}


@cache
def _builtin_schedule_data() -> dict[str, Any]:
    return read_toml(data_text("schedule.toml"), "組み込みのスケジュール", E_SCHEDULE)


@cache
def _builtin_schedule() -> Schedule:
    return _schedule_from(_builtin_schedule_data(), "組み込みのスケジュール")


def load_schedule(path: str | Path | None = None) -> Schedule:
    """The built-in national schedule, or it overlaid by a user's TOML of the same format.

    Top-level keys the user's file gives replace the built-in ones; a ``[[milestones]]`` list
    replaces the whole list. Anything unusable raises :class:`KofuError` E502.
    """
    if path is None:
        return _builtin_schedule()
    what = f"スケジュールファイル {Path(path).name}"
    user = read_user_toml(path, "スケジュールファイル", E_SCHEDULE)
    for key in user:
        if key not in _SCHEDULE_KEYS:
            raise KofuError(E_SCHEDULE, f"{what}: 「{key}」は不明な項目です")
    return _schedule_from({**_builtin_schedule_data(), **user}, what)


def _check_entry(entry: Any, keys: set[str], where: str,
                 bad: Callable[[str], KofuError]) -> None:
    """One [[milestones]] or [[reported]] entry: a table holding only the keys it may."""
    if not isinstance(entry, dict):
        raise bad(f"{where}が表になっていません")
    for key in entry:
        if key not in keys:
            raise bad(f"{where}: 「{key}」は不明な項目です")


def _schedule_from(d: Mapping[str, Any], what: str) -> Schedule:
    def bad(detail: str) -> KofuError:
        return KofuError(E_SCHEDULE, f"{what}: {detail}")

    basis = d.get("benchmark", "low")
    if basis not in BASES:
        raise bad(f"benchmark は {' / '.join(BASES)} のいずれかで指定してください（{basis!r}）")
    pop = d.get("national_population")
    if not is_int(pop) or pop <= 0:
        raise bad("national_population は1以上の整数で指定してください")
    try:
        pop_date = toml_date(d.get("population_date"))
    except (ValueError, TypeError):
        raise bad("population_date は日付（例: 2020-01-01）で指定してください") from None
    source = d.get("population_source", "")
    if not isinstance(source, str):
        raise bad("population_source は文字列で指定してください")

    raw = d.get("milestones")
    if not isinstance(raw, list) or not raw:
        raise bad("milestones（[[milestones]]）が1つもありません")
    milestones: list[Milestone] = []
    for i, m in enumerate(raw, 1):
        where = f"milestones の{i}番目"
        _check_entry(m, _MILESTONE_KEYS, where, bad)
        month = m.get("month")
        if not is_month(month):
            raise bad(f"{where}: month は YYYY-MM（例: 2020-07）で指定してください")
        low, high = m.get("low"), m.get("high")
        if not (is_int(low) and is_int(high) and 0 <= low <= high):
            raise bad(f"{where}: low と high は 0 以上の整数で、low ≦ high としてください")
        label, note = m.get("label", f"{wareki_month(month)}末"), m.get("note", "")
        if not isinstance(label, str) or not isinstance(note, str):
            raise bad(f"{where}: label と note は文字列で指定してください")
        if milestones:
            prev = milestones[-1]
            if month <= prev.month:
                raise bad(f"{where}: month は古い順に、重複なく並べてください")
            if low < prev.low or high < prev.high:
                raise bad(f"{where}: 累計の想定が前の時点（{prev.month}）より減っています")
        milestones.append(Milestone(month, low, high, label, note))

    reported: list[ReportedFigure] = []
    for i, r in enumerate(d.get("reported", []) or [], 1):
        where = f"reported の{i}番目"
        _check_entry(r, _REPORTED_KEYS, where, bad)
        try:
            as_of = toml_date(r.get("as_of"))
        except (ValueError, TypeError):
            raise bad(f"{where}: as_of は日付で指定してください") from None
        cards, rate, note = r.get("cards"), r.get("rate"), r.get("note", "")
        if cards is not None and not (is_int(cards) and cards >= 0):
            raise bad(f"{where}: cards は 0 以上の整数で指定してください")
        if rate is not None and not (is_number(rate) and 0 <= rate <= 1):
            raise bad(f"{where}: rate は 0 ～ 1 の数で指定してください")
        if not isinstance(note, str):
            raise bad(f"{where}: note は文字列で指定してください")
        reported.append(
            ReportedFigure(as_of, cards, float(rate) if rate is not None else None, note)
        )
    return Schedule(tuple(milestones), pop, pop_date, basis, source, tuple(reported))


# --------------------------------------------------------------------------------------------
