"""Intake and reading in worker processes: same result as one process; a crash costs one file."""

from __future__ import annotations

import faulthandler
import os
import shutil

import pytest

from kofu_excel import procs
from kofu_excel.model import BatchOptions
from kofu_excel.pipeline import pool as parallel
from kofu_excel.pipeline.batch import load_batch


@pytest.fixture()
def inbox(tmp_path, make_sample):
    src = make_sample("plan", count=12, seed=5)
    for p in src.files:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "memo.txt").write_text("提出します", encoding="utf-8")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 truncated")
    return tmp_path


def _summary(batch):
    items = [(it.path, it.member, it.status, it.code, it.muni_code) for it in batch.items]
    books = sorted((b.item_index, b.status, sorted(b.values.items(), key=str)) for b in batch.books)
    return items, books


@pytest.fixture(scope="module")
def mixed_inbox(tmp_path_factory, make_sample):
    """Plans (clean and with errors, some for the same municipalities) and monthly reports."""
    root = tmp_path_factory.mktemp("mixed")
    for kind, opts in (("plan", {"count": 6, "seed": 5}), ("plan", {"count": 6, "seed": 7, "errors": True}),
                       ("monthly", {"count": 5, "seed": 5})):
        for p in make_sample(kind, **opts).files:
            shutil.copy(p, root / f"{kind}-{opts['seed']}-{p.name}")
    return root


def _findings(batch):
    return sorted((b.item_index, f.code, f.field or "", f.message) for b in batch.books for f in b.findings)


def test_validating_in_chunks_gives_the_same_batch_as_all_at_once(mixed_inbox, master, monkeypatch):
    from kofu_excel.pipeline import batch as batch_mod

    whole = load_batch([mixed_inbox], BatchOptions(master=master))
    monkeypatch.setattr(batch_mod, "VALIDATE_CHUNK", 2)
    chunked = load_batch([mixed_inbox], BatchOptions(master=master))
    assert _summary(chunked) == _summary(whole)
    assert _findings(chunked) == _findings(whole)
    assert {it.status for it in whole.items} >= {"accepted", "rejected"}


def test_a_merge_batch_keeps_the_values_and_drops_the_raw_cells(mixed_inbox, master):
    kept = load_batch([mixed_inbox], BatchOptions(master=master))
    dropped = load_batch([mixed_inbox], BatchOptions(master=master, keep_cells=False))
    assert _summary(dropped) == _summary(kept) and _findings(dropped) == _findings(kept)
    assert all(b.cells for b in kept.books if b.kind in ("plan", "monthly"))
    assert not any(b.cells for b in dropped.books)


