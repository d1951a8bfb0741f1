"""Render the README's pictures from the real outputs of the commands on samples/.

    .venv/bin/python scripts/render_pictures.py            # writes docs/images/*.png
    .venv/bin/python scripts/render_pictures.py --keep /tmp/pictures   # keep the outputs too

Steps: run the commands as a user would (kofu-template, kofu-validate --annotate on the sample
with an error, kofu-merge and kofu-advise on samples/inbox) → LibreOffice headless converts each
output to PDF (workbooks with one page per sheet) → the page of the sheet shown is picked, and
checked by its text (pdftotext) → pdftoppm renders it at a low resolution, cropped to the part
worth seeing → the PNG is written with a 256-colour palette so each stays well under 150 KB.

Needs LibreOffice (``soffice``) and poppler (``pdftoppm``, ``pdftotext``). Only the annotated copy
is touched before conversion: its cell comments are made visible (as "show comment" in Excel
does) so the picture shows the explanation next to the red cell; the workbook is otherwise the
one kofu-validate wrote.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
MAX_BYTES = 150 * 1024
LETTER_DATE = "2020-04-20"  # the day of the story in samples/ (April 2020)
TEMPLATE_MUNI = "312011"  # 鳥取市
ERROR_SAMPLE = "inbox/計画/313289_智頭町_交付円滑化計画.xlsx"
LETTER_MUNI = "312029"  # 米子市: advice on the plan and on the monthly follow-up


@dataclass(frozen=True)
class Picture:
    name: str  # docs/images/<name>.png
    source: Path  # the output to convert
    sheet: str | None  # the sheet shown (workbooks), or None for page 1 of a document
    needle: str  # text that must be on that page
    crop: float = 1.0  # keep this top share of the page's height
    dpi: int = 72


def tool(name: str) -> str:
    """A command of this project (next to the running Python) or a system tool."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        sys.exit(f"{name} が見つかりません / {name} not found")
    return found


def run(*args: str, ok: tuple[int, ...] = (0,)) -> None:
    res = subprocess.run(args, capture_output=True, text=True)
    if res.returncode not in ok:
        sys.exit(f"失敗しました / failed ({res.returncode}): {' '.join(args)}\n{res.stdout}{res.stderr}")


def make_outputs(work: Path) -> dict[str, Path]:
    """The real outputs, made by the commands exactly as the README shows them."""
    pw = str(SAMPLES / "passwords.txt")
    run(tool("kofu-template"), "--kind", "plan", "--muni", TEMPLATE_MUNI, "-o", str(work / "様式"))
    run(tool("kofu-validate"), str(SAMPLES / ERROR_SAMPLE), "--annotate", str(work / "差戻し"), ok=(1,))
    run(tool("kofu-merge"), str(SAMPLES / "inbox"), "--passwords", pw, "-o", str(work / "summary.xlsx"),
        ok=(0, 1))
    run(tool("kofu-advise"), str(work / "summary.xlsx"), "-o", str(work / "letters"), "--date", LETTER_DATE)
    letters = sorted((work / "letters").glob(f"{LETTER_MUNI}_*.docx")) or sorted(
        p for p in (work / "letters").glob("*.docx") if "一括" not in p.name)
    return {
        "template": next((work / "様式").glob(f"{TEMPLATE_MUNI}_*.xlsx")),
        "annotated": next((work / "差戻し").glob("*.xlsx")),
        "summary": work / "summary.xlsx",
        "letter": letters[0],
    }


def comments_shown(src: Path, dst: Path) -> Path:
    """A copy of a workbook whose cell comments are displayed (the VML shapes made visible)."""
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.startswith("xl/drawings/vmlDrawing"):
                data = data.replace(b"visibility:hidden", b"visibility:visible").replace(
                    b'<x:ClientData ObjectType="Note">', b'<x:ClientData ObjectType="Note"><x:Visible/>')
            zout.writestr(info, data)
    dst.write_bytes(out.getvalue())
    return dst


def sheet_names(xlsx: Path) -> list[str]:
    with zipfile.ZipFile(xlsx) as z:
        xml = z.read("xl/workbook.xml").decode("utf-8")
    return re.findall(r'<sheet [^>]*name="([^"]+)"', xml)


