"""E-mails as containers: .eml (MIME) and Outlook .msg, walked for their attachments.

An attached (forwarded) message is walked in place, as its own container. The walk is bounded
(parts, nesting) and never recursive on hostile MIME; every attachment goes back to the
:class:`Walker` (the collector) as a blob of its own. Names and dates are decoded the way
Japanese mailers write them (:mod:`.names`).
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import email.utils
import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Protocol

from ..formats.base import Reject
from ..formats.limits import Limits
from ..formats.ole import msg_date, msg_size, msg_storage_sha, msg_stream, msg_text
from .items import Ctx, Item, sha256_of, unique_name
from .names import clean_name, decode_bytes, decode_words, param, split_params, unescape_raw

__all__ = ["Walker", "open_eml", "open_msg"]


class Walker(Protocol):
    """What the mail walk needs from the collector."""

    limits: Limits

    def blob(self, data: bytes, name: str, ctx: Ctx) -> list[Item]: ...

    def too_big(self, name: str, size: int, ctx: Ctx) -> Item: ...

    def open_container(self, ctx: Ctx, sha: str) -> None: ...


# --- Outlook .msg ----------------------------------------------------------------------------

def open_msg(walker: Walker, ole: Any, name: str, ctx: Ctx, sha: str) -> list[Item]:
    """An Outlook .msg (an open olefile reader): the message's item, then its attachments'."""
    walker.open_container(ctx, sha)
    return _msg_items(walker, ole, [], name, ctx, sha, budget=[0], depth=0)


def _msg_items(walker: Walker, ole: Any, prefix: list[str], name: str, ctx: Ctx, sha: str, *,
               budget: list[int], depth: int) -> list[Item]:
    """Outlook .msg with olefile: attachments are the storages __attach_version1.0_#N.

    An attached (forwarded) message is a storage __substg1.0_3701000D laid out like a
    .msg of its own, so it is walked in place.
    """
    limits = walker.limits
    if depth > limits.max_mime_depth:
        raise Reject("E116", f"メールの入れ子が上限 {limits.max_mime_depth} 段を超えています")
    here = replace(ctx, email_date=msg_date(ole, prefix, limits) or ctx.email_date)
    attach_dirs = sorted({
        tuple(p[: len(prefix) + 1]) for p in ole.listdir(streams=True, storages=True)
        if len(p) > len(prefix) and p[: len(prefix)] == prefix
        and p[len(prefix)].startswith("__attach_version1.0_")
    })
    children: list[Item] = []
    seen: dict[str, int] = {}
    for k, adir in enumerate(attach_dirs, 1):
        budget[0] += 1
        if budget[0] > limits.max_mime_parts:
            raise Reject("E116", f"添付ファイルが上限 {limits.max_mime_parts} 件を超えています")
        base = list(adir)
        fname = msg_attachment_name(ole, base, limits)
        embedded = [*base, "__substg1.0_3701000D"]
        if ole.exists("/".join([*embedded, "__properties_version1.0"])):
            subject = msg_text(ole, [*embedded, "__substg1.0_0037001F"], limits) or ""
            fname = fname or clean_name(subject)[:80] or f"添付メール{k}"
            if not fname.lower().endswith(".msg"):
                fname += ".msg"
            child = here.child(unique_name(fname, seen), sha)
            sub_sha = msg_storage_sha(ole, embedded)
            try:
                walker.open_container(child, sub_sha)
                children.extend(_msg_items(walker, ole, embedded, fname, child, sub_sha,
                                                budget=budget, depth=depth + 1))
            except Reject as r:
                children.append(child.item(fname, "rejected", fmt="msg", sha=sub_sha,
                                           code=r.code, reason=r.reason))
            continue
        fname = fname or f"添付ファイル{k}"
        child = here.child(unique_name(fname, seen), sha)
        stream = [*base, "__substg1.0_37010102"]
        size = msg_size(ole, stream)
        if size > limits.max_file_bytes:
            children.append(walker.too_big(fname, size, child))
            continue
        content = msg_stream(ole, stream, limits)
        if content is None:
            children.append(child.item(fname, "ignored", reason="埋め込みオブジェクトのため対象外です"))
            continue
        children.extend(walker.blob(content, fname, child))
    head = here.item(name, "opened", fmt="msg", sha=sha,
                     reason=f"Outlook のメールを開き、添付ファイル {len(attach_dirs)} 件を取り出しました")
    return [head, *children]

# --- e-mail (.eml) ---------------------------------------------------------------------------


def open_eml(walker: Walker, data: bytes, name: str, ctx: Ctx, sha: str) -> list[Item]:
    """An .eml's bytes: the message's item, then its attachments' (forwarded ones walked)."""
    walker.open_container(ctx, sha)
    # Bound the parse itself: the stdlib parser recurses per nested multipart level.
    nested = len(re.findall(rb"(?im)^content-type:[ \t\r\n]*(?:multipart|message)/", data))
    if nested > walker.limits.max_mime_parts:
        raise Reject("E116", f"MIME パートが上限 {walker.limits.max_mime_parts} 個を超えています")
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
    except RecursionError:
        raise Reject("E116", "メールの入れ子が深すぎます") from None
    except Exception:
        raise Reject("E111", "メールの形式が壊れています") from None
    return _message(walker, msg, name, ctx, sha, budget=[0], depth=0)


