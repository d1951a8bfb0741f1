"""A demo inbox as a prefecture receives it (``kofu sample --inbox``), and the builders of its bytes.

:func:`make_inbox` writes, for one prefecture, what a prefectural official's working folder
holds in April 2020: the plans (交付円滑化計画) received since December 2019 and the monthly
reports (実績報告) for March 2020, as plain files, as e-mails saved from the mailer (.eml) with
Japanese-named attachments, as a password zip in an e-mail with the password sent separately
("PPAP"), typed the messy way, with errors, resubmitted, sent twice, broken in transit, plus
the litter every shared folder collects. Every figure is fictitious (:mod:`kofu_excel.sample`);
codes and names are the real ones of the master.

Each file comes with what it demonstrates and the status ``kofu-merge`` must give it, so a test
can check that every file is accounted for as intended (:attr:`InboxResult.expected`).

The builders write the quirks byte by byte, as the real senders do: attachment names as MIME
encoded-words in ISO-2022-JP (Outlook) or as RFC 2231 UTF-8 parameters (Thunderbird, Gmail);
a ZipCrypto archive as Windows Explorer writes it, member names in cp932 with no UTF-8 flag.
Dates are fixed and every random choice comes from the seed: the same seed gives the same bytes.
The intake tests build their hostile inputs with the same functions (``tests/intake_fixtures.py``).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import os
import random
import shutil
import struct
import tempfile
import urllib.parse
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import periods
from .findings import KofuError
from .refdata import Master, Municipality, Schedule, load_schedule
from .sample import FICTITIOUS_NOTE, make_samples, plan_values, sample_population
from .write.atomic import write_atomic
from .write.template import file_name, workbook_bytes

__all__ = [
    "Expected",
    "InboxResult",
    "RawEntry",
    "attachment",
    "build_inbox",
    "deflate",
    "eml",
    "encoded_word",
    "jis",
    "local_record",
    "make_inbox",
    "outlook_attachment",
    "raw_zip",
    "rfc2231_attachment",
    "zipcrypto_zip",
]

JST = timezone(timedelta(hours=9))
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# --------------------------------------------------------------------------------------------
# Zip archives, written field by field
# --------------------------------------------------------------------------------------------


def deflate(data: bytes) -> bytes:
    """Raw deflate (no zlib header), as a zip stores it."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def dos_datetime(when: datetime) -> tuple[int, int]:
    """(time, date) fields of a zip entry, in local time as Windows writes them."""
    return ((when.hour << 11) | (when.minute << 5) | (when.second // 2),
            ((when.year - 1980) << 9) | (when.month << 5) | when.day)


@dataclass
class RawEntry:
    """One member for :func:`raw_zip`, with the fields hostile archives lie about."""

    name: bytes
    data: bytes = b""
    method: int = 8
    flags: int = 0
    extra: bytes = b""
    external_attr: int = 0
    create_system: int = 0
    declared_size: int | None = None
    payload: bytes | None = None  # compressed bytes to store instead of compressing data
    crc: int | None = None
    dos_time: int = 0
    dos_date: int = 0x21  # 1980-01-01


def local_record(e: RawEntry, comp: bytes, crc: int, size: int) -> bytes:
    """The local file header of ``e`` followed by its (compressed) bytes."""
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, e.flags, e.method, e.dos_time, e.dos_date,
                       crc, len(comp), size, len(e.name), len(e.extra)) + e.name + e.extra + comp


def raw_zip(entries: Sequence[RawEntry], *, offsets: dict[int, int] | None = None,
            prefix: bytes = b"") -> bytes:
    """A zip written field by field; ``offsets`` makes central entries point elsewhere."""
    out = bytearray(prefix)
    cd = bytearray()
    for i, e in enumerate(entries):
        comp = e.payload if e.payload is not None else (e.data if e.method == 0 else deflate(e.data))
        crc = e.crc if e.crc is not None else zlib.crc32(e.data)
        size = e.declared_size if e.declared_size is not None else len(e.data)
        offset = len(out) - len(prefix)
        out += local_record(e, comp, crc, size)
        header_offset = (offsets or {}).get(i, offset)
        cd += struct.pack("<4s4B4HL2L5HLL", b"PK\x01\x02", 20, e.create_system, 20, 0, e.flags,
                          e.method, e.dos_time, e.dos_date, crc, len(comp), size, len(e.name),
                          len(e.extra), 0, 0, 0, e.external_attr, header_offset) + e.name + e.extra
    n = len(entries)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(cd), len(out) - len(prefix), 0)
    return bytes(out + cd + eocd)


