"""Issue 4's inbox, taken in one run by kofu-merge: every good workbook accepted, every other
item listed once with the right status and its own reason, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from conftest import convert
from intake_fixtures import aes_zip, encrypted_xlsx, zip_bomb
from openpyxl import load_workbook

from kofu_excel.cli import main
from kofu_excel.demo.builders import eml, outlook_attachment, rfc2231_attachment, zipcrypto_zip

PASSWORD = "Kofu#2019"


def test_whole_inbox_in_one_run(tmp_path: Path, make_sample) -> None:
    plans = {p.name[:6]: p for p in make_sample("plan", pref="31", seed=44).files}
    codes = sorted(plans)
    inbox = tmp_path / "受信"
    inbox.mkdir()

    def put(rel: str, data: bytes) -> None:
        path = inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    read = {c: plans[c].read_bytes() for c in codes}
    c = iter(codes)
    mail_a, mail_b, ppap, aes, enc, xls, dup, resub = (next(c) for _ in range(8))
    # E-mails with Japanese attachment names, both ways (RFC 2231 and ISO-2022-JP words).
    put("メール/a.eml", eml([rfc2231_attachment(read[mail_a], f"{mail_a}_交付円滑化計画（改）.xlsx")]))
    put("メール/b.eml", eml([outlook_attachment(read[mail_b], f"{mail_b}_計画①～㈱.xlsx")]))
    # PPAP: ZipCrypto with a cp932 member name and no UTF-8 flag; and an AES zip.
    put("メール/ppap.zip", zipcrypto_zip([(f"{ppap}_計画.xlsx".encode("cp932"), read[ppap])],
                                         PASSWORD.encode()))
    put("aes.zip", aes_zip([(f"{aes}_計画.xlsx", read[aes])], PASSWORD.encode()))
    # A workbook encrypted with an opening password.
    put("暗号化.xlsx", encrypted_xlsx(read[enc], PASSWORD))
    # A legacy .xls (LibreOffice saves it as Excel 97 would).
    out = tmp_path / "lo"
    out.mkdir()
    put("旧形式.xls", convert(plans[xls], "xls:MS Excel 97", out).read_bytes())
    # A byte-identical copy, and a resubmission (改訂1 supersedes 当初).
    put("copy1.xlsx", read[dup])
    put("copy2.xlsx", read[dup])
    put("当初.xlsx", read[resub])
    wb = load_workbook(plans[resub])
    wb["基本情報"]["B14"] = "改訂1"
    revised = tmp_path / "revised.xlsx"
    wb.save(revised)
    put("改訂.xlsx", revised.read_bytes())
    # The rest of the good workbooks as plain files.
    for code in c:
        put(f"計画/{plans[code].name}", read[code])
    # Junk and hostile items.
    put("bomb.zip", zip_bomb())
    put("random.xlsx", bytes(range(256)) * 8)
    put("truncated.zip", read[codes[0]][:700])
    put("empty.xlsx", b"")
    pw = tmp_path / "passwords.txt"
    pw.write_text(f"wrong\n{PASSWORD}\n", encoding="utf-8")

    result = CliRunner().invoke(main, ["merge", str(inbox), "--passwords", str(pw),
                                       "-o", str(tmp_path / "summary.xlsx"), "--json"])
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    rows = doc["inputs"]
    keys = [(r["path"], r["member"]) for r in rows]
    assert len(keys) == len(set(keys))  # every file found appears exactly once
    accepted = {r["muni_code"] for r in rows if r["status"] == "accepted"}
    assert accepted == set(codes)  # every good workbook, whichever way it came
    by_name = {Path(r["path"]).name + (" > " + r["member"] if r["member"] else ""): r for r in rows}
    assert by_name[f"b.eml > {mail_b}_計画①～㈱.xlsx"]["status"] == "accepted"
    assert by_name[f"a.eml > {mail_a}_交付円滑化計画（改）.xlsx"]["status"] == "accepted"
    assert by_name[f"ppap.zip > {ppap}_計画.xlsx"]["status"] == "accepted"
    assert by_name["暗号化.xlsx"]["status"] == "accepted"
    assert by_name["旧形式.xls"]["status"] == "accepted"
    assert {by_name["copy1.xlsx"]["status"], by_name["copy2.xlsx"]["status"]} == {"accepted", "duplicate"}
    assert by_name["当初.xlsx"]["status"] == "superseded"
    assert by_name["改訂.xlsx"]["status"] == "accepted"
    for name, code in (("bomb.zip", "E112"), ("random.xlsx", "E111"), ("truncated.zip", "E111"),
                       ("empty.xlsx", "E110")):
        assert (by_name[name]["status"], by_name[name]["code"]) == ("rejected", code), by_name[name]
        assert by_name[name]["reason"]
    assert PASSWORD not in result.output
