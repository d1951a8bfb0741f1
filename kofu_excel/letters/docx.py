"""docx bytes from the docx mini-markup a ``<kind>.docx.j2`` template renders.

The markup (``<p align= indent= first= bold= size=>``, ``<b>``, ``<br/>``, ``<pagebreak/>``),
autoescaped like HTML, is parsed with defusedxml and laid out with python-docx (A4, Japanese
Mincho font set for both the east-Asian and the Latin script so Word does not fall back). The
same letters give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from io import BytesIO
from typing import Any

from ..findings import KofuError
from .render import E_TEMPLATE

DOCX_FONT = "ＭＳ 明朝"  # on every Japanese Windows; LibreOffice substitutes a Mincho face


DOCX_SIZE_PT = 12


_ALIGN = {"left": "LEFT", "center": "CENTER", "right": "RIGHT", "justify": "JUSTIFY"}


_BREAKS = re.compile(r"[ \t\r]*\n[ \t\r]*")  # template line breaks, not the text's own spaces



def _set_fonts(rpr: Any, font: str) -> None:
    from docx.oxml.ns import qn

    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)  # a theme font would win over the name
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), font)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = rpr.makeelement(qn("w:lang"), {})
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "ja-JP")


def docx_bytes(markup: str, title: str, when: dt.date, name: str) -> bytes:
    import defusedxml.ElementTree as SafeET
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    try:
        root = SafeET.fromstring(markup)
    except Exception as exc:  # ParseError or a defusedxml refusal
        raise KofuError(E_TEMPLATE, f"テンプレート {name} の出力が正しい形式（XML）になっていません（{exc}）") from None
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.size = Pt(DOCX_SIZE_PT)
    _set_fonts(normal.element.get_or_add_rPr(), DOCX_FONT)
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
        if rpr is not None:
            _set_fonts(rpr, DOCX_FONT)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.15
    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(30), Mm(25)
        section.left_margin, section.right_margin = Mm(25), Mm(20)
    props = doc.core_properties
    props.title, props.author, props.last_modified_by = title, "kofu-excel", "kofu-excel"
    stamp = dt.datetime(when.year, when.month, when.day)
    props.created = props.modified = stamp  # the same letters give the same file
    props.revision = 1

    em = DOCX_SIZE_PT
    page_break = False
    for el in root:
        if el.tag == "pagebreak":
            page_break = True
            continue
        if el.tag != "p":
            raise KofuError(E_TEMPLATE, f"テンプレート {name}: <{el.tag}> は使えません（p, pagebreak のみ）")
        para = doc.add_paragraph()
        fmt = para.paragraph_format
        if page_break:
            fmt.page_break_before, page_break = True, False
        align = _ALIGN.get(el.get("align", "left"))
        if align is None:
            raise KofuError(E_TEMPLATE, f"テンプレート {name}: align は left/center/right/justify です")
        para.alignment = getattr(WD_ALIGN_PARAGRAPH, align)
        try:
            indent, first = float(el.get("indent", 0)), float(el.get("first", 0))
            size = float(el.get("size", 0))
        except ValueError:
            raise KofuError(E_TEMPLATE, f"テンプレート {name}: indent / first / size は数で指定します") from None
        if indent:
            fmt.left_indent = Pt(em * indent)  # in characters, as Word's 字下げ
        if first:
            fmt.first_line_indent = Pt(em * first)  # negative: a hanging indent
        bold = el.get("bold") in ("1", "true")

        def run(text: str | None, strong: bool, para: Any = para, size: float = size) -> None:
            text = _BREAKS.sub("", text or "")
            if text:
                r = para.add_run(text)
                r.bold = strong or None
                if size:
                    r.font.size = Pt(size)

        run(el.text if len(el) else (el.text or "").strip("\n\r\t "), bold)
        for child in el:
            if child.tag == "b":
                run(child.text, True)
            elif child.tag == "br":
                para.add_run().add_break(WD_BREAK.LINE)
            else:
                raise KofuError(E_TEMPLATE, f"テンプレート {name}: <{child.tag}> は使えません（b, br のみ）")
            run(child.tail, bold)
    buf = BytesIO()
    doc.save(buf)
    return _stable_zip(buf.getvalue(), stamp)


def _stable_zip(data: bytes, stamp: dt.datetime) -> bytes:
    """The package re-zipped with fixed member times: the same letters give the same bytes
    (python-docx stamps every member with the time of saving)."""
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            fixed.external_attr = info.external_attr
            # level 1: letters are small; the second compression should cost little
            dst.writestr(fixed, src.read(info.filename), zipfile.ZIP_DEFLATED, 1)
    return out.getvalue()