class _ZipCrypto:
    """The traditional PKWARE cipher ("ZipCrypto"), which Windows Explorer and 7-Zip write."""

    def __init__(self, password: bytes) -> None:
        self.keys = [0x12345678, 0x23456789, 0x34567890]
        for b in password:
            self._update(b)

    def _update(self, b: int) -> None:
        k0, k1, k2 = self.keys
        k0 = (zlib.crc32(bytes([b]), k0 ^ 0xFFFFFFFF) ^ 0xFFFFFFFF) & 0xFFFFFFFF
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = (zlib.crc32(bytes([k1 >> 24]), k2 ^ 0xFFFFFFFF) ^ 0xFFFFFFFF) & 0xFFFFFFFF
        self.keys = [k0, k1, k2]

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            t = (self.keys[2] | 2) & 0xFFFF
            out.append(b ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            self._update(b)
        return bytes(out)


def zipcrypto_zip(members: Sequence[tuple[bytes, bytes]], password: bytes, *,
                  rng: random.Random | None = None, when: datetime | None = None) -> bytes:
    """A password zip as Windows makes it: ZipCrypto, deflate, names as given (cp932 bytes,
    no UTF-8 flag). The 11 random header bytes come from ``rng`` when given (same bytes for the
    same seed), else from the OS; ``when`` sets the members' time stamps."""
    t, d = dos_datetime(when) if when is not None else (0, 0x21)
    entries = []
    for name, data in members:
        crc = zlib.crc32(data)
        salt = bytes(rng.randrange(256) for _ in range(11)) if rng is not None else os.urandom(11)
        payload = _ZipCrypto(password).encrypt(salt + bytes([crc >> 24]) + deflate(data))
        entries.append(RawEntry(name, data, flags=0x1, payload=payload, dos_time=t, dos_date=d,
                                external_attr=0x20))  # FILE_ATTRIBUTE_ARCHIVE
    return raw_zip(entries)


# --------------------------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------------------------


def jis(text: str) -> bytes:
    """ISO-2022-JP as Windows mailers write it: cp932 characters (①, ㈱, ～) as JIS pairs."""
    out = bytearray()
    kanji = False
    for ch in text:
        b = ch.encode("cp932")
        if len(b) == 1:
            if kanji:
                out += b"\x1b(B"
                kanji = False
            out += b
            continue
        if not kanji:
            out += b"\x1b$B"
            kanji = True
        s1, s2 = b
        j1 = (s1 - (0x70 if s1 < 0xA0 else 0xB0)) * 2
        if s2 < 0x9F:
            j1 -= 1
            j2 = s2 - 0x1F - (1 if s2 > 0x7F else 0)
        else:
            j2 = s2 - 0x7E
        out += bytes((j1, j2))
    if kanji:
        out += b"\x1b(B"
    return bytes(out)


def encoded_word(raw: bytes, charset: str) -> str:
    """One MIME encoded-word (RFC 2047, base64) holding ``raw`` bytes in ``charset``."""
    return f"=?{charset}?B?{base64.b64encode(raw).decode('ascii')}?="


def attachment(data: bytes, disposition: str,
               content_type: str = "application/octet-stream") -> bytes:
    """One MIME part: ``disposition`` is the raw Content-Disposition value, as a mailer wrote it.

    Non-ASCII text in it goes out as raw UTF-8, as some mailers send it (RFC 6532).
    """
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (f"Content-Type: {content_type}\r\nContent-Disposition: {disposition}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + body


def outlook_attachment(data: bytes, name: str, content_type: str = XLSX_TYPE) -> bytes:
    """An attachment named as Outlook (Japanese Windows) names it: an ISO-2022-JP encoded-word,
    quoted, in both ``name=`` and ``filename=``."""
    word = encoded_word(jis(name), "ISO-2022-JP")
    return attachment(data, f'attachment;\r\n filename="{word}"', f'{content_type};\r\n name="{word}"')


def rfc2231_attachment(data: bytes, name: str, content_type: str = XLSX_TYPE) -> bytes:
    """An attachment named as Thunderbird or Gmail name it: ``filename*=UTF-8''…`` (RFC 2231)."""
    quoted = urllib.parse.quote(name.encode("utf-8"), safe="")
    return attachment(data, f"attachment;\r\n filename*=UTF-8''{quoted}", content_type)


def eml(parts: Sequence[bytes], *, date: str = "Tue, 01 Oct 2019 10:00:00 +0900",
        subject: str = "計画の提出", sender: str = "tanto@city.example.lg.jp",
        to: str = "pref@pref.example.lg.jp", body: str = "本文です。\r\n",
        charset: str = "utf-8") -> bytes:
    """A multipart/mixed e-mail: a short body, then the given parts.

    ``charset="iso-2022-jp"`` writes the subject and body as Japanese Outlook does.
    """
    # A boundary of its own, so that a forwarded message inside keeps its structure.
    boundary = "==kofu-" + hashlib.sha256(b"".join(parts) + subject.encode()).hexdigest()[:16]
    if charset.lower() == "iso-2022-jp":
        subj, text, cte = encoded_word(jis(subject), "ISO-2022-JP"), jis(body), "7bit"
    else:
        subj, text, cte = encoded_word(subject.encode("utf-8"), "UTF-8"), body.encode("utf-8"), "8bit"
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subj}\r\nDate: {date}\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset={charset}\r\n"
        + (f"Content-Transfer-Encoding: {cte}\r\n" if charset.lower() != "utf-8" else "")
        + "\r\n"
    ).encode("ascii") + text
    for part in parts:
        head += f"--{boundary}\r\n".encode("ascii") + part + b"\r\n"
    return head + f"--{boundary}--\r\n".encode("ascii")