def _message(walker: Walker, msg: email.message.Message, name: str, ctx: Ctx, sha: str, *,
             budget: list[int], depth: int) -> list[Item]:
    sent = _email_date(msg) or ctx.email_date
    here = Ctx(ctx.path, ctx.members, ctx.level, sent, ctx.mtime, ctx.ancestors)
    children: list[Item] = []
    seen: dict[str, int] = {}
    count = 0
    # Depth-first in MIME order, with an explicit stack (no recursion on hostile nesting).
    stack: list[tuple[email.message.Message, int]] = [(msg, depth)]
    while stack:
        part, level = stack.pop()
        budget[0] += 1
        if budget[0] > walker.limits.max_mime_parts:
            raise Reject("E116", f"MIME パートが上限 {walker.limits.max_mime_parts} 個を超えています")
        if level > walker.limits.max_mime_depth:
            raise Reject("E116", f"MIME の入れ子が上限 {walker.limits.max_mime_depth} 段を超えています")
        ctype, cparams = split_params(_raw_header(part, "content-type") or "text/plain")
        payload = part.get_payload()
        if ctype.startswith("multipart/") and isinstance(payload, list):
            stack.extend((p, level + 1) for p in reversed(payload))
            continue
        filename = _part_filename(part, cparams)
        disposition, _ = split_params(_raw_header(part, "content-disposition") or "")
        if ctype == "message/rfc822" and isinstance(payload, list) and payload:
            count += 1
            inner = payload[0]
            subject = decode_words(_raw_header(inner, "subject") or "").strip()
            fname = filename or (clean_name(subject)[:80] or f"添付メール{count}")
            if not fname.lower().endswith(".eml"):
                fname += ".eml"
            child = here.child(unique_name(fname, seen), sha)
            sub_sha = _message_sha(inner)
            try:
                walker.open_container(child, sub_sha)
                children.extend(_message(walker, inner, fname, child, sub_sha, budget=budget,
                                              depth=level + 1))
            except Reject as r:
                children.append(child.item(fname, "rejected", fmt="eml", sha=sub_sha,
                                           code=r.code, reason=r.reason))
            continue
        if not filename and disposition != "attachment":
            continue  # the body text, not a file
        count += 1
        fname = filename or f"添付ファイル{count}{_EXT_BY_TYPE.get(ctype, '')}"
        child = here.child(unique_name(fname, seen), sha)
        try:
            content = part.get_payload(decode=True)
        except Exception:
            content = None
        if not isinstance(content, bytes):
            content = b""
        if len(content) > walker.limits.max_file_bytes:
            children.append(walker.too_big(fname, len(content), child))
            continue
        children.extend(walker.blob(content, fname, child))
    head = here.item(name, "opened", fmt="eml", sha=sha,
                     reason=f"メールを開き、添付ファイル {count} 件を取り出しました")
    return [head, *children]


_EXT_BY_TYPE = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": ".xlsm",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/zip": ".zip",
    "application/x-zip-compressed": ".zip",
    "message/rfc822": ".eml",
}


def _raw_header(msg: email.message.Message, name: str) -> str | None:
    """A header as written, without the policy's parser (which raises on some Japanese names)."""
    for key, value in msg.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _part_filename(part: email.message.Message, cparams: list[tuple[str, str]]) -> str:
    _, dparams = split_params(_raw_header(part, "content-disposition") or "")
    name = param(dparams, "filename") or param(cparams, "name")
    if not name:
        with contextlib.suppress(Exception):
            name = part.get_filename() or ""
    return clean_name(name or "")


def _email_date(msg: email.message.Message) -> datetime | None:
    raw = _raw_header(msg, "date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(unescape_raw(raw).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _message_sha(msg: email.message.Message) -> str:
    try:
        return sha256_of(msg.as_bytes(policy=email.policy.compat32))
    except Exception:
        return ""


def msg_attachment_name(ole: Any, base: list[str], limits: Limits) -> str:
    """Long file name, short file name, display name: Unicode (001F) first, then 8-bit (001E)."""
    for prop in ("3707", "3704", "3001"):
        text = msg_text(ole, [*base, f"__substg1.0_{prop}001F"], limits)
        if text and clean_name(text):
            return clean_name(text)
    for prop in ("3707", "3704", "3001"):
        raw = msg_stream(ole, [*base, f"__substg1.0_{prop}001E"], limits)
        if raw and clean_name(decode_bytes(raw.rstrip(b"\x00"), "cp932")):
            return clean_name(decode_bytes(raw.rstrip(b"\x00"), "cp932"))
    return ""
