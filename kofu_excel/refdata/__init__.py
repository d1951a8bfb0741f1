"""Reference data: the municipality master, the national schedule, review settings, holidays.

Everything here is data shipped under ``kofu_excel/data/`` (see ``data/SOURCES.md``), read with
:mod:`importlib.resources`, and replaceable for a run by a user's file:

- :mod:`.codes` — municipality codes (check digits, padding) and name folding;
- :mod:`.master` — :func:`load_master`: 1,741 municipalities and 47 prefectures (codes, names,
  kind); a user's CSV/xlsx master replaces the list for that run and brings population (人口)
  and its date;
- :mod:`.schedule` — :func:`load_schedule`: the national schedule (全体スケジュール) and the
  national population;
- :mod:`.settings` — :func:`load_config`: review thresholds (docs/spec/checks.md), letter settings and
  the operator's intake ``[limits]``;
- :mod:`.calendar` — :func:`holidays`, :func:`closed_days`, :func:`working_days`: the office
  calendar.

A file that cannot be used raises :class:`~kofu_excel.findings.KofuError` with a Japanese
message: E501 master, E502 schedule, E503 config, E504 a prefecture or municipality asked for
that the master does not hold. Nothing here prints or exits. Refdata sits below every stage:
it imports none of them (an xlsx master is pre-checked through :mod:`kofu_excel.formats`).
"""

from __future__ import annotations

from .calendar import closed_days, holiday_names, holidays, is_year_end, working_days
from .codes import check_digit, fold_name, is_prefecture_code, is_valid_code, pad_code
from .master import KINDS, Master, Municipality, load_master, openpyxl_defused, parse_date
from .schedule import BASES, Milestone, ReportedFigure, Schedule, load_schedule
from .settings import ReviewConfig, load_config

__all__ = [
    "BASES",
    "KINDS",
    "Master",
    "Milestone",
    "Municipality",
    "ReportedFigure",
    "ReviewConfig",
    "Schedule",
    "check_digit",
    "closed_days",
    "fold_name",
    "holiday_names",
    "holidays",
    "is_prefecture_code",
    "is_valid_code",
    "is_year_end",
    "load_config",
    "load_master",
    "load_schedule",
    "openpyxl_defused",
    "pad_code",
    "parse_date",
    "working_days",
]
