"""The bundled demo inbox (samples/): fresh, small, and every file handled as its README says."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kofu_excel.cli import main
from kofu_excel.demo.inbox import MANIFEST, build_inbox, make_inbox
from kofu_excel.refdata import load_master

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
REGENERATE = ".venv/bin/kofu sample --inbox samples --pref 31"


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("merge") / "summary.xlsx"
    res = CliRunner().invoke(main, ["merge", str(SAMPLES / "inbox"), "--passwords",
                                    str(SAMPLES / "passwords.txt"), "-o", str(out), "--json"])
    assert res.exit_code == 1, res.output  # some files are rejected on purpose
    doc = json.loads(res.stdout)
    assert Path(doc["output"]) == out and out.exists()
    return doc


def _canon(data: bytes, passwords: list[bytes]) -> Any:
    """What a file holds, independent of how zlib compressed it (zlib builds differ between
    machines): zips as their members' uncompressed contents, e-mails as headers and parts."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                out = []
                for info in z.infolist():
                    for pwd in [None, *passwords]:
                        try:
                            out.append((info.orig_filename, info.flag_bits & 0x801, info.date_time,
                                        _canon(z.read(info, pwd=pwd), passwords)))
                            break
                        except RuntimeError:
                            continue
                    else:
                        raise AssertionError(f"no password opens {info.orig_filename}")
                return ("zip", out)
        except zipfile.BadZipFile:
            return ("truncated zip",)  # cut at half its (compressed) length: bytes vary with zlib
    if data.startswith(b"From: "):
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        parts = [([(k, re.sub(r'boundary="[^"]*"', "", v)) for k, v in part.items()],
                  _canon(part.get_payload(decode=True) or b"", passwords))
                 for part in msg.walk() if not part.is_multipart()]
        return ("eml", [(k, re.sub(r'boundary="[^"]*"', "", v)) for k, v in msg.items()], parts)
    return data


def test_samples_are_fresh(tmp_path: Path) -> None:
    """samples/ holds exactly what the documented command writes (same seed, same content)."""
    make_inbox(tmp_path, load_master(None), pref="31", seed=2019)
    want, have = _tree(tmp_path), _tree(SAMPLES)
    assert sorted(want) == sorted(have), f"samples/ is stale (other files): run `{REGENERATE}`"
    passwords = [p.encode() for p in (SAMPLES / "passwords.txt").read_text(encoding="utf-8").split()]
    # The manifest holds each file's SHA-256, which follows zlib's bytes: compared by its names,
    # and checked against the files it lists.
    manifest = json.loads(have.pop(MANIFEST))["files"]
    assert sorted(manifest) == sorted(json.loads(want.pop(MANIFEST))["files"])
    assert all(hashlib.sha256(have[k]).hexdigest() == v for k, v in manifest.items()), \
        f"samples/{MANIFEST} is stale: run `{REGENERATE}`"
    stale = sorted(k for k in want if want[k] != have[k]
                   and _canon(want[k], passwords) != _canon(have[k], passwords))
    assert not stale, f"samples/ is stale ({len(stale)} files, e.g. {stale[:3]}): run `{REGENERATE}`"


def test_samples_small_and_fictitious() -> None:
    size = sum(len(b) for b in _tree(SAMPLES).values())
    assert size < 3 * 2**20, f"samples/ is {size / 2**20:.1f} MB"
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    assert "架空" in readme and "fictitious" in readme and REGENERATE in readme
    assert not list(SAMPLES.rglob("*.tmp")) and not (SAMPLES / "out").exists()


def test_same_seed_same_bytes_other_seed_differs() -> None:
    master = load_master(None)
    a, _, _, pw_a = build_inbox(master, pref="31", seed=7)
    b, _, _, pw_b = build_inbox(master, pref="31", seed=7)
    c, _, _, pw_c = build_inbox(master, pref="31", seed=8)
    assert a.files == b.files and pw_a == pw_b
    assert a.files != c.files and pw_a != pw_c


