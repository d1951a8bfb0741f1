"""What kofu-excel wrote is never mistaken for a submission: the stamp on its own outputs.

Every workbook the toolkit writes for people to read or to fill in carries a stamp in its hidden
``kofu_meta`` area: the summary (``kind = summary``), the report of kofu-validate (``kind =
report``), and the forms it writes unfilled or annotated (``written = template | annotated``
with ``digest``, a hash of the input cells as written). A form whose input cells still hash to
its digest is exactly what the toolkit wrote: an unfilled template or an annotated copy nobody
corrected. It is listed as ignored with :data:`REASON`, never validated or counted. Once a
municipality has typed anything into it, the digest no longer matches and it is a submission
again (as a corrected annotated copy must be). Samples (``kofu sample``) are filled forms meant
for validation and carry no digest.

Plain data and stdlib only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

E_OWN = "E122"
REASON = "kofu-excel が作成したファイル"
REPORT_KIND = "report"
# What each stamped output is, as the ignored item's reason names it.
LABELS = {
    "summary": "とりまとめ表",
    "national": "全国のとりまとめ表",
    REPORT_KIND: "確認結果のブック",
    "template": "記入されていない様式",
    "annotated": "修正されていない差し戻し用のブック",
    "letter": "助言・督促の文書",
}
# Letters: an HTML comment at the end of a markdown or html letter (invisible in both), and the
# docx's author in its core properties.
LETTER_MARK = "<!-- generator: kofu-excel -->"
DOCX_CREATOR = b"<dc:creator>kofu-excel</dc:creator>"


def is_text_letter(data: bytes) -> bool:
    """A markdown or html letter the toolkit wrote (its mark near the end)."""
    return LETTER_MARK.encode() in data[-256:]
WRITTEN_KINDS = ("template", "annotated")


def reason(what: str) -> str:
    """「kofu-excel が作成したファイル（とりまとめ表）」."""
    label = LABELS.get(what, "")
    return f"{REASON}（{label}）" if label else REASON


def _canonical(v: Any) -> str | None:
    """A cell's value as written and as read back alike (calamine gives floats and datetimes)."""
    if v is None or (isinstance(v, str) and v == ""):
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time(0) else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def digest(cells: Mapping[str, Any]) -> str:
    """Hash of input cells (catalog id → raw value); blank cells do not count."""
    pairs = sorted((k, c) for k, v in cells.items() if (c := _canonical(v)) is not None)
    blob = json.dumps(pairs, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
