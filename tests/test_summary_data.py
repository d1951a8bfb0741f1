"""The summary's データ rows, made in a process beside the main one or in it: the same workbook.

kofu_excel/summary/data.py makes a large データ (a national merge) in a child process while the
other sheets are written, and a small one here; a child that fails or dies is replaced by making
the rows here. Every path must give the same bytes, and no child may outlive the summary.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
from typing import Any

import openpyxl
import pytest

from kofu_excel import procs
from kofu_excel.merge import merge
from kofu_excel.model import BatchOptions
from kofu_excel.summary import data as data_mod
from kofu_excel.summary import summary_bytes


@pytest.fixture(scope="module")
def summary(tmp_path_factory, make_sample, master) -> Any:
    """鳥取県's plans and monthly reports, merged: the Summary the writer is given."""
    root = tmp_path_factory.mktemp("inbox-data")
    for kind in ("plan", "monthly"):
        for p in make_sample(kind, pref="31").files:
            shutil.copy(p, root / p.name)
    result = merge([root], tmp_path_factory.mktemp("out") / "s.xlsx", BatchOptions(master=master))
    assert result.summary is not None
    return result.summary


class Spy:
    """Records what each Beside child gave (None: it failed, or none was started)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.results: list[Any] = []
        real = procs.Beside.result

        def result(beside: procs.Beside) -> Any:
            got = real(beside)
            self.results.append(got)
            return got

        monkeypatch.setattr(procs.Beside, "result", result)


def _here(summary: Any, monkeypatch: pytest.MonkeyPatch) -> bytes:
    with monkeypatch.context() as m:
        m.setattr(data_mod, "BESIDE_VALUES", 10**12)
        spy = Spy(m)
        made = summary_bytes(summary)
    assert spy.results == []  # no child for a small データ
    return made


def test_data_rows_made_beside_give_the_same_workbook_as_made_here(summary, monkeypatch):
    here = _here(summary, monkeypatch)
    monkeypatch.setattr(data_mod, "BESIDE_VALUES", 0)
    monkeypatch.setattr(data_mod, "cores", lambda: 2)
    spy = Spy(monkeypatch)
    beside = summary_bytes(summary)
    assert len(spy.results) == 1 and spy.results[0] is not None  # the child made the rows
    assert beside == here
    assert multiprocessing.active_children() == []


def test_data_rows_made_by_a_spawned_child_give_the_same_workbook(summary, monkeypatch):
    """Windows' start method: the values are pickled to a fresh interpreter."""
    here = _here(summary, monkeypatch)
    monkeypatch.setattr(data_mod, "BESIDE_VALUES", 0)
    monkeypatch.setattr(data_mod, "cores", lambda: 2)
    monkeypatch.setenv("KOFU_START_METHOD", "spawn")
    spy = Spy(monkeypatch)
    assert summary_bytes(summary) == here
    assert len(spy.results) == 1 and spy.results[0] is not None
    assert multiprocessing.active_children() == []


def _dies(send: Any, fn: Any, args: Any) -> None:
    os._exit(3)


_BESIDE_MAIN = procs._beside_main


def _fails(send: Any, fn: Any, args: Any) -> None:
    _BESIDE_MAIN(send, _raise, ())  # the child's own code, with work that raises


def _raise() -> None:
    raise MemoryError


@pytest.mark.parametrize("child", [_dies, _fails], ids=["dies", "raises"])
def test_a_child_that_fails_costs_nothing_but_time(summary, monkeypatch, child):
    here = _here(summary, monkeypatch)
    monkeypatch.setattr(data_mod, "BESIDE_VALUES", 0)
    monkeypatch.setattr(data_mod, "cores", lambda: 2)
    monkeypatch.setattr(procs, "_beside_main", child)
    spy = Spy(monkeypatch)
    assert summary_bytes(summary) == here
    assert spy.results == [None]  # the rows were made here instead
    assert multiprocessing.active_children() == []


def test_one_core_makes_the_rows_here(summary, monkeypatch):
    monkeypatch.setattr(data_mod, "BESIDE_VALUES", 0)
    monkeypatch.setattr(data_mod, "cores", lambda: 1)
    spy = Spy(monkeypatch)
    summary_bytes(summary)
    assert spy.results == []