def test_pool_gives_the_same_batch_as_one_process(inbox, master, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_FILES_FOR_POOL", 1)
    monkeypatch.setenv("KOFU_WORKERS", "1")
    one = _summary(load_batch([inbox], BatchOptions(master=master)))
    monkeypatch.setenv("KOFU_WORKERS", "2")
    two = _summary(load_batch([inbox], BatchOptions(master=master)))
    assert one == two
    assert sum(1 for it in one[0] if it[2] == "accepted") == 12


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the patched reader reaches workers by fork")
def test_worker_killed_by_hostile_file_costs_that_file_only(inbox, master, monkeypatch):
    """python-calamine can abort the whole process on hostile bytes: simulate it with os.abort()."""
    real = parallel.read_book
    victim = sorted(p.name for p in inbox.glob("*.xlsx") if p.name[0].isdigit())[5]

    def read_or_die(data, fmt, file="", member=""):
        if file.endswith(victim):
            # pytest's faulthandler, inherited by the forked worker, would dump every thread's
            # stack for this deliberate abort: the run must look green when it is green.
            faulthandler.disable()
            os.abort()
        return real(data, fmt, file=file, member=member)

    monkeypatch.setattr(parallel, "read_book", read_or_die)
    monkeypatch.setattr(parallel, "MIN_FILES_FOR_POOL", 1)
    monkeypatch.setenv("KOFU_WORKERS", "2")
    batch = load_batch([inbox], BatchOptions(master=master))
    by_name = {os.path.basename(it.path): it for it in batch.items}
    assert len(by_name) == len(list(inbox.iterdir()))  # every file accounted for, once
    assert by_name[victim].status == "rejected" and by_name[victim].code == "E119"
    accepted = [n for n, it in by_name.items() if it.status == "accepted"]
    assert len(accepted) == 11 and victim not in accepted


def test_book_pickles_compactly_and_round_trips_moved_and_formula_cells(make_sample):
    import pickle

    from kofu_excel.model import RawCell
    from kofu_excel.read import read_book

    path = make_sample("plan", count=1, seed=5).files[0]
    book = read_book(path.read_bytes(), "xlsx", file=str(path))
    book.cells["basic.department"] = RawCell("市民課", "基本情報", "B20", True)  # moved, formula
    copy = pickle.loads(pickle.dumps(book))
    assert copy.cells == book.cells and copy.kind == book.kind and copy.meta == book.meta
    assert len(pickle.dumps(book)) < 5000  # values only, not 246 tuples of sheet and cell
    book.cells.pop("basic.email")  # not the full layout: falls back to plain pickling
    assert pickle.loads(pickle.dumps(book)).cells == book.cells


def test_batch_pauses_gc_and_restores_it_even_on_error(master, tmp_path):
    import gc

    from kofu_excel.pipeline.batch import gc_paused

    seen = []

    @gc_paused
    def work():
        seen.append(gc.isenabled())
        raise RuntimeError("boom")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        work()
    assert seen == [False] and gc.isenabled()
    load_batch([tmp_path], BatchOptions(master=master))
    assert gc.isenabled()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the patched reader reaches workers by fork")
def test_the_worker_crash_test_passes_without_a_fatal_error_dump():
    """CI output looks green when green: the deliberate abort prints no faulthandler stacks."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_parallel.py", "-k", "worker_killed_by_hostile_file"],
                         cwd=root, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Fatal Python error" not in res.stdout + res.stderr


@pytest.mark.parametrize(("asked", "offered", "used"), [
    ("spawn", ["fork", "spawn", "forkserver"], "spawn"),
    ("forkserver", ["fork", "spawn", "forkserver"], "forkserver"),
    ("FORK", ["fork", "spawn", "forkserver"], "fork"),
    ("", ["fork", "spawn", "forkserver"], "fork"),
    ("threads", ["fork", "spawn", "forkserver"], "fork"),
    ("fork", ["spawn"], "spawn"),  # Windows: spawn whatever is asked
    ("", ["spawn"], "spawn"),
])
def test_start_method_is_KOFU_START_METHOD_where_the_os_offers_it(asked, offered, used, monkeypatch):
    monkeypatch.setenv("KOFU_START_METHOD", asked)
    monkeypatch.setattr(procs.multiprocessing, "get_all_start_methods", lambda: offered)
    assert procs.start_method() == used


def test_pool_under_spawn_gives_the_same_batch_as_one_process(inbox, master, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_FILES_FOR_POOL", 1)
    monkeypatch.setenv("KOFU_WORKERS", "1")
    one = _summary(load_batch([inbox], BatchOptions(master=master)))
    monkeypatch.setenv("KOFU_WORKERS", "2")
    monkeypatch.setenv("KOFU_START_METHOD", "spawn")
    two = _summary(load_batch([inbox], BatchOptions(master=master)))
    assert one == two


# Run as a script: a spawned worker imports the parent's main module (as __mp_main__), so the
# patch at its top reaches the workers too, as no monkeypatch could. Each worker notes the heavy
# modules it has loaded.
SPAWN_SCRIPT = '''
import json, os, sys
from kofu_excel.pipeline import pool

real = pool.read_book
PARENT = os.environ.setdefault("KOFU_TEST_PARENT", str(os.getpid()))  # workers inherit it

def read_or_die(data, fmt, file="", member=""):
    if str(os.getpid()) != PARENT:
        heavy = sorted({m.split(".")[0] for m in sys.modules} & {"pandas", "pandera", "xlsxwriter"})
        with open(os.environ["KOFU_TEST_NOTES"], "a", encoding="utf-8") as f:
            f.write(json.dumps(heavy) + "\\n")
    if file.endswith(os.environ["KOFU_TEST_VICTIM"]):
        os.abort()
    return real(data, fmt, file=file, member=member)

pool.read_book = read_or_die
pool.MIN_FILES_FOR_POOL = 1

if __name__ == "__main__":
    from kofu_excel.model import BatchOptions
    from kofu_excel.pipeline.batch import load_batch

    batch = load_batch([sys.argv[1]], BatchOptions())
    print(json.dumps({os.path.basename(it.path): [it.status, it.code] for it in batch.items}))
'''


def test_under_spawn_a_killed_worker_costs_its_file_only_and_workers_read_without_pandas(
        inbox, tmp_path_factory):
    import json
    import subprocess
    import sys

    here = tmp_path_factory.mktemp("spawn")
    script, notes = here / "run_spawn.py", here / "notes.jsonl"
    script.write_text(SPAWN_SCRIPT, encoding="utf-8")
    victim = sorted(p.name for p in inbox.glob("*.xlsx") if p.name[0].isdigit())[5]
    env = dict(os.environ, KOFU_START_METHOD="spawn", KOFU_WORKERS="2", KOFU_TEST_VICTIM=victim,
               KOFU_TEST_NOTES=str(notes))
    env.pop("KOFU_TEST_PARENT", None)
    res = subprocess.run([sys.executable, str(script), str(inbox)], capture_output=True, text=True,
                         encoding="utf-8", env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    by_name = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(by_name) == {p.name for p in inbox.iterdir()}  # every file accounted for, once
    assert by_name[victim] == ["rejected", "E119"]
    accepted = [n for n, (status, _code) in by_name.items() if status == "accepted"]
    assert len(accepted) == 11 and victim not in accepted
    seen = [json.loads(line) for line in notes.read_text(encoding="utf-8").splitlines()]
    assert len(seen) >= 12 and all(heavy == [] for heavy in seen)