def test_every_file_accounted_for_as_intended(merged: dict) -> None:
    box, roles, _, _ = build_inbox(load_master(None), pref="31", seed=2019)
    prefix = str(SAMPLES / "inbox") + "/"
    got = [(i["path"].removeprefix(prefix), i["member"], i["status"]) for i in merged["inputs"]]
    assert len(got) == len(set(got)), "a file is listed twice"
    want = [(e.path, e.member, e.status) for e in box.expected]
    assert sorted(got) == sorted(want)
    # Every file on disk is in the account.
    on_disk = set(_tree(SAMPLES / "inbox"))
    assert on_disk == {p for p, m, _ in got if not m}
    # Kind and municipality of every accepted workbook are as planned.
    by_key = {(e.path, e.member): e for e in box.expected}
    for i in merged["inputs"]:
        e = by_key[(i["path"].removeprefix(prefix), i["member"])]
        if i["status"] == "accepted":
            assert (i["kind"], i["muni_code"]) == (e.kind, e.muni_code)
    assert set(merged["missing"]) == {roles.errors.code, roles.late_monthly.code, roles.absent.code}
    statuses = {s for _, _, s in got}
    assert statuses == {"accepted", "rejected", "superseded", "duplicate", "ignored", "opened"}


def test_letters_from_the_samples(merged: dict, tmp_path: Path) -> None:
    summary = merged["output"]
    res = CliRunner().invoke(main, ["advise", summary, "-o", str(tmp_path / "letters"), "--json"])
    assert res.exit_code == 0, res.output
    letters = sorted((tmp_path / "letters").glob("*.docx"))
    assert len(letters) >= 3
    res = CliRunner().invoke(main, ["advise", summary, "-o", str(tmp_path / "rem"), "--missing"])
    assert res.exit_code == 0, res.output
    names = {p.name for p in (tmp_path / "rem").glob("*_督促.docx")}
    assert names == {"313289_智頭町_督促.docx", "314021_日野町_督促.docx", "314030_江府町_督促.docx"}


def test_the_quirks_are_in_the_bytes() -> None:
    """The e-mails and the zip carry the quirks the README promises, written as mailers write them."""
    mails = {p.name: p.read_bytes() for p in (SAMPLES / "inbox" / "メール").glob("*.eml")}
    outlook = mails["【境港市】交付円滑化計画の提出について.eml"]
    assert b'filename="=?ISO-2022-JP?B?' in outlook and b"charset=iso-2022-jp" in outlook
    rfc2231 = mails["交付円滑化計画の提出（倉吉市）.eml"]
    assert b"filename*=UTF-8''%E4%BA%A4" in rfc2231
    msg = email.message_from_bytes(mails["【岩美町】交付円滑化計画及び実績報告の送付.eml"],
                                   policy=email.policy.default)
    part = next(p for p in msg.iter_attachments())
    archive = part.get_payload(decode=True)
    # First local header: encrypted (bit 0), no UTF-8 flag (bit 11), name in cp932.
    sig, _ver, flags, _method, _t, _d, _crc, _cs, _us, n, _x = struct.unpack("<4s5H3L2H", archive[:30])
    assert sig == b"PK\x03\x04" and flags & 0x1 and not flags & 0x800
    assert archive[30:30 + n].decode("cp932") == "313025_岩美町_交付円滑化計画.xlsx"
    passwords = (SAMPLES / "passwords.txt").read_text(encoding="utf-8").split()
    notice = mails["【岩美町】パスワードのお知らせ.eml"]
    body = email.message_from_bytes(notice, policy=email.policy.default).get_body(("plain",)).get_content()
    assert passwords[-1] in body


def test_cli_sample_inbox_options(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["sample", "--inbox", str(tmp_path / "a"), "--kind", "plan"])
    assert res.exit_code == 2 and "--inbox" in res.output
    res = runner.invoke(main, ["sample", "-o", str(tmp_path / "b")])
    assert res.exit_code == 2 and "--kind" in res.output
    res = runner.invoke(main, ["sample", "--kind", "plan", "--count", "2", "-o", str(tmp_path / "c"), "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["files"]) == 2
    res = runner.invoke(main, ["sample", "--inbox", str(tmp_path / "d"), "--pref", "鳥取県", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["pref"] == "31" and Path(doc["passwords"]).exists()
    # Again into the same folder: the earlier demo inbox is replaced, not mixed.
    res = runner.invoke(main, ["sample", "--inbox", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    # Someone else's folder is never emptied.
    (tmp_path / "e" / "inbox").mkdir(parents=True)
    (tmp_path / "e" / "inbox" / "大事なファイル.xlsx").write_bytes(b"x")
    res = runner.invoke(main, ["sample", "--inbox", str(tmp_path / "e")])
    assert res.exit_code == 2 and "E901" in res.output
    assert (tmp_path / "e" / "inbox" / "大事なファイル.xlsx").exists()
