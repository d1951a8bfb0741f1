"""All or nothing, and nothing left running (docs/security.md, "Outputs" and "Processes").

Multi-file outputs — letters, annotated copies with the report, templates — appear whole or not
at all: a disk that fills half-way, a Ctrl-C or a SIGTERM leaves none of them, no temp file, and
a message that says so truthfully. A batch big enough for the worker pool leaves no worker
behind when its parent is killed, by SIGTERM or by SIGKILL.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_advise import write_summary

from kofu_excel.cli import main
from kofu_excel.pipeline import pool
from kofu_excel.write import atomic
from kofu_excel.write.atomic import TEMP_PREFIX, staged

PREF = "31"  # 鳥取県: 19 municipalities
ROOT = Path(__file__).resolve().parents[1]


def everything_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def disk_full_after(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """The disk fills up after ``n`` files were written."""
    real = atomic._fill
    count = [0]

    def fill(tmp: Path, data: bytes) -> None:
        count[0] += 1
        if count[0] > n:
            raise OSError(errno.ENOSPC, "デバイスに空き領域がありません", str(tmp))
        real(tmp, data)

    monkeypatch.setattr(atomic, "_fill", fill)


def invalid_inbox(make_sample, tmp_path: Path, count: int) -> Path:
    """``count`` workbooks kofu-validate finds invalid (an e-mail address that is not one)."""
    inbox = tmp_path / "受信"
    inbox.mkdir()
    for i, p in enumerate(make_sample("plan", count=count, errors=True).files[:count]):
        shutil.copy(p, inbox / f"{i:03d}_{p.name}")
    return inbox


# --- disk full ----------------------------------------------------------------------------------


def test_disk_full_while_writing_letters_leaves_no_letter_and_says_nothing_changed(master, tmp_path,
                                                                                  monkeypatch):
    summary = write_summary(tmp_path / "とりまとめ.xlsx", [], master,
                            missing=[(m.code, "plan") for m in master.select(pref=PREF)[:8]])
    out = tmp_path / "督促"
    disk_full_after(monkeypatch, 5)
    res = CliRunner().invoke(main, ["advise", str(summary), "-o", str(out), "--missing", "--format", "md",
                                    "--date", "2020-04-01"])
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("E901: ") and "出力ファイルは変更していません" in res.stderr
    assert not out.exists()  # the folder it made is gone too: nothing of this run remains


def test_disk_full_while_annotating_leaves_neither_report_nor_copies(make_sample, tmp_path, monkeypatch):
    inbox = invalid_inbox(make_sample, tmp_path, 4)
    out = tmp_path / "出力"
    out.mkdir()
    (out / "前回の確認結果.xlsx").write_bytes(b"earlier")  # the user's: kept as it is
    disk_full_after(monkeypatch, 3)
    res = CliRunner().invoke(main, ["validate", str(inbox), "--report", str(out / "確認結果.xlsx"),
                                    "--annotate", str(out / "差し戻し")])
    assert res.exit_code == 2, res.output
    assert "E901" in res.stderr and "出力ファイルは変更していません" in res.stderr
    assert everything_under(out) == ["前回の確認結果.xlsx"]
    assert (out / "前回の確認結果.xlsx").read_bytes() == b"earlier"


def test_disk_full_while_writing_templates_leaves_no_template(master, tmp_path, monkeypatch):
    out = tmp_path / "様式"
    out.mkdir()
    disk_full_after(monkeypatch, 10)
    res = CliRunner().invoke(main, ["template", "--kind", "plan", "--pref", PREF, "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert "出力ファイルは変更していません" in res.stderr
    assert everything_under(out) == []


def test_a_failed_rename_in_the_commit_puts_every_earlier_file_back(tmp_path, monkeypatch):
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"earlier {name}", encoding="utf-8")
    real = os.replace
    renames = [0]

    def replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        if Path(dst).name == "c.txt" and not renames[0]:  # the new c.txt cannot be put in place
            renames[0] += 1
            raise PermissionError(13, "別のプロセスが使用中です", str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(atomic.KofuError) as err, staged() as st:
        for name in ("a.txt", "b.txt", "c.txt"):
            st.write(tmp_path / name, f"new {name}".encode())
    assert renames[0] == 1 and "出力ファイルは変更していません" in err.value.message
    assert {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()} == {
        n: f"earlier {n}" for n in ("a.txt", "b.txt", "c.txt")}


def test_two_writers_of_one_output_never_share_a_temp_file(tmp_path):
    """Unique temp names: two staged writes of the same target each have their own."""
    with staged() as one, staged() as two:
        one.write(tmp_path / "x.xlsx", b"one")
        two.write(tmp_path / "x.xlsx", b"two")
        temps = [p.name for p in tmp_path.iterdir()]
        assert len(temps) == 2 and all(n.startswith(TEMP_PREFIX) for n in temps)
    assert [p.name for p in tmp_path.iterdir()] == ["x.xlsx"]


def test_writers_in_many_threads_of_one_output_never_fail(tmp_path):
    """write_atomic of one output from eight threads at once (kofu serve runs jobs in threads):
    every write succeeds, the output is one of them whole, no temp file is left."""
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for _ in range(20):
                atomic.write_atomic(tmp_path / "x.xlsx", b"%d" % n * 1000)
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["x.xlsx"]
    data = (tmp_path / "x.xlsx").read_bytes()
    assert len(data) == 1000 and len(set(data)) == 1


def test_two_template_runs_into_one_folder_both_succeed(tmp_path):
    """Two kofu-template runs writing the same 19 workbooks at once: both exit 0, the folder
    holds the 19 workbooks whole and no temp file."""
    out = tmp_path / "様式"
    cmd = [sys.executable, "-c", "from kofu_excel.cli.entry import kofu_template; kofu_template()",
           "--kind", "plan", "--pref", PREF, "-o", str(out)]
    runs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [r.communicate(timeout=300) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], results
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 19 and not [n for n in names if n.startswith(TEMP_PREFIX)]


# --- Ctrl-C and SIGTERM in the middle of a run -------------------------------------------------

_PAUSE_AFTER_TWO = textwrap.dedent("""
    import os, sys, time
    from kofu_excel.write import atomic
    real, count = atomic._fill, [0]
    def fill(tmp, data):  # two outputs written: say so and wait for the signal
        real(tmp, data)
        count[0] += 1
        if count[0] == 2:
            sys.stderr.write("WRITTEN\\n")
            sys.stderr.flush()
            time.sleep(120)
    atomic._fill = fill
    from kofu_excel.cli import main
    main(sys.argv[1:])
