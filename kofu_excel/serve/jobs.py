"""The only module of the server that calls the library: the same functions, with the same
arguments, as ``kofu-merge``, ``kofu-validate``, ``kofu-advise`` and ``kofu-template``.

Each job writes into a run's ``outputs/`` folder and returns the ``--json`` document of the
command it stands for, the files to offer for download, and the figures the page shows. When the
package layout changes, only the imports at the top of this file follow it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import forms
from ..contract import KIND_LABELS, SEVERITY_LABELS, STATUS_LABELS, STATUSES
from ..findings import CODES, KofuError
from ..letters import placeholder_warning, render_letters
from ..merge import E_NOTHING, MergeResult, merge
from ..model import BatchOptions
from ..pipeline import Stored, ValidationRun, validate_paths
from ..refdata import Master, ReviewConfig, Schedule, load_config, load_master, load_schedule
from ..summary import Summary, issuance_rate, population
from ..write.template import generate

__all__ = ["Job", "KofuError", "Settings", "Stored", "merge_job", "templates_job", "validate_job"]

Progress = Callable[[str, int, int], None]  # (stage label, done, total)

# Download names (also the names of the files in outputs/): the workbooks' own words.
SUMMARY_FILE = "とりまとめ表.xlsx"
REPORT_FILE = "確認結果.xlsx"
ANNOTATED_ZIP = "差し戻し用.zip"
ADVICE_ZIP = "助言文書.zip"
REMINDER_ZIP = "督促文書.zip"
TEMPLATES_ZIP = "様式.zip"


@dataclass
class Settings:
    """What ``kofu serve`` was started with: the same files the CLI takes (``--config``)."""

    config_path: str | None = None
    master: Master = field(default_factory=lambda: load_master(None))
    schedule: Schedule = field(default_factory=lambda: load_schedule(None))
    config: ReviewConfig = field(init=False)

    def __post_init__(self) -> None:
        self.config = load_config(self.config_path)

    def prefectures(self) -> list[tuple[str, str]]:
        return list(self.master.prefectures.items())


@dataclass
class Job:
    """What a job returns: the command's ``--json`` document, the downloads (name → file
    inside outputs/), the exit code the command would give, and the page's figures."""

    result: dict[str, Any]
    downloads: dict[str, str]
    exit_code: int
    counts: dict[str, int]
    missing: int = 0
    view: dict[str, Any] = field(default_factory=dict)
    notice: str = ""  # what the command would print on stderr when nothing was usable


def parse_passwords(text: str) -> list[str]:
    """The text box as ``--passwords`` reads its file: one per line, blank lines skipped,
    surrounding spaces removed. Kept in memory only."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _zip_folder(folder: Path, target: Path) -> bool:
    """Every file under ``folder`` into ``target`` (False, and no zip, when there is none)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if not files:
        return False
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in files:
            zf.write(p, p.relative_to(folder).as_posix())
    return True


# --- kofu-merge (+ the report, the annotated copies and the letters of the same inputs) -------


def merge_job(files: Sequence[Stored], out: Path, settings: Settings, pref: str | None,
              level: str, passwords: Sequence[str], progress: Progress) -> Job:
    """``kofu-merge`` on the uploads; then, as the monthly cycle goes on, ``kofu-validate
    --report --annotate`` and ``kofu-advise`` (advice and ``--missing`` reminders)."""
    cfg = settings.config
    result = merge(list(files), out / SUMMARY_FILE,
                   BatchOptions(passwords=tuple(passwords), master=settings.master, pref=pref,
                                limits=cfg.intake_limits(),
                                progress=lambda d, t: progress("とりまとめ中", d, t)),
                   level=level, schedule=settings.schedule, config=cfg)
    downloads: dict[str, str] = {}
    if result.output is not None:
        downloads[SUMMARY_FILE] = SUMMARY_FILE
        run = validate_paths(list(files),
                             BatchOptions(passwords=tuple(passwords), master=settings.master,
                                          pref=result.pref_code or None, limits=cfg.intake_limits(),
                                          progress=lambda d, t: progress("確認結果を作成中", d, t)),
                             report=out / REPORT_FILE, annotate=out / "annotated")
        if run.report is not None:
            downloads[REPORT_FILE] = REPORT_FILE
        if _zip_folder(out / "annotated", out / ANNOTATED_ZIP):
            downloads[ANNOTATED_ZIP] = ANNOTATED_ZIP
        for missing, folder, name in ((False, "advice", ADVICE_ZIP), (True, "reminders", REMINDER_ZIP)):
            render_letters(out / SUMMARY_FILE, out / folder, config=cfg, master=settings.master,
                           missing=missing, progress=lambda d, t: progress("文書を作成中", d, t))
            if _zip_folder(out / folder, out / name):
                downloads[name] = name
    counts = {s: result.count(s) for s in STATUSES}
    # W601 (letters signed with placeholders) as the CLI prints it on stderr.
    notice = placeholder_warning(cfg) if result.output is not None else (
        f"{E_NOTHING}: 取り込めるブックがありませんでした。とりまとめ表は作成していません")
    return Job(result.to_json(), downloads, result.exit_code, counts, len(result.missing),
               merge_view(result, settings), notice)