def mail_date(when: datetime) -> str:
    """An RFC 5322 Date header value for a time in Japan."""
    return email.utils.format_datetime(when.astimezone(JST))


# --------------------------------------------------------------------------------------------
# Litter: what every shared folder collects
# --------------------------------------------------------------------------------------------


def excel_lock_file(user: str) -> bytes:
    """The 165-byte owner file Excel writes next to an open workbook (``~$name.xlsx``)."""
    ansi = user.encode("cp932")[:53]
    wide = user.encode("utf-16-le")
    out = bytes([len(ansi)]) + ansi.ljust(53, b" ") + struct.pack("<H", len(user)) + wide
    return out.ljust(165, b" ")[:165]


def thumbs_db() -> bytes:
    """A small stand-in for the thumbnail cache Windows Explorer leaves in image folders."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
    return header.ljust(1536, b"\x00")


def tiny_pdf(title: str) -> bytes:
    """A minimal one-page PDF (a cover letter 送付状 scanned to PDF, as far as intake cares)."""
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
            + f"% {title}\n".encode()
            + b"trailer<</Root 1 0 R>>\n%%EOF\n")


# --------------------------------------------------------------------------------------------
# The demo inbox
# --------------------------------------------------------------------------------------------

PLAN_DIR, MONTHLY_DIR, MAIL_DIR = "計画", "実績報告_2020-03", "メール"
REPORT_MONTH = "2020-03"
PREF_MAIL = "shichoson@pref.example.lg.jp"
MARKER = "<!-- generated by: kofu sample --inbox -->"
MIN_MUNIS = 12


@dataclass(frozen=True)
class Expected:
    """One file of the inbox (or one member of a container) and the status merge must give it."""

    path: str  # relative to the inbox folder, "/"-separated
    member: str  # "" for a plain file; nesting joined with " > " as in kofu-merge --json
    status: str  # accepted | rejected | superseded | duplicate | ignored | opened
    muni_code: str
    kind: str  # plan | monthly | ""
    note: str  # what it demonstrates (Japanese)

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "member": self.member, "status": self.status,
                "muni_code": self.muni_code, "kind": self.kind, "note": self.note}


@dataclass
class InboxResult:
    out_dir: Path
    pref_code: str
    pref_name: str
    seed: int
    files: list[Path] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    non_submitters: list[str] = field(default_factory=list)

    @property
    def inbox(self) -> Path:
        return self.out_dir / "inbox"

    @property
    def passwords(self) -> Path:
        return self.out_dir / "passwords.txt"

    def to_json(self) -> dict[str, Any]:
        return {"note": FICTITIOUS_NOTE, "pref": self.pref_code, "inbox": str(self.inbox),
                "passwords": str(self.passwords), "files": [str(p) for p in self.files],
                "expected": [e.to_json() for e in self.expected],
                "non_submitters": self.non_submitters}


class _Inbox:
    """Collects files (relative path → bytes) and their expected statuses."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.expected: list[Expected] = []

    def put(self, rel: str, data: bytes) -> None:
        self.files[rel] = data

    def expect(self, rel: str, status: str, note: str, *, member: str = "",
               muni: Municipality | None = None, kind: str = "") -> None:
        self.expected.append(Expected(rel, member, status, muni.code if muni else "", kind, note))


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST)