""")


def run_until(args: list[str], marker: str, env: dict[str, str] | None = None,
              code: str = _PAUSE_AFTER_TWO) -> tuple[subprocess.Popen[str], list[str]]:
    child = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env={**os.environ, **(env or {})})
    assert child.stderr is not None
    seen = []
    for line in child.stderr:
        seen.append(line)
        if line.strip() == marker:
            break
    return child, seen


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_annotation_leaves_no_output_and_says_so_truthfully(make_sample, tmp_path, sig, status):
    inbox = invalid_inbox(make_sample, tmp_path, 5)
    out = tmp_path / "出力"
    child, seen = run_until(["validate", str(inbox), "--report", str(out / "確認結果.xlsx"),
                             "--annotate", str(out / "差し戻し")], "WRITTEN")
    watchdog = threading.Timer(120, child.kill)  # never hang the test run
    watchdog.start()
    try:
        assert seen and seen[-1].strip() == "WRITTEN", "".join(seen)
        assert len(everything_under(out)) >= 2  # two outputs on disk (under temp names)
        child.send_signal(sig)
        _, err = child.communicate(timeout=60)
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == status, err
    assert err.strip() == "E990: 中断しました（出力ファイルは変更していません）"
    assert everything_under(out) == []  # and it is true: not a report, not a copy, not a temp


# --- nothing left running ----------------------------------------------------------------------

_STUCK_WORKERS = textwrap.dedent("""
    import os, sys, time
    from kofu_excel.pipeline import pool
    def stuck(chunk):  # a worker stuck on a hostile file: tell the parent's reader, then hang
        os.write(2, b"WORKER %d\\n" % os.getpid())
        time.sleep(300)
    pool._take_chunk = stuck
    from kofu_excel.cli import main
    main(sys.argv[1:])
""")


def children_of(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with open(task / "children", encoding="ascii") as fh:
            out.update(int(x) for x in fh.read().split())
    return out


def running(pid: int) -> bool:
    """Alive and not a zombie (a reaped-late zombie holds nothing and runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def gone_within(pids: set[int], seconds: float) -> bool:
    """Whether every process has ended by ``seconds`` from now (a worker's stderr closes a moment
    before the kernel marks it ended)."""
    deadline = time.monotonic() + seconds
    while any(running(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("command", ["merge", "validate"])
def test_a_killed_batch_of_64_files_leaves_no_worker_behind(make_sample, tmp_path, sig, command):
    files = make_sample("plan", count=pool.MIN_FILES_FOR_POOL).files
    assert len(files) >= pool.MIN_FILES_FOR_POOL
    inbox = tmp_path / "受信"
    inbox.mkdir()
    for p in files:
        shutil.copy(p, inbox)
    args = (["merge", str(inbox), "-o", str(tmp_path / "とりまとめ.xlsx")] if command == "merge"
            else ["validate", str(inbox), "--report", str(tmp_path / "確認結果.xlsx")])
    child = subprocess.Popen([sys.executable, "-c", _STUCK_WORKERS, *args], cwd=ROOT, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env={**os.environ, "KOFU_WORKERS": "2"})
    watchdog = threading.Timer(120, child.kill)
    watchdog.start()
    try:
        assert child.stderr is not None
        workers: set[int] = set()
        for line in child.stderr:  # both workers busy
            if line.startswith("WORKER"):
                workers.add(int(line.split()[1]))
            if len(workers) == 2:
                break
        assert len(workers) == 2 and workers <= children_of(child.pid)
        child.send_signal(sig)
        _, err = child.communicate(timeout=60)  # ends: no worker holds stderr open any more
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 143), err
    if sig == signal.SIGTERM:
        assert err.strip() == "E990: 中断しました（出力ファイルは変更していません）"
    assert gone_within(workers, 2.0), [pid for pid in workers if running(pid)]
    assert [p.name for p in tmp_path.iterdir()] == ["受信"]  # no output, no temp file


_STUCK_BESIDE = """
import os, sys, time
from kofu_excel import procs

def work():
    print("BESIDE", os.getpid(), file=sys.stderr, flush=True)
    time.sleep(600)

procs.Beside(work).result()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_command_leaves_no_child_working_beside_it(sig):
    """The summary's データ is made in a child beside the command (procs.Beside): it ends with
    the command however the command ends."""
    child = subprocess.Popen([sys.executable, "-c", _STUCK_BESIDE], cwd=ROOT, text=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watchdog = threading.Timer(120, child.kill)
    watchdog.start()
    try:
        assert child.stderr is not None
        line = child.stderr.readline()
        assert line.startswith("BESIDE"), line
        beside = int(line.split()[1])
        assert beside in children_of(child.pid)
        child.send_signal(sig)
        child.communicate(timeout=60)
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -sig
    assert gone_within({beside}, 2.0)