def to_pdf(src: Path, work: Path) -> Path:
    """LibreOffice headless: a workbook with one page per sheet, a document as printed."""
    out = work / "pdf"
    out.mkdir(exist_ok=True)
    target = ("pdf:calc_pdf_Export:{\"SinglePageSheets\":{\"type\":\"boolean\",\"value\":\"true\"}}"
              if src.suffix == ".xlsx" else "pdf")
    run(tool("soffice"), f"-env:UserInstallation={(work / 'lo-profile').as_uri()}", "--headless",
        "--norestore", "--convert-to", target, "--outdir", str(out), str(src))
    return out / (src.stem + ".pdf")


def page_text(pdf: Path, page: int) -> str:
    res = subprocess.run([tool("pdftotext"), "-f", str(page), "-l", str(page), str(pdf), "-"],
                         capture_output=True, text=True, check=True)
    return res.stdout


def page_size(pdf: Path, page: int) -> tuple[float, float]:
    res = subprocess.run([tool("pdfinfo"), "-f", str(page), "-l", str(page), str(pdf)],
                         capture_output=True, text=True, check=True)
    m = re.search(rf"Page\s+{page} size:\s+([\d.]+) x ([\d.]+)", res.stdout)
    if not m:
        m = re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", res.stdout)
    assert m, res.stdout
    return float(m.group(1)), float(m.group(2))


def render_ppm(pdf: Path, page: int, dpi: int, crop: float) -> bytes:
    """One page as PPM bytes, the top ``crop`` share of it."""
    w, h = page_size(pdf, page)
    args = [tool("pdftoppm"), "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile"]
    if crop < 1.0:
        args += ["-x", "0", "-y", "0", "-W", str(round(w * dpi / 72)), "-H", str(round(h * crop * dpi / 72))]
    res = subprocess.run([*args, str(pdf)], capture_output=True, check=True)
    return res.stdout


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def palette_png(ppm: bytes) -> bytes:
    """PPM (P6) → an 8-bit palette PNG: the 256 most frequent colours, others mapped to the nearest."""
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", ppm)
    assert m and m.group(3) == b"255", "pdftoppm gave no 8-bit PPM"
    width, height = int(m.group(1)), int(m.group(2))
    rgb = np.frombuffer(ppm, np.uint8, count=width * height * 3, offset=m.end()).reshape(-1, 3)
    keys = (rgb[:, 0].astype(np.uint32) << 16) | (rgb[:, 1].astype(np.uint32) << 8) | rgb[:, 2]
    colours, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    as_rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1).astype(np.int32)
    if len(colours) <= 256:
        palette, index = as_rgb, inverse
    else:
        palette = as_rgb[np.argsort(-counts, kind="stable")[:256]]
        nearest = np.empty(len(colours), np.int64)
        for start in range(0, len(colours), 4096):  # distances in blocks: bounded memory
            block = as_rgb[start:start + 4096, None, :] - palette[None, :, :]
            nearest[start:start + 4096] = np.argmin((block * block).sum(axis=2), axis=1)
        index = nearest[inverse]
    rows = index.astype(np.uint8).reshape(height, width)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()  # filter 0
    return (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
            + _chunk(b"PLTE", palette.astype(np.uint8).tobytes())
            + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b""))


def render(pic: Picture, work: Path, out_dir: Path) -> Path:
    pdf = to_pdf(pic.source, work)
    page = 1
    if pic.sheet is not None:
        page = sheet_names(pic.source).index(pic.sheet) + 1
    text = page_text(pdf, page)
    if pic.needle not in text:
        sys.exit(f"{pic.name}: {pdf.name} の {page} ページに「{pic.needle}」がありません")
    dpi = pic.dpi
    while True:
        png = palette_png(render_ppm(pdf, page, dpi, pic.crop))
        if len(png) <= MAX_BYTES or dpi <= 36:
            break
        dpi -= 6
    target = out_dir / f"{pic.name}.png"
    target.write_bytes(png)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="where the PNGs go")
    ap.add_argument("--keep", type=Path, help="keep the outputs and PDFs in this folder")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.TemporaryDirectory(prefix="kofu-pictures-")
    work = args.keep or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    out = make_outputs(work)
    annotated = comments_shown(out["annotated"], work / "annotated-comments.xlsx")
    pictures = [
        Picture("template", out["template"], "基本情報", "黄色のセルに入力してください"),
        Picture("annotated-list", out["annotated"], "確認結果", "E203", crop=1.0),
        Picture("annotated", annotated, "交付枚数想定", "▲100", crop=0.55),
        Picture("summary", out["summary"], "概要", "とりまとめ表", crop=0.45),
        Picture("letter", out["letter"], None, "助言について"),
    ]
    for pic in pictures:
        path = render(pic, work, args.out)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size // 1024} KB")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