def test_a_summary_stopped_while_its_child_works_leaves_no_process(summary, monkeypatch):
    monkeypatch.setattr(data_mod, "BESIDE_VALUES", 0)
    monkeypatch.setattr(data_mod, "cores", lambda: 2)
    from kofu_excel import summary as summary_pkg

    def interrupted(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(summary_pkg, "SHEET_STEPS", (summary_pkg.SHEET_STEPS[0], interrupted))
    with pytest.raises(KeyboardInterrupt):
        summary_bytes(summary)
    assert multiprocessing.active_children() == []


def test_data_sheet_holds_every_value_with_texts_and_numbers_in_place(summary, monkeypatch):
    monkeypatch.setattr(data_mod, "BESIDE_VALUES", 0)
    monkeypatch.setattr(data_mod, "cores", lambda: 2)
    wb = openpyxl.load_workbook(io.BytesIO(summary_bytes(summary)), read_only=True)
    rows = list(wb["データ"].values)
    expected = sum(1 for kind, got in summary.values.items() if got for v in got.values()
                   for cid in v if cid in data_mod.tidy_index(kind))
    assert len(rows) - 1 == expected
    codes = {r[0] for r in rows[1:]}
    assert codes == {c for got in summary.values.values() for c in got}
    assert any(isinstance(r[5], str) for r in rows[1:]) and any(isinstance(r[5], int) for r in rows[1:])


def test_rows_started_before_the_review_give_the_workbook_made_without_them(tmp_path, make_sample, master,
                                                                            monkeypatch):
    """kofu-merge starts データ's rows (in a child) before its review: the file it writes is the
    one the summary gives when its rows are made at the end, here."""
    monkeypatch.setattr(data_mod, "BESIDE_VALUES", 0)
    monkeypatch.setattr(data_mod, "cores", lambda: 2)
    spy = Spy(monkeypatch)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for p in make_sample("plan", pref="31").files:
        shutil.copy(p, inbox / p.name)
    result = merge([inbox], tmp_path / "s.xlsx", BatchOptions(master=master))
    assert len(spy.results) == 1 and spy.results[0] is not None  # made by the early child
    assert multiprocessing.active_children() == []
    monkeypatch.setattr(data_mod, "BESIDE_VALUES", 10**12)
    assert (tmp_path / "s.xlsx").read_bytes() == summary_bytes(result.summary)


def _stuck() -> None:
    import time

    time.sleep(600)


def test_a_child_that_hangs_is_given_up_and_ended(monkeypatch):
    """A child stuck (on a lock another thread held when it was forked, say) costs a bounded
    wait: the caller gets None, does the work itself, and the child is ended."""
    monkeypatch.setattr(procs, "RESULT_TIMEOUT", 0.5)
    beside = procs.Beside(_stuck)
    assert beside.result() is None
    assert multiprocessing.active_children() == []


def test_a_summary_with_spliced_rows_opens_in_libreoffice_with_every_row(summary, monkeypatch, tmp_path):
    """The spliced deflate streams (rows deflated on a thread, データ deflated in the child) are
    read by LibreOffice like any other: its own copy of the workbook holds every row."""
    from conftest import convert, data_rows

    from kofu_excel.write import xlsx

    monkeypatch.setattr(data_mod, "BESIDE_VALUES", 0)
    monkeypatch.setattr(data_mod, "cores", lambda: 2)
    monkeypatch.setattr(xlsx, "SPILL_ROWS", 8)  # every table sheet spills to the thread too
    src = tmp_path / "とりまとめ.xlsx"
    src.write_bytes(summary_bytes(summary))
    out_dir = tmp_path / "lo"
    out_dir.mkdir()
    again = convert(src, "xlsx:Calc MS Excel 2007 XML", out_dir)
    assert data_rows(again) == data_rows(src)
    wb, wb_lo = (openpyxl.load_workbook(p, read_only=True) for p in (src, again))
    for name in ("市町村別一覧", "交付枚数想定", "交付体制"):
        assert [r[:3] for r in wb[name].values] == [r[:3] for r in wb_lo[name].values], name