def _mail_body(muni: Municipality, values: dict[str, Any], what: str, extra: str = "") -> str:
    return (f"{muni.pref_name} 市町村課 御中\r\n\r\n"
            f"{muni.name} {values['basic.department']}の{values['basic.contact_person']}です。\r\n"
            f"{what}\r\n{extra}"
            "よろしくお願いいたします。\r\n\r\n"
            f"――――――――――\r\n{muni.name} {values['basic.department']}\r\n"
            f"{values['basic.contact_person']}\r\nTEL {values['basic.phone']}\r\n"
            f"{values['basic.email']}\r\n")


def _revised(values: dict[str, Any]) -> dict[str, Any]:
    """The same plan as 改訂1: submitted later, a tenth of FY2022's forecast brought forward to
    April–July 2020 (the total stays the same, so the population bound still holds)."""
    v = dict(values)
    v["basic.plan_revision"] = "改訂1"
    v["basic.submitted_on"] = date(2020, 2, 14)
    early = [m for m in periods.months() if "2020-04" <= m <= "2020-07"]
    late = [m for m in periods.months() if "2022-04" <= m <= "2023-03"]
    moved = 0
    for m in late:
        take = v[f"forecast.planned_issued.{m}"] // 10
        v[f"forecast.planned_issued.{m}"] -= take
        moved += take
    for i, m in enumerate(early):
        v[f"forecast.planned_issued.{m}"] += moved // len(early) + (moved % len(early) if i == 0 else 0)
    return v


def _workbooks(kind: str, master: Master, schedule: Schedule, codes: Sequence[str], seed: int,
               **kw: Any) -> dict[str, bytes]:
    """Sample workbooks of ``kind`` (code → bytes), made by :func:`make_samples` in a temp folder."""
    if not codes:
        return {}
    with tempfile.TemporaryDirectory(prefix="kofu-inbox-") as tmp:
        result = make_samples(kind, tmp, master=master, schedule=schedule, munis=list(codes),
                              seed=seed, report_month=REPORT_MONTH, **kw)
        return {p.name.split("_", 1)[0]: p.read_bytes() for p in result.files}


STATUS_JA = {"accepted": "受理", "rejected": "不受理", "superseded": "差替え済", "duplicate": "重複",
             "ignored": "対象外", "opened": "展開"}
_PASSWORD_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


@dataclass
class _Roles:
    """Who does what in the demo inbox, by position in code order (the same for every prefecture)."""

    revised: Municipality  # plan 当初 as a file, then 改訂1 by e-mail (Outlook)
    rfc2231: Municipality  # plan and monthly by e-mail, names in RFC 2231 UTF-8
    outlook: Municipality  # plan by e-mail with a PDF cover letter, names ISO-2022-JP
    ppap: Municipality  # plan and monthly in a ZipCrypto zip, password in a second e-mail
    messy: Municipality  # plan typed the messy way
    errors: Municipality  # plan with an error (rejected; the annotated copy's example)
    dup: Municipality  # plan as a file and again by e-mail, byte-identical
    broken: Municipality  # monthly truncated on disk, resent by e-mail
    late_monthly: Municipality  # plan only: the March report has not come
    absent: Municipality  # nothing at all

    @classmethod
    def of(cls, munis: Sequence[Municipality]) -> _Roles:
        return cls(*munis[1:9], munis[-2], munis[-1])


