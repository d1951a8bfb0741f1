"""The collector: any blob in, items out; workbooks pre-scanned, containers opened in memory.

A blob is recognised by its bytes (zip, OLE) before its name: a zip is a workbook (xlsx,
xlsm, ods: pre-scanned by :func:`kofu_excel.formats.check_workbook`), another office
document, or an archive whose members are walked; an OLE file is an xls, an encrypted
workbook (decrypted in memory with the passwords given) or an Outlook message. E-mails go to
:mod:`.mail`. Nothing is written to disk and nothing raises: a blob that must go no further
becomes a rejected item with a code and a Japanese reason.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import stamp
from ..formats.base import Reject, size_text
from ..formats.limits import Limits
from ..formats.ole import OLE_MAGIC, decrypt_ooxml, decrypt_xls, open_ole, xls_is_encrypted
from ..formats.package import check_workbook, check_zip_workbook
from ..formats.zip import (
    ZIP_MAGICS,
    ZipEntry,
    ZipIndex,
    dos_mtime,
    inflate,
    read_encrypted,
    zip_index,
    zip_kind,
)
from .items import (
    KNOWN_EXTS,
    NOT_TARGET,
    WORKBOOK_EXTS,
    Ctx,
    Item,
    ext_of,
    fmt_guess,
    sha256_of,
    unique_name,
)
from .mail import open_eml, open_msg
from .names import clean_name, litter_reason

E_PASSWORDS = "E505"  # the password list cannot be read (not a regular file, too big …)

__all__ = ["Collector", "read_passwords"]


class Collector:
    """Turns any blob into items: workbooks are pre-scanned, containers opened in memory."""

    def __init__(self, passwords: Sequence[str], limits: Limits) -> None:
        self.limits = limits
        unique: list[str] = []
        for p in passwords:
            if p and p not in unique:
                unique.append(p)
        self.passwords = unique[: limits.max_passwords]
        self.last_zip_password: bytes | None = None

    # ---- entry point for any blob ---------------------------------------------------------

    def blob(self, data: bytes, name: str, ctx: Ctx) -> list[Item]:
        """Every blob becomes at least one item; nothing escapes as an exception."""
        sha = sha256_of(data)
        try:
            return self._blob(data, name, ctx, sha)
        except Reject as r:
            return [ctx.item(name, "rejected", fmt=fmt_guess(name), sha=sha, code=r.code,
                             reason=r.reason)]
        except RecursionError:
            return [ctx.item(name, "rejected", fmt=fmt_guess(name), sha=sha, code="E114",
                             reason="入れ子が深すぎるため開きません")]
        except Exception as exc:
            return [ctx.item(name, "rejected", fmt=fmt_guess(name), sha=sha, code="E111",
                             reason=f"読み込み中に想定外の問題が起きたため取り込みません（{type(exc).__name__}）")]

    def too_big(self, name: str, size: int, ctx: Ctx) -> Item:
        if ext_of(name) in KNOWN_EXTS:
            return ctx.item(name, "rejected", fmt=fmt_guess(name), code="E108",
                            reason=f"ファイルが {size_text(size)} あり、上限 {size_text(self.limits.max_file_bytes)} を超えています")
        return ctx.item(name, "ignored", reason=NOT_TARGET)

    def _blob(self, data: bytes, name: str, ctx: Ctx, sha: str) -> list[Item]:
        ext = ext_of(name)
        if not data:
            if ext in KNOWN_EXTS:
                return [ctx.item(name, "rejected", fmt=fmt_guess(name), sha=sha, code="E110",
                                 reason="空のファイル（0 バイト）です")]
            return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]
        if data.startswith(ZIP_MAGICS):
            return self._zip_blob(data, name, ctx, sha)
        if data.startswith(OLE_MAGIC):
            return self._ole_blob(data, name, ctx, sha)
        if ext == ".eml":
            return open_eml(self, data, name, ctx, sha)
        if ext in WORKBOOK_EXTS or ext in (".zip", ".msg", ".xlsb"):
            head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
            if head.startswith(b"<") and (b"<html" in head or b"<table" in head or b"<?xml" in head):
                reason = ("中身が HTML／XML 形式の表で、Excel ブックではありません。"
                          "Excel で開き「Excel ブック (*.xlsx)」形式で保存し直してください")
            elif ext == ".xlsx" or ext == ".xlsm":
                reason = "Excel ブック（xlsx）の形式ではありません（壊れているか、別の形式のファイルです）"
            else:
                reason = "ファイルが壊れているか、拡張子と中身の形式が一致しません"
            return [ctx.item(name, "rejected", fmt=fmt_guess(name), sha=sha, code="E111",
                             reason=reason)]
        if ext == ".csv":
            return [ctx.item(name, "ignored", sha=sha,
                             reason="CSV は対象外です。様式のブック（xlsx）を提出してください")]
        if name.lower() == "winmail.dat":
            return [ctx.item(name, "ignored", sha=sha, reason=(
                "Outlook の TNEF 形式（winmail.dat）です。送信者に添付ファイルを通常の形式で送り直すよう依頼してください"))]
        if stamp.is_text_letter(data):
            return [ctx.item(name, "ignored", sha=sha, code=stamp.E_OWN, reason=stamp.reason("letter"))]
        return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]

    def _workbook(self, data: bytes, name: str, ctx: Ctx, sha: str, fmt: str, *,
                  decrypted: bool = False) -> list[Item]:
        problem = check_workbook(data, fmt, self.limits)
        if problem:
            return [ctx.item(name, "rejected", fmt=fmt, sha=sha, code=problem[0],
                             reason=problem[1], decrypted=decrypted)]
        return [ctx.item(name, "candidate", fmt=fmt, sha=sha, data=data, decrypted=decrypted)]

    def open_container(self, ctx: Ctx, sha: str) -> None:
        """Refuse a container that holds itself or is nested too deep (E114)."""
        if sha and sha in ctx.ancestors:
            raise Reject("E114", "自分自身を含む圧縮ファイル・メールのため開きません")
        if ctx.level >= self.limits.max_depth:
            raise Reject("E114", f"入れ子が深すぎるため開きません（メール・圧縮ファイルの入れ子は {self.limits.max_depth} 段まで）")

    # ---- zip ------------------------------------------------------------------------------

    def _zip_blob(self, data: bytes, name: str, ctx: Ctx, sha: str) -> list[Item]:
        ext = ext_of(name)
        try:
            idx = zip_index(data, self.limits)
        except Reject:
            if ext in KNOWN_EXTS:
                raise
            return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]
        kind = zip_kind(data, idx, ext)
        if kind in ("xlsx", "xlsm", "ods"):
            problem = check_zip_workbook(data, idx, kind, self.limits)
            if problem:
                return [ctx.item(name, "rejected", fmt=kind, sha=sha, code=problem[0],
                                 reason=problem[1])]
            return [ctx.item(name, "candidate", fmt=kind, sha=sha, data=data)]
        if kind == "xlsb":
            raise Reject("E101", "xlsb（バイナリ形式）のブックには対応していません。"
                                  "Excel で「Excel ブック (*.xlsx)」形式で保存し直してください")
        if ext in WORKBOOK_EXTS:
            raise Reject("E101", f"拡張子は {ext} ですが、中身は Excel ブックではありません")
        if kind == "office" or ext != ".zip":
            if kind == "office" and _docx_letter(data, idx):
                return [ctx.item(name, "ignored", sha=sha, code=stamp.E_OWN, reason=stamp.reason("letter"))]
            return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]
        return self._zip_container(data, idx, name, ctx, sha)

    def _zip_container(self, data: bytes, idx: ZipIndex, name: str, ctx: Ctx,
                       sha: str) -> list[Item]:
        self.open_container(ctx, sha)
        files = [e for e in idx.entries if not e.is_dir]
        readers: dict[str, Any] = {}
        password: bytes | None = None
        encrypted = [e for e in files if e.encrypted and e.file_size <= self.limits.max_file_bytes
                     and litter_reason(clean_name(e.name), e.name.split("/")) is None]
        first_data: dict[int, bytes] = {}
        if encrypted:
            # Find the archive's password on its first encrypted member before listing anything.
            found = self._zip_password(data, encrypted[0], readers)
            if found is None:
                raise Reject("E102", self._no_password_reason("パスワード付き zip"))
            password, first_data[encrypted[0].index] = found
        children: list[Item] = []
        seen: dict[str, int] = {}
        for e in files:
            member_path = e.name.replace("\\", "/")
            base = clean_name(member_path) or member_path
            child = ctx.child(unique_name(member_path, seen), sha, mtime=dos_mtime(e))
            litter = litter_reason(base, member_path.split("/"))
            if litter:
                children.append(child.item(base, "ignored", reason=litter))
                continue
            if e.file_size > self.limits.max_file_bytes:
                children.append(self.too_big(base, e.file_size, child))
                continue
            try:
                if e.index in first_data:
                    content = first_data[e.index]
                elif e.encrypted:
                    found = self._zip_password(data, e, readers, prefer=password)
                    if found is None:
                        raise Reject("E102", self._no_password_reason("パスワード付きのファイル"))
                    content = found[1]
                else:
                    content = inflate(data, e)
            except Reject as r:
                children.append(child.item(base, "rejected", fmt=fmt_guess(base), code=r.code,
                                           reason=r.reason))
                continue
            children.extend(self.blob(content, base, child))
        head = ctx.item(name, "opened", fmt="zip", sha=sha,
                        reason=f"zip を展開し（ディスクには書き出さず）{len(files)} 件を取り出しました")
        return [head, *children]

    def _no_password_reason(self, what: str) -> str:
        if not self.passwords:
            return f"{what}です。パスワードの一覧（--passwords）を指定してください"
        return f"{what}ですが、指定されたパスワード（{len(self.passwords)} 件）のいずれでも開けません"

    def _password_bytes(self, prefer: bytes | None) -> list[bytes]:
        out: list[bytes] = [prefer] if prefer else []
        if self.last_zip_password and self.last_zip_password not in out:
            out.append(self.last_zip_password)
        for p in self.passwords:
            for enc in ("utf-8", "cp932"):
                with contextlib.suppress(UnicodeEncodeError):
                    b = p.encode(enc)
                    if b not in out:
                        out.append(b)
        return out

    def _zip_password(self, data: bytes, e: ZipEntry, readers: dict[str, Any],
                      prefer: bytes | None = None) -> tuple[bytes, bytes] | None:
        """An encrypted member read with each candidate password, the one that fit remembered."""
        found = read_encrypted(data, e, readers, self._password_bytes(prefer))
        if found is not None:
            self.last_zip_password = found[0]
        return found

    # ---- OLE: encrypted workbooks, xls, Outlook .msg --------------------------------------

    def _ole_blob(self, data: bytes, name: str, ctx: Ctx, sha: str) -> list[Item]:
        ext = ext_of(name)
        try:
            ole = open_ole(data)
        except Exception:
            if ext in KNOWN_EXTS:
                raise Reject("E111", "ファイルの構造（OLE 複合文書）が壊れています") from None
            return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]
        with contextlib.closing(ole):
            if ole.exists("EncryptionInfo") and ole.exists("EncryptedPackage"):
                if ext not in WORKBOOK_EXTS:
                    return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]
                return self._encrypted_ooxml(data, name, ctx, sha)
            if ole.exists("Workbook") or ole.exists("Book"):
                return self._xls(data, name, ctx, sha)
            if ole.exists("__properties_version1.0") or ext == ".msg":
                return open_msg(self, ole, name, ctx, sha)
        if ext in WORKBOOK_EXTS:
            raise Reject("E101", "Excel ブックではありません（Word 文書など別の形式のファイルです）")
        return [ctx.item(name, "ignored", sha=sha, reason=NOT_TARGET)]

    def _encrypted_ooxml(self, data: bytes, name: str, ctx: Ctx, sha: str) -> list[Item]:
        plain = decrypt_ooxml(data, self.passwords)
        if plain is None:
            raise Reject("E102", self._no_password_reason("パスワード付きのブック"))
        kind = zip_kind(plain, zip_index(plain, self.limits), ext_of(name))
        if kind not in ("xlsx", "xlsm"):
            raise Reject("E101", "復号できましたが、中身は Excel ブックではありません")
        return self._workbook(plain, name, ctx, sha, kind, decrypted=True)

    def _xls(self, data: bytes, name: str, ctx: Ctx, sha: str) -> list[Item]:
        if not xls_is_encrypted(data):
            return self._workbook(data, name, ctx, sha, "xls")
        plain = decrypt_xls(data, self.passwords)
        if plain is None:
            raise Reject("E102", self._no_password_reason("パスワード付きのブック"))
        return self._workbook(plain, name, ctx, sha, "xls", decrypted=True)


def read_passwords(path: str | Path) -> list[str]:
    """Passwords, one per line, in UTF-8 (with or without BOM) or cp932; blank lines skipped.

    Surrounding spaces are removed (a trailing space from Notepad is the usual mistake).
    """
    from ..sidefiles import read_side_file

    raw = read_side_file(path, "パスワード一覧のファイル", E_PASSWORDS)
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp932", "replace")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _docx_letter(data: bytes, idx: ZipIndex) -> bool:
    """A Word letter the toolkit wrote: kofu-excel is the author in its core properties."""
    core = idx.get("docProps/core.xml")
    if core is None or core.encrypted or core.file_size > 16_384:
        return False
    try:
        return stamp.DOCX_CREATOR in inflate(data, core)
    except Reject:
        return False
