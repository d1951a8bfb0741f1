"""Build the built-in municipality master from the `japancode` package's data.

Writes ``kofu_excel/data/municipalities.csv`` and ``kofu_excel/data/prefectures.csv`` (UTF-8)
and refreshes the generated block of ``kofu_excel/data/SOURCES.md``.

Source: japancode (PyPI, MIT licence) ships ``data/municipalities.json`` and
``data/prefectures.json``, taken from code4fukui/localgovjp (CC0). Its ``lgcode`` drops the
leading 0 of prefectures 01–09, and the list includes the wards of designated cities
("札幌市 中央区"): codes are zero-padded to 6 digits and ward rows dropped. The 23 Tokyo
special wards have no space in their name and are kept.

Usage: ``.venv/bin/python scripts/build_master.py [--date YYYY-MM-DD]``. The script checks the
counts of docs/spec/domain.md (1,741 = 792 市 incl. 20 指定都市, 743 町, 183 村, 23 特別区; 47
prefectures) and every check digit, and writes nothing if one fails.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import Counter
from datetime import date
from importlib import metadata, resources
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "kofu_excel" / "data"

# The 20 designated cities (指定都市), north to south.
DESIGNATED_CITIES = frozenset(
    {
        "札幌市",
        "仙台市",
        "さいたま市",
        "千葉市",
        "横浜市",
        "川崎市",
        "相模原市",
        "新潟市",
        "静岡市",
        "浜松市",
        "名古屋市",
        "京都市",
        "大阪市",
        "堺市",
        "神戸市",
        "岡山市",
        "広島市",
        "北九州市",
        "福岡市",
        "熊本市",
    }
)

EXPECTED = {"指定都市": 20, "市": 772, "特別区": 23, "町": 743, "村": 183}
EXPECTED_TOTAL = 1741
EXPECTED_PREFECTURES = 47

MUNI_COLUMNS = ("団体コード", "都道府県コード", "都道府県名", "市区町村名", "種別")
PREF_COLUMNS = ("団体コード", "都道府県コード", "都道府県名")

BEGIN = "<!-- build_master:begin -->"
END = "<!-- build_master:end -->"


def check_digit(code5: str) -> int:
    total = sum(w * int(c) for w, c in zip((6, 5, 4, 3, 2), code5, strict=True))
    return (11 - total % 11) % 10


def kind_of(pref_code: str, name: str) -> str:
    if name in DESIGNATED_CITIES:
        return "指定都市"
    if pref_code == "13" and name.endswith("区"):
        return "特別区"
    suffix = name[-1]
    if suffix in "市町村":
        return suffix
    raise ValueError(f"cannot tell the kind of {name!r}")


def load_json(name: str) -> list[dict[str, str]]:
    text = resources.files("japancode").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


def build() -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    prefs: list[tuple[str, ...]] = []
    pref_names: dict[str, str] = {}
    for e in load_json("prefectures.json"):
        code = e["lgcode"].zfill(6)
        pp = code[:2]
        prefs.append((code, pp, e["pref"]))
        pref_names[pp] = e["pref"]
    prefs.sort()

    munis: list[tuple[str, ...]] = []
    wards_of: set[str] = set()
    for e in load_json("municipalities.json"):
        city = e["city"].strip()
        if " " in city:  # a ward of a designated city: "札幌市 中央区"
            wards_of.add(f"{e['pref']}/{city.split(' ')[0]}")
            continue
        code = e["lgcode"].zfill(6)
        pp = code[:2]
        if pref_names.get(pp) != e["pref"]:
            raise ValueError(f"prefecture mismatch for {code} {city}: {e['pref']}")
        munis.append((code, pp, pref_names[pp], city, kind_of(pp, city)))
    munis.sort()

    # Sanity checks against docs/spec/domain.md: fail loudly rather than ship a wrong master.
    problems: list[str] = []
    if len(prefs) != EXPECTED_PREFECTURES:
        problems.append(f"{len(prefs)} prefectures, expected {EXPECTED_PREFECTURES}")
    if len(munis) != EXPECTED_TOTAL:
        problems.append(f"{len(munis)} municipalities, expected {EXPECTED_TOTAL}")
    kinds = Counter(m[4] for m in munis)
    if dict(kinds) != EXPECTED:
        problems.append(f"kinds {dict(kinds)}, expected {EXPECTED}")
    if len({m[0] for m in munis}) != len(munis):
        problems.append("duplicate codes")
    for code, *_ in prefs + munis:
        if not (len(code) == 6 and code.isdigit() and check_digit(code[:5]) == int(code[5])):
            problems.append(f"bad check digit: {code}")
    designated = {f"{m[2]}/{m[3]}" for m in munis if m[4] == "指定都市"}
    if designated != wards_of:
        problems.append(f"designated cities {sorted(designated ^ wards_of)} disagree with wards")
    if problems:
        raise ValueError("; ".join(problems))
    return munis, prefs


def to_csv(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def sources_block(built: str, n_munis: int, n_prefs: int, kinds: Counter[str]) -> str:
    version = metadata.version("japancode")
    counts = ", ".join(f"{k} {kinds[k]}" for k in ("指定都市", "市", "特別区", "町", "村"))
    return "\n".join(
        [
            BEGIN,
            "| file | rows | built from | licence | package version | built on |",
            "|---|---|---|---|---|---|",
            f"| municipalities.csv | {n_munis} ({counts}) | japancode `data/municipalities.json` "
            f"(from code4fukui/localgovjp) | data CC0; package MIT | japancode {version} | {built} |",
            f"| prefectures.csv | {n_prefs} | japancode `data/prefectures.json` "
            f"(from code4fukui/localgovjp) | data CC0; package MIT | japancode {version} | {built} |",
            END,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--date", default=date.today().isoformat(), help="build date to record")
    ap.add_argument("--out", type=Path, default=DATA, help="data folder to write into")
    args = ap.parse_args(argv)
    try:
        munis, prefs = build()
    except ValueError as e:
        print(f"build_master: {e}", file=sys.stderr)
        return 1
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "municipalities.csv").write_text(to_csv(MUNI_COLUMNS, munis), encoding="utf-8")
    (out / "prefectures.csv").write_text(to_csv(PREF_COLUMNS, prefs), encoding="utf-8")

    block = sources_block(args.date, len(munis), len(prefs), Counter(m[4] for m in munis))
    sources = out / "SOURCES.md"
    text = sources.read_text(encoding="utf-8") if sources.exists() else ""
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        text = f"{text.rstrip()}\n\n{block}\n" if text else f"# Sources\n\n{block}\n"
    sources.write_text(text, encoding="utf-8")
    print(f"wrote {len(munis)} municipalities and {len(prefs)} prefectures to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
