"""Settle: duplicates, then resubmissions, so that one workbook per municipality and form counts.

Its own stage, after the reader has filled each item's kind, municipality code, revision and
submission date: byte-identical copies become "duplicate", and of the rest the latest
submission of each (municipality, kind) is "accepted", the others "superseded".

A rejected workbook followed by a corrected resubmission that was accepted is settled by it:
"superseded" too, keeping its error code, with a reason that says both facts (it was rejected,
and which later submission settled it). It is then no open problem: not outstanding, not in the
findings, no exit status 1. A rejected workbook later than the accepted one stays rejected.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .intake.items import Item

__all__ = ["settle"]

_EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)
_PARTICIPANTS = ("candidate", "accepted", "superseded", "duplicate")


def settle(items: list[Item]) -> None:
    """Duplicates, then resubmissions: one accepted workbook per (municipality, kind).

    Byte-identical copies of a candidate become "duplicate" (the first in order stays). Then per
    (muni_code, kind) the latest wins - highest revision, then latest submitted_on, e-mail Date,
    file time, and finally later in order; the others become "superseded". Rejected, ignored and
    opened items are left as they are. Calling it twice gives the same result.
    """
    first_copy: dict[str, Item] = {}
    pool: list[tuple[int, Item]] = []
    for order, item in enumerate(items):
        if item.status not in _PARTICIPANTS or (item.status == "superseded" and item.code):
            continue  # (a settled rejection keeps its code: it never competes again)
        key = hashlib.sha256(item.data).hexdigest() if item.decrypted and item.data is not None else item.sha256
        original = first_copy.get(key) if key else None
        if original is not None:
            item.status, item.code = "duplicate", ""
            item.reason = f"{original.where} と同じ内容のため、重複として扱います"
            continue
        if key:
            first_copy[key] = item
        pool.append((order, item))

    groups: dict[tuple[str, str], list[tuple[int, Item]]] = {}
    for order, item in pool:
        group = (item.muni_code, item.kind) if item.kind else ("", f"#{order}")
        groups.setdefault(group, []).append((order, item))
    winners: dict[tuple[str, str], tuple[int, Item]] = {}
    for group, members in groups.items():
        order, winner = max(members, key=_rank)
        winners[group] = (order, winner)
        for _, item in members:
            if item is winner:
                item.status, item.code, item.reason = "accepted", "", "取り込みました"
            else:
                item.status, item.code = "superseded", ""
                item.reason = f"より新しい提出（{winner.where}）があるため採用しません"
    for order, item in enumerate(items):
        won = winners.get((item.muni_code, item.kind)) if item.muni_code and item.kind else None
        if item.status != "rejected" or won is None or _rank(won) <= _rank((order, item)):
            continue
        first = item.reason.split("（ほか ")[0] if item.reason.endswith("件のエラー）") else item.reason
        item.status = "superseded"
        item.reason = (f"不受理（{item.code} {first}）でしたが、より新しい提出（{won[1].where}）を"
                       "受理したため解決済みです")


def _rank(entry: tuple[int, Item]) -> tuple[Any, ...]:
    """The later submission ranks higher: revision, 提出日, e-mail Date, file time, order."""
    order, it = entry
    return (it.revision, it.submitted_on or date.min, it.email_date or _EPOCH, it.mtime, order)