def merge_view(result: MergeResult, settings: Settings) -> dict[str, Any]:
    """The figures the page shows for a merge, as plain data (kept in the run record)."""
    sm = result.summary
    view: dict[str, Any] = {
        "kind": "merge",
        "status": [{"status": s, "label": STATUS_LABELS[s], "n": result.count(s)} for s in STATUSES],
        "intake": [{"path": it.path, "member": it.member, "kind": KIND_LABELS.get(it.kind or "", ""),
                    "muni_code": it.muni_code or "", "status": it.status,
                    "status_label": STATUS_LABELS.get(it.status, it.status), "code": it.code or "",
                    "reason": it.reason or ""} for it in result.items],
        "submitted": [], "missing": [], "findings": [], "munis": [], "scope": "", "benchmark": None,
    }
    if sm is None:
        return view
    view["scope"] = sm.scope_name
    for kind in sm.kinds:
        got = sum(1 for m in sm.scope if m.code in sm.values.get(kind, {}))
        view["submitted"].append({"label": forms.FORMS[kind].label, "submitted": got,
                                  "municipalities": len(sm.scope)})
    view["missing"] = [{"code": m.code, "name": m.name, "kind": KIND_LABELS[kind],
                        "state": "不受理" if (kind, m.code) in sm.rejected else "未提出"}
                       for m, kind in sm.missing()]
    names = {m.code: m.name for m in sm.rows()}
    view["findings"] = [{"muni_code": f.muni_code, "muni_name": names.get(f.muni_code, ""),
                         "severity": f.severity, "severity_label": SEVERITY_LABELS.get(f.severity, f.severity),
                         "code": f.code, "title": CODES.get(f.code, ""), "message": f.message,
                         "check": f.check, "file": fr.file, "sheet": f.sheet, "cell": f.cell}
                        for fr in sm.findings for f in (fr.finding,)]
    for m in sm.rows():
        cum, rate, basis = issuance_rate(sm, m)
        view["munis"].append({
            "code": m.code, "name": m.name, "population": population(sm, m), "issued": cum,
            "rate": rate, "basis": basis,
            "plan": _state(sm, "plan", m.code), "monthly": _state(sm, "monthly", m.code),
        })
    # the schedule's next milestone from the latest report month (the last one when all passed)
    ahead = [mo for mo in sm.schedule.months if mo >= sm.latest_month] or list(sm.schedule.months[-1:])
    if ahead:
        view["benchmark"] = {"month": ahead[0], "rate": sm.schedule.rate(ahead[0])}
    return view


def _state(sm: Summary, kind: str, code: str) -> str:
    """受理 / 不受理 / 未提出 as the 市町村別一覧 sheet says it (－ for a form not collected)."""
    if code in sm.values.get(kind, {}):
        return "受理"
    if (kind, code) in sm.rejected:
        return "不受理"
    return "未提出" if kind in sm.kinds else "－"


# --- kofu-validate ------------------------------------------------------------------------------


def validate_job(files: Sequence[Stored], out: Path, settings: Settings, pref: str | None,
                 passwords: Sequence[str], progress: Progress) -> Job:
    """``kofu-validate --report --annotate`` on the uploads."""
    cfg = settings.config
    run = validate_paths(list(files),
                         BatchOptions(passwords=tuple(passwords), master=settings.master, pref=pref,
                                      limits=cfg.intake_limits(),
                                      progress=lambda d, t: progress("確認中", d, t)),
                         report=out / REPORT_FILE, annotate=out / "annotated")
    downloads: dict[str, str] = {}
    if run.report is not None:
        downloads[REPORT_FILE] = REPORT_FILE
    if _zip_folder(out / "annotated", out / ANNOTATED_ZIP):
        downloads[ANNOTATED_ZIP] = ANNOTATED_ZIP
    counts = {s: sum(1 for fr in run.files if fr.status == s)
              for s in ("valid", "invalid", "unreadable", "ignored")}
    exit_code = 2 if run.nothing_found else (0 if run.all_valid else 1)
    notice = f"{E_NOTHING}: 検証できるブックが見つかりませんでした（対象外のファイルのみ）" if run.nothing_found else ""
    return Job(run.to_json(), downloads, exit_code, counts, 0, validate_view(run, settings), notice)


VALIDATE_LABELS = {"valid": "OK", "invalid": "NG（要修正）", "unreadable": "NG（読込不可）", "ignored": "対象外"}


def validate_view(run: ValidationRun, settings: Settings) -> dict[str, Any]:
    names = {m.code: m.name for m in settings.master.municipalities}
    files = []
    findings = []
    for fr in run.files:
        files.append({"path": fr.path, "member": fr.member, "kind": KIND_LABELS.get(fr.kind, ""),
                      "muni_code": fr.muni_code, "status": fr.status,
                      "status_label": VALIDATE_LABELS.get(fr.status, fr.status),
                      "errors": len(fr.errors), "warnings": len(fr.warnings)})
        for f in fr.findings:
            code = f.muni_code or fr.muni_code
            findings.append({"muni_code": code, "muni_name": names.get(code, ""), "severity": f.severity,
                             "severity_label": SEVERITY_LABELS.get(f.severity, f.severity),
                             "code": f.code, "title": CODES.get(f.code, ""), "message": f.message,
                             "check": f.check, "file": fr.label, "sheet": f.sheet, "cell": f.cell})
    status = [{"status": s, "label": label, "n": sum(1 for fr in run.files if fr.status == s)}
              for s, label in VALIDATE_LABELS.items()]
    return {"kind": "validate", "status": status, "files": files, "findings": findings}


# --- kofu-template --------------------------------------------------------------------------------


def templates_job(kind: str, pref: str, munis: Sequence[str], out: Path, settings: Settings) -> Job:
    """``kofu-template --kind K --pref P [--muni …]``, zipped for one download."""
    result = generate(kind, out / "templates", master=settings.master, pref=pref or None,
                      munis=munis, schedule=settings.schedule)
    _zip_folder(out / "templates", out / TEMPLATES_ZIP)
    doc = {"kind": kind, "version": forms.FORM_VERSION, "files": [str(p) for p in result.files]}
    return Job(doc, {TEMPLATES_ZIP: TEMPLATES_ZIP}, 0, {"files": len(result.files)})