def build_inbox(master: Master, schedule: Schedule | None = None, pref: str = "31",
                seed: int = 2019) -> tuple[_Inbox, _Roles, str, str]:
    """Every file of the demo inbox in memory: (inbox, roles, prefecture code, zip password)."""
    schedule = schedule or load_schedule(None)
    pp = master.pref(pref)
    munis = master.select(pref=pp)
    if len(munis) < MIN_MUNIS:
        raise KofuError("E504", f"{master.prefectures[pp]}の団体が {len(munis)} 件しかありません"
                                f"（受信箱の例には {MIN_MUNIS} 件以上が必要です）")
    rng = random.Random(zlib.crc32(f"{seed}:{pp}:inbox".encode()))
    r = _Roles.of(munis)
    everyone = [m for m in munis if m is not r.absent]

    plan = _workbooks("plan", master, schedule,
                      [m.code for m in everyone if m not in (r.messy, r.errors)], seed)
    plan.update(_workbooks("plan", master, schedule, [r.messy.code], seed, messy=True))
    plan.update(_workbooks("plan", master, schedule, [r.errors.code], seed, errors=True))
    monthly = _workbooks("monthly", master, schedule,
                         [m.code for m in everyone if m is not r.late_monthly], seed)

    def values(m: Municipality) -> dict[str, Any]:
        return plan_values(_with_population(m, seed), schedule, seed)

    plan_name = {m.code: file_name("plan", m) for m in munis}
    monthly_name = {m.code: file_name("monthly", m) for m in munis}
    april = date(2020, 4, 10)
    box = _Inbox()

    def mail(rel: str, m: Municipality, parts: Sequence[bytes], when: datetime, subject: str,
             what: str, *, outlook: bool = False, extra: str = "") -> None:
        v = values(m)
        box.put(rel, eml(parts, date=mail_date(when), subject=subject, sender=v["basic.email"],
                         to=PREF_MAIL, body=_mail_body(m, v, what, extra),
                         charset="iso-2022-jp" if outlook else "utf-8"))

    # --- plain files, as saved from the mailer into the working folder ---
    plan_notes = {
        r.revised.code: ("superseded", "当初の計画。あとからメールで届いた改訂1に差し替えられます（再提出）"),
        r.messy.code: ("accepted", "全角数字・和暦・単位付き（「１，２００」「令和2年4月」「3,000円」）など"
                                   "手入力の表記ゆれ。正しく読み取られ、受理されます"),
        r.errors.code: ("rejected", "誤りを含む計画（kofu sample --errors と同じ）。不受理となり、"
                                    "kofu-validate --annotate で差し戻し用のコピーを作ります"),
        r.dup.code: ("duplicate", "メールでも届いた同じファイル（内容が同一）。先に見つかったメールの方を採用し、"
                                  "こちらは重複として扱います"),
    }
    for m in everyone:
        if m in (r.rfc2231, r.outlook, r.ppap):
            continue
        rel = f"{PLAN_DIR}/{plan_name[m.code]}"
        box.put(rel, plan[m.code])
        status, note = plan_notes.get(m.code, ("accepted", "計画（ふつうのファイル）"))
        box.expect(rel, status, note, muni=m, kind="plan")
    for m in everyone:
        if m in (r.rfc2231, r.ppap, r.late_monthly):
            continue
        rel = f"{MONTHLY_DIR}/{monthly_name[m.code]}"
        if m is r.broken:
            data = monthly[m.code]
            box.put(rel, data[: len(data) // 2])
            box.expect(rel, "rejected", "途中で切れたファイル（保存・転送の失敗）。不受理となり、"
                                        "メールで再送された分が受理されます", muni=m)
            continue
        box.put(rel, monthly[m.code])
        box.expect(rel, "accepted", "実績報告（令和2年3月分）", muni=m, kind="monthly")

    # --- e-mails, as saved from the mailer (.eml) ---
    m = r.revised
    name = f"{m.code}_{m.name}_交付円滑化計画（改訂1）.xlsx"
    data = workbook_bytes("plan", _with_population(m, seed), values=_revised(values(m)), schedule=schedule)
    rel = f"{MAIL_DIR}/Re_ 交付円滑化計画の改訂について（{m.name}）.eml"
    mail(rel, m, [outlook_attachment(data, name)], _at(date(2020, 2, 14), 9, 42),
         f"Re: 交付円滑化計画の改訂について（{m.name}）",
         "令和2年7月末に向けて交付枚数の想定を前倒しし、計画を改訂しました（改訂1）。", outlook=True)
    box.expect(rel, "opened", "Outlook のメール（件名・本文・添付ファイル名が ISO-2022-JP）", muni=m)
    box.expect(rel, "accepted", "改訂1の計画。計画の版が「改訂1」で当初より新しいので、こちらを採用します",
               member=name, muni=m, kind="plan")

    m = r.rfc2231
    name = f"交付円滑化計画_{m.name}.xlsx"
    rel = f"{MAIL_DIR}/交付円滑化計画の提出（{m.name}）.eml"
    mail(rel, m, [rfc2231_attachment(plan[m.code], name)], _at(values(m)["basic.submitted_on"], 11, 20),
         f"交付円滑化計画の提出（{m.name}）", "交付円滑化計画を提出します。")
    box.expect(rel, "opened", "Thunderbird・Gmail 形式のメール（添付ファイル名は RFC 2231 の UTF-8 表記）", muni=m)
    box.expect(rel, "accepted", "メールに添付された計画（ファイル名は自由。中の団体コードで判定）",
               member=name, muni=m, kind="plan")
    name = f"実績報告_{m.name}_令和2年3月分.xlsx"
    rel = f"{MAIL_DIR}/3月分実績報告（{m.name}）.eml"
    mail(rel, m, [rfc2231_attachment(monthly[m.code], name)], _at(april, 10, 3),
         f"3月分実績報告（{m.name}）", "令和2年3月分の実績を報告します。")
    box.expect(rel, "opened", "Thunderbird・Gmail 形式のメール（RFC 2231 の UTF-8 表記）", muni=m)
    box.expect(rel, "accepted", "メールに添付された実績報告", member=name, muni=m, kind="monthly")

    m = r.outlook
    cover = f"送付状（{m.name}）.pdf"
    rel = f"{MAIL_DIR}/【{m.name}】交付円滑化計画の提出について.eml"
    mail(rel, m, [outlook_attachment(plan[m.code], plan_name[m.code]),
                  outlook_attachment(tiny_pdf("送付状"), cover, "application/pdf")],
         _at(values(m)["basic.submitted_on"], 14, 31), f"【{m.name}】交付円滑化計画の提出について",
         "交付円滑化計画と送付状を送付します。", outlook=True)
    box.expect(rel, "opened", "Outlook のメール（添付ファイル名は ISO-2022-JP の encoded-word）", muni=m)
    box.expect(rel, "accepted", "メールに添付された計画", member=plan_name[m.code], muni=m, kind="plan")
    box.expect(rel, "ignored", "送付状の PDF（ブックではないので対象外）", member=cover, muni=m)

    # PPAP: the zip in one e-mail, its password in the next.
    m = r.ppap
    password = "".join(rng.choice(_PASSWORD_CHARS) for _ in range(10))
    sent = _at(april, 9, 15)
    zip_name = f"【{m.name}】計画・実績報告.zip"
    members = [(plan_name[m.code], plan[m.code], "plan"), (monthly_name[m.code], monthly[m.code], "monthly")]
    archive = zipcrypto_zip([(n.encode("cp932"), d) for n, d, _ in members], password.encode("ascii"),
                            rng=rng, when=sent - timedelta(minutes=3))
    rel = f"{MAIL_DIR}/【{m.name}】交付円滑化計画及び実績報告の送付.eml"
    mail(rel, m, [outlook_attachment(archive, zip_name, "application/x-zip-compressed")], sent,
         f"【{m.name}】交付円滑化計画及び実績報告の送付",
         "交付円滑化計画と令和2年3月分の実績報告を、パスワード付きの zip で送付します。",
         extra="パスワードは別のメールでお送りします。\r\n", outlook=True)
    box.expect(rel, "opened", "パスワード付き zip を添付したメール（いわゆる PPAP）", muni=m)
    box.expect(rel, "opened", "ZipCrypto で暗号化した zip（Windows のエクスプローラーと同じ形式）。"
                              "中のファイル名は Shift_JIS（cp932）で UTF-8 フラグなし。passwords.txt のパスワードで開きます",
               member=zip_name, muni=m)
    for n, _, kind in members:
        box.expect(rel, "accepted", "zip の中のブック", member=f"{zip_name} > {n}", muni=m, kind=kind)
    rel = f"{MAIL_DIR}/【{m.name}】パスワードのお知らせ.eml"
    mail(rel, m, [], sent + timedelta(minutes=1), f"【{m.name}】パスワードのお知らせ",
         "先ほどお送りしたファイルのパスワードをお知らせします。", extra=f"パスワード：{password}\r\n",
         outlook=True)
    box.expect(rel, "opened", "パスワードを知らせるメール（添付なし）。パスワードを passwords.txt に書き写して使います",
               muni=m)

    m = r.dup
    rel = f"{MAIL_DIR}/交付円滑化計画（{m.name}）再送.eml"
    mail(rel, m, [outlook_attachment(plan[m.code], plan_name[m.code])],
         _at(values(m)["basic.submitted_on"] + timedelta(days=1), 8, 50), f"交付円滑化計画（{m.name}）再送",
         "念のため、昨日お送りした交付円滑化計画を再送します。", outlook=True)
    box.expect(rel, "opened", "同じ計画を念のため再送したメール", muni=m)
    box.expect(rel, "accepted", "メールの中の計画（計画フォルダのファイルと同じ内容。先に見つかったこちらを採用）",
               member=plan_name[m.code], muni=m, kind="plan")

    m = r.broken
    rel = f"{MAIL_DIR}/【再送】3月分実績報告（{m.name}）.eml"
    mail(rel, m, [outlook_attachment(monthly[m.code], monthly_name[m.code])],
         _at(april + timedelta(days=3), 13, 12), f"【再送】3月分実績報告（{m.name}）",
         "先日お送りしたファイルが開けないとのことでしたので、再送します。", outlook=True)
    box.expect(rel, "opened", "開けなかったファイルを送り直したメール", muni=m)
    box.expect(rel, "accepted", "再送された実績報告", member=monthly_name[m.code], muni=m, kind="monthly")

    # --- litter ---
    first = munis[0]
    rel = f"{PLAN_DIR}/~${plan_name[first.code]}"
    box.put(rel, excel_lock_file("shichoson01"))
    box.expect(rel, "ignored", "Excel がブックを開いている間に作るロックファイル（~$ で始まる）")
    box.put(f"{PLAN_DIR}/Thumbs.db", thumbs_db())
    box.expect(f"{PLAN_DIR}/Thumbs.db", "ignored", "Windows のエクスプローラーが作る管理用ファイル")
    memo = (f"{first.pref_name} 交付円滑化計画 受付メモ（架空）\r\n"
            f"・{r.revised.name}：2/14 改訂1を受領（当初版は計画フォルダに残してある）\r\n"
            f"・{r.ppap.name}：パスワードは別メール。passwords.txt に転記済み\r\n"
            f"・{r.broken.name}：3月分のファイルが開けない→再送済み\r\n"
            f"・{r.late_monthly.name}：3月分 未着\r\n"
            f"・{r.absent.name}：計画・実績とも未着（督促する）\r\n")
    box.put("受付メモ.txt", memo.encode("cp932"))
    box.expect("受付メモ.txt", "ignored", "担当者のメモ（Shift_JIS のテキスト。ブックではないので対象外）")
    box.expected.sort(key=lambda e: (e.path, e.member))
    return box, r, pp, password


def _with_population(m: Municipality, seed: int) -> Municipality:
    """The municipality as the samples fill it in (a fictitious population when the master has none)."""
    return m if m.population else replace(m, population=sample_population(m, seed))


def make_inbox(out_dir: str | Path, master: Master, schedule: Schedule | None = None,
               pref: str = "31", seed: int = 2019) -> InboxResult:
    """Write the demo inbox: ``out_dir/inbox/``, ``out_dir/passwords.txt`` and ``out_dir/README.md``.

    An earlier demo inbox in ``out_dir`` (recognised by its README) is replaced; any other
    non-empty ``out_dir/inbox`` is refused (E901), so no one's files are ever deleted.
    """
    out = Path(out_dir)
    box, roles, pp, password = build_inbox(master, schedule, pref=pref, seed=seed)
    inbox = out / "inbox"
    readme = out / "README.md"
    if inbox.exists() and any(inbox.iterdir()):
        ours = readme.exists() and MARKER in readme.read_text(encoding="utf-8", errors="replace")
        if not ours:
            raise KofuError("E901", f"{inbox} には既にファイルがあります。受信箱の例は空のフォルダか、"
                                    "以前に kofu sample --inbox で作ったフォルダに作成してください")
        shutil.rmtree(inbox)
    result = InboxResult(out, pp, master.prefectures[pp], seed, expected=box.expected,
                         non_submitters=[roles.late_monthly.code, roles.absent.code])
    for rel, data in sorted(box.files.items()):
        path = inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
        result.files.append(path)
    # An unrelated password first: the intake tries each (at most 5) until one opens the zip.
    other = "".join(random.Random(zlib.crc32(f"{seed}:{pp}:other".encode())).choice(_PASSWORD_CHARS)
                    for _ in range(10))
    write_atomic(result.passwords, f"{other}\n{password}\n".encode())
    write_atomic(readme, readme_md(result, roles).encode("utf-8"))
    result.files += [result.passwords, readme]
    return result


def regenerate_command(out_dir: str, pref: str, seed: int) -> str:
    seed_opt = "" if seed == 2019 else f" --seed {seed}"
    return f".venv/bin/kofu sample --inbox {out_dir} --pref {pref}{seed_opt}"


def readme_md(result: InboxResult, roles: _Roles) -> str:
    """samples/README.md: what the inbox is, that every figure is fictitious, file by file."""
    pref = result.pref_name
    n_munis = len({e.muni_code for e in result.expected if e.muni_code}) + 1
    cmd = regenerate_command("samples", result.pref_code, result.seed)
    rows = []
    for e in result.expected:
        member = e.member.replace(" > ", " › ") if e.member else ""
        rows.append(f"| `{e.path}` | {f'`{member}`' if member else ''} | {STATUS_JA[e.status]} | {e.note} |")
    counts = {s: sum(1 for e in result.expected if e.status == s) for s in STATUS_JA}
    count_line = "・".join(f"{STATUS_JA[s]} {n}" for s, n in counts.items() if n)
    return f"""# samples/ — 受信箱の例（{pref}・数値はすべて架空）

{MARKER}

**ここにある数値はすべて架空です。** 団体コードと団体名は{pref}の実在の{n_munis}市町村（全国地方公共団体コード）
ですが、人口・交付枚数の想定・交付体制・経費・月次の実績、担当部署・担当者名・電話番号・メールアドレス、
メールの文面とパスワードは、すべて `kofu sample` が乱数（種 {result.seed}）で作ったものです。実在の団体の
計画・実績とは関係ありません。

**English.** A demo inbox of a prefecture ({pref}, code {result.pref_code}) in April 2020: the plans
received since December 2019 and the monthly reports for March 2020, as the files really arrive —
plain workbooks, e-mails saved as .eml with Japanese attachment names (ISO-2022-JP encoded-words from
Outlook, RFC 2231 UTF-8 from Thunderbird/Gmail), a ZipCrypto "PPAP" zip with Shift_JIS member names and
its password in a second e-mail, a workbook typed the messy way, one with errors, a resubmission
(改訂1 superseding 当初), a byte-identical copy, a truncated file, a municipality that sent nothing, and
junk. Municipality codes and names are real; **every figure, name, address, mail text and password is
fictitious**, generated by `kofu sample` from seed {result.seed}. The table below gives, for every file,
what it demonstrates and the status `kofu-merge` gives it (a test checks exactly this).

## 作り直す / Regenerate

```sh
{cmd}
```

このフォルダ（`inbox/`、`passwords.txt`、この README）を作り直します。同じ種からは同じバイト列ができます
（`tests/test_samples.py` が、同梱のファイルが最新であることを確認します）。様式の定義を変えたときは
このコマンドで作り直してください。 / Rewrites this folder; the same seed gives the same bytes, and a
test fails when the committed files are stale.

## 使ってみる / Try it

```sh
.venv/bin/kofu-merge samples/inbox --passwords samples/passwords.txt -o out/summary.xlsx
.venv/bin/kofu-advise out/summary.xlsx -o out/letters
.venv/bin/kofu-advise out/summary.xlsx -o out/reminders --missing
.venv/bin/kofu-validate samples/inbox --passwords samples/passwords.txt --annotate out/差戻し
```

kofu-merge と kofu-validate の終了コードは 1 です（不受理のファイルがあるため。意図どおり）。
`passwords.txt` には 1 行に 1 つパスワードを書きます（関係のないパスワードが先にあっても、順に試します）。
/ Both exit with status 1, as intended: some files are rejected.

## 中身 / What each file demonstrates

ファイルは `inbox/` からの相対パス、「中のファイル」はメール・zip の中のファイル（入れ子は › で区切る）です。
合計 {len(result.expected)} 件（{count_line}）。

| ファイル | 中のファイル | とりまとめでの扱い | 何を示すか |
|---|---|---|---|
{chr(10).join(rows)}

## 提出していない団体 / Not submitted

- {roles.absent.name}（{roles.absent.code}）：計画・実績報告とも届いていません。とりまとめ表の「未提出」シートに
  載り、`kofu-advise --missing` で督促文書を作ります。
- {roles.late_monthly.name}（{roles.late_monthly.code}）：計画は届いていますが、令和2年3月分の実績報告が未着です。
- {roles.errors.name}（{roles.errors.code}）：計画に誤りがあり不受理のため、計画は未提出の扱いです
  （差し戻して、直したものを出し直してもらいます）。
"""
