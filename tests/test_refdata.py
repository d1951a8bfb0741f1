"""Reference data: the master, the schedule, review settings and the office calendar."""

from __future__ import annotations

import csv
import importlib.util
import io
import re
from collections import Counter
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import pytest

from kofu_excel import refdata
from kofu_excel.findings import KofuError
from kofu_excel.refdata import (
    check_digit,
    closed_days,
    fold_name,
    holiday_names,
    holidays,
    is_valid_code,
    load_config,
    load_master,
    load_schedule,
    pad_code,
    parse_date,
    working_days,
)

ROOT = Path(__file__).resolve().parent.parent


def _builtin_prefecture_rows() -> list[dict[str, str]]:
    text = (
        resources.files("kofu_excel")
        .joinpath("data")
        .joinpath("prefectures.csv")
        .read_text("utf-8")
    )
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------------------------------------
# Codes
# ---------------------------------------------------------------------------------------------


def test_check_digit_known_codes() -> None:
    assert check_digit("01100") == 2  # 札幌市 011002
    assert check_digit("13101") == 6  # 千代田区 131016
    assert check_digit("01000") == 6  # 北海道 010006
    with pytest.raises(ValueError):
        check_digit("0110")


@pytest.mark.parametrize("code", ["011002", "131016", "010006", "472018"])
def test_valid_codes(code: str) -> None:
    assert is_valid_code(code)


@pytest.mark.parametrize("code", ["011003", "01100", "0110020", 11002, "０１１００２", "", None])
def test_invalid_codes(code: object) -> None:
    assert not is_valid_code(code)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("011002", "011002"),
        (11002, "011002"),  # Excel dropped the leading 0 of a 6-digit code
        (11002.0, "011002"),
        ("13101", "131016"),  # a 5-digit JIS code: the check digit is added
        (13101, "131016"),
        ("01100", "011002"),  # a JIS code kept as text
        (1100, "011002"),  # a JIS code that lost its leading 0
        ("０１１００２", "011002"),  # full-width digits
        (" 131016 ", "131016"),
    ],
)
def test_pad_code(raw: object, expected: str) -> None:
    assert pad_code(raw) == expected


def test_pad_code_width_hint_resolves_the_ambiguous_codes() -> None:
    # 15202 is both 015202 (北海道) without its 0 and the JIS code of 152021 (新潟県).
    assert pad_code("15202", width=6) == "015202"
    assert pad_code("15202", width=5) == "152021"
    for bad in ("abc", "123", "1234567", -5, True, 1.5):
        with pytest.raises(ValueError):
            pad_code(bad)


# ---------------------------------------------------------------------------------------------
# The built-in master
# ---------------------------------------------------------------------------------------------


def test_builtin_master_counts() -> None:
    m = load_master()
    assert len(m.municipalities) == 1741
    kinds = Counter(x.kind for x in m.municipalities)
    assert kinds == {"指定都市": 20, "市": 772, "町": 743, "村": 183, "特別区": 23}
    assert kinds["市"] + kinds["指定都市"] == 792
    assert len(m.prefectures) == 47
    assert len(_builtin_prefecture_rows()) == 47
    assert [x.code for x in m.municipalities] == sorted(m.by_code)
    assert load_master() is m  # cached


def test_every_code_passes_the_check_digit() -> None:
    m = load_master()
    assert all(is_valid_code(x.code) for x in m.municipalities)
    assert all(x.code[:2] == x.pref_code for x in m.municipalities)
    rows = _builtin_prefecture_rows()
    assert all(is_valid_code(r["団体コード"]) for r in rows)
    assert {r["都道府県コード"] for r in rows} == {f"{i:02d}" for i in range(1, 48)}


def test_known_codes() -> None:
    m = load_master()
    assert m.by_code["011002"].name == "札幌市"
    assert m.by_code["011002"].kind == "指定都市"
    assert m.by_code["131016"].name == "千代田区"
    assert m.by_code["131016"].kind == "特別区"
    assert m.by_code["131016"].pref_name == "東京都"
    assert {r["団体コード"]: r["都道府県名"] for r in _builtin_prefecture_rows()}[
        "010006"
    ] == "北海道"
    assert m.prefectures["01"] == "北海道"
    assert m.prefectures["47"] == "沖縄県"
    assert sum(1 for x in m.municipalities if x.pref_code == "01") == 179
    assert len(m.select(pref="北海道")) == 179
    # designated-city wards are not in the master; the population is not either
    assert not any(" " in x.name for x in m.municipalities)
    assert all(x.population is None for x in m.municipalities)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("01", "01"),
        ("1", "01"),
        (1, "01"),
        ("13", "13"),
        ("010006", "01"),
        (10006, "01"),  # 010006 as Excel stores it
        ("01000", "01"),  # JIS prefecture code
        ("130001", "13"),
        ("北海道", "01"),
        ("東京都", "13"),
        ("東京", "13"),
        ("大阪", "27"),
        ("大阪府", "27"),
        ("京都", "26"),
        ("沖縄県", "47"),
        ("　東京都 ", "13"),
    ],
)
def test_pref_resolves(query: str | int, expected: str) -> None:
    assert load_master().pref(query) == expected


@pytest.mark.parametrize("query", ["48", "00", "010007", "北海", "東京市", "Tokyo", ""])
def test_pref_unknown(query: str) -> None:
    with pytest.raises(KofuError) as e:
        load_master().pref(query)
    assert e.value.code == "E504"


def test_fold_name_variants() -> None:
    assert fold_name("檮原町") == fold_name("梼原町")
    assert fold_name("須惠町") == fold_name("須恵町")
    assert fold_name("茅ヶ崎市") == fold_name("茅ケ崎市")
    assert fold_name("竜ヶ崎市") == fold_name("龍ケ崎市")
    assert fold_name("七ヵ宿町") == fold_name("七ヶ宿町")
    assert fold_name("鎌ヶ谷市") == fold_name("鎌ケ谷市")
    assert fold_name("ニセコ町") == "ニセコ町"  # katakana words are left alone
    assert fold_name(" 札幌市　") == "札幌市"


def test_find_by_name() -> None:
    m = load_master()
    assert [x.code for x in m.find_by_name("梼原町")] == ["394050"]
    assert [x.code for x in m.find_by_name("檮原町")] == ["394050"]
    assert [x.code for x in m.find_by_name("須惠町")] == ["403440"]
    assert [x.name for x in m.find_by_name("竜ヶ崎市")] == ["龍ケ崎市"]
    assert [x.name for x in m.find_by_name("茅ケ崎市")] == ["茅ヶ崎市"]
    assert [x.pref_code for x in m.find_by_name("伊達市")] == ["01", "07"]
    assert [x.pref_code for x in m.find_by_name("伊達市", "福島")] == ["07"]
    assert [x.pref_code for x in m.find_by_name("北海道伊達市")] == ["01"]
    assert m.find_by_name("中央区") != []  # only Tokyo's: wards of designated cities are gone
    assert all(x.pref_code == "13" for x in m.find_by_name("中央区"))
    assert m.find_by_name("存在しない町") == []


def test_select() -> None:
    m = load_master()
    got = m.select(munis=["131016", 11002, "札幌市", "13101"])
    assert [x.code for x in got] == ["011002", "131016"]
    assert [x.code for x in m.select(pref="東京", munis=["千代田区"])] == ["131016"]
    assert len(m.select()) == 1741
    assert len(m.select(pref="13")) == 62
    for pref, munis in [(None, ["999999"]), (None, ["伊達市"]), ("北海道", ["131016"])]:
        with pytest.raises(KofuError) as e:
            m.select(pref=pref, munis=munis)
        assert e.value.code == "E504"


# ---------------------------------------------------------------------------------------------
# A user's master file
# ---------------------------------------------------------------------------------------------

HEADER = ["団体コード", "市区町村名", "人口", "人口基準日"]
ROWS = [
    ["010006", "北海道", "", ""],  # a prefecture row: skipped
    ["11002", "札幌市", "1,973,395", "2020/1/1"],  # 5 digits: Excel dropped the 0
    ["012025", "函館市", "255000", "令和2年1月1日"],
    ["", "", "", ""],  # blank: skipped
    ["131016", "千代田区", "66680", "2020-01-01"],
    ["394050", "檮原町", "", ""],  # no population
    ["011011", "札幌市中央区", "250000", "2020/1/1"],  # a designated-city ward: skipped
]


def _check_user_master(m: refdata.Master) -> None:
    assert [x.code for x in m.municipalities] == ["011002", "012025", "131016", "394050"]
    sapporo = m.by_code["011002"]
    assert sapporo.population == 1973395
    assert sapporo.population_date == date(2020, 1, 1)
    assert sapporo.kind == "指定都市"
    assert sapporo.pref_name == "北海道"
    assert m.by_code["012025"].population == 255000
    assert m.by_code["012025"].population_date == date(2020, 1, 1)
    assert m.by_code["131016"].population == 66680
    assert m.by_code["394050"].population is None
    assert m.by_code["394050"].population_date is None
    assert len(m.prefectures) == 47
    assert m.pref("北海道") == "01"
    assert len(m.select(pref="北海道")) == 2  # the user's list replaces the built-in one


def _csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp932"])
def test_user_master_csv(tmp_path: Path, encoding: str) -> None:
    p = tmp_path / "master.csv"
    p.write_bytes(_csv_text([HEADER, *ROWS]).encode(encoding))
    _check_user_master(load_master(p))
    # Shift_JIS bytes are not UTF-8: the detection must not have produced mojibake.
    assert load_master(str(p)).by_code["011002"].name == "札幌市"


def test_user_master_xlsx(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["市区町村別人口"])  # a title row above the header
    ws.append(["団体コード", "市区町村名", "人口", "人口基準日"])
    ws.append([10006, "北海道", None, None])
    ws.append([11002, "札幌市", 1973395, datetime(2020, 1, 1)])  # a number: the 0 is gone
    ws.append(["012025", "函館市", 255000, 43831])  # an Excel serial date
    ws.append([None, None, None, None])
    ws.append([131016, "千代田区", "66,680", "2020-01-01"])
    ws.append([394050, "檮原町", None, None])
    ws.append([11011, "札幌市中央区", 250000, None])
    p = tmp_path / "master.xlsx"
    wb.save(p)
    _check_user_master(load_master(p))


def test_user_master_xlsx_with_a_lying_dimension(tmp_path: Path) -> None:
    import zipfile

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in ROWS:
        ws.append(row)
    src = tmp_path / "src.xlsx"
    wb.save(src)
    p = tmp_path / "lying.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(p, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode("utf-8")
                assert "<dimension ref=" in text
                text = re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:A1"', text)
                data = text.encode("utf-8")
            zout.writestr(item, data)
    _check_user_master(load_master(p))  # every row is read, not only A1


def test_user_master_english_headers_and_jis_codes(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    rows = [
        [" Code ", "NAME", "Population", "population_date"],
        ["1100", "札幌市", "1973395", "R2.1.1"],  # a JIS code without its 0
        ["13101", "千代田区", "66680", "2020年1月1日"],  # a JIS code
    ]
    p.write_text(_csv_text(rows), encoding="utf-8")
    m = load_master(p)
    assert [x.code for x in m.municipalities] == ["011002", "131016"]
    assert m.by_code["011002"].population_date == date(2020, 1, 1)


def test_user_master_full_width_headers_and_names(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    rows = [
        ["団体 コード", "市区町村名", "人口（人）"],
        ["０１１００２", "札幌市 ", "１９７３３９５"],
    ]
    p.write_text(_csv_text(rows), encoding="utf-8")
    m = load_master(p)
    assert m.by_code["011002"].name == "札幌市"
    assert m.by_code["011002"].population == 1973395


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([["11003", "札幌市", "100", ""]], "2行目"),  # 6-digit reading fails the check digit
        ([["011003", "札幌市", "100", ""]], "2行目"),
        ([["131016", "千代田区", "", ""], ["abc", "x", "", ""]], "3行目"),
        ([["131016", "千代田区", "-5", ""]], "2行目"),
        ([["131016", "千代田区", "約100", ""]], "2行目"),
        ([["131016", "千代田区", "100", "令和元年4月1日"]], "2行目"),
        ([["131016", "千代田区", "", ""], ["131016", "千代田区", "", ""]], "重複"),
        ([["999991", "", "", ""]], "2行目"),
        (
            [["131024", "中央区", "", ""], ["472018", "那覇市", "", ""], ["472000", "", "", ""]],
            "4行目",
        ),
    ],
)
def test_user_master_bad_row(tmp_path: Path, rows: list[list[str]], needle: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(_csv_text([HEADER, *rows]), encoding="utf-8")
    with pytest.raises(KofuError) as e:
        load_master(p)
    assert e.value.code == "E501"
    assert needle in e.value.message
    assert "bad.csv" in e.value.message


def test_user_master_bad_file(tmp_path: Path) -> None:
    cases = {
        "missing.csv": None,
        "noheader.csv": "市区町村名,人口\n札幌市,100\n".encode(),
        "empty.csv": "団体コード,市区町村名\n010006,北海道\n".encode(),
        "binary.xlsx": b"PK\x03\x04 not really a zip",
        "master.ods": b"whatever",
        "latin.csv": "団体コード\n".encode() + b"\xff\xfe\x80\x81",
    }
    for name, data in cases.items():
        p = tmp_path / name
        if data is not None:
            p.write_bytes(data)
        with pytest.raises(KofuError) as e:
            load_master(p)
        assert e.value.code == "E501", name


# ---------------------------------------------------------------------------------------------
# Dates in master files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "2020/1/1",
        "2020-01-01",
        "2020.1.1",
        "2020年1月1日",
        "20200101",
        "令和2年1月1日",
        "R2.1.1",
        "r2/1/1",
        "㋿2.1.1",
        "２０２０／１／１",
        "2020-01-01 00:00:00",
        "2020/1/1 0:00",
        43831,
        43831.0,
        datetime(2020, 1, 1, 0, 0),
        date(2020, 1, 1),
    ],
)
def test_parse_date(raw: object) -> None:
    assert parse_date(raw) == date(2020, 1, 1)


def test_parse_date_eras_and_errors() -> None:
    assert parse_date("令和元年10月1日") == date(2019, 10, 1)
    assert parse_date("H31.4.1") == date(2019, 4, 1)
    assert parse_date("平成31年3月31日") == date(2019, 3, 31)
    assert parse_date("") is None
    assert parse_date(None) is None
    for bad in ("令和元年4月1日", "2020/2/30", "1月1日", "yesterday", 12, True):
        with pytest.raises(ValueError):
            parse_date(bad)


# ---------------------------------------------------------------------------------------------
# The national schedule
# ---------------------------------------------------------------------------------------------


def test_builtin_schedule() -> None:
    s = load_schedule()
    assert s.months == ("2020-07", "2021-03", "2022-03", "2023-03")
    assert [(m.low, m.high) for m in s.milestones] == [
        (30_000_000, 40_000_000),
        (60_000_000, 70_000_000),
        (90_000_000, 100_000_000),
        (127_138_033, 127_138_033),
    ]
    assert s.basis == "low"
    assert s.national_population == 127_138_033
    assert s.population_date == date(2020, 1, 1)
    assert s.milestone("2023-03").note  # "almost all residents" is explained
    assert s.rate("2020-07") == pytest.approx(30_000_000 / 127_138_033)
    assert s.rate("2023-03") == 1.0
    # 100,000 × 30,000,000 ÷ 127,138,033 = 23,596.40… → 23,596
    assert s.benchmark(100_000, "2020-07") == 23_596
    # 100,000 × 60,000,000 ÷ 127,138,033 = 47,192.80… → 47,193
    assert s.benchmark(100_000, "2021-03") == 47_193
    assert s.benchmark(12_345, "2023-03") == 12_345
    assert s.benchmark(0, "2020-07") == 0
    reported = {r.as_of: r for r in s.reported}
    assert reported[date(2023, 3, 31)].cards == 84_399_025
    assert reported[date(2020, 7, 1)].rate == pytest.approx(0.175)
    with pytest.raises(KeyError):
        s.benchmark(100, "2020-08")


def test_schedule_rounds_half_up_and_bases(tmp_path: Path) -> None:
    p = tmp_path / "schedule.toml"
    p.write_text(
        'national_population = 1000\nbenchmark = "low"\n'
        '[[milestones]]\nmonth = "2020-07"\nlow = 5\nhigh = 15\n',
        encoding="utf-8",
    )
    s = load_schedule(p)
    assert s.milestones[0].label == "令和2年7月末"  # default label
    assert s.benchmark(100, "2020-07") == 1  # 0.5 → 1 (half up, not to even)
    assert s.benchmark(300, "2020-07") == 2  # 1.5 → 2
    assert s.benchmark(500, "2020-07") == 3  # 2.5 → 3
    assert s.rate("2020-07") == 0.005
    p.write_text(p.read_text("utf-8").replace('"low"', '"high"'), encoding="utf-8")
    assert load_schedule(p).benchmark(100, "2020-07") == 2  # 1.5 → 2
    p.write_text(p.read_text("utf-8").replace('"high"', '"mid"'), encoding="utf-8")
    assert load_schedule(p).benchmark(100, "2020-07") == 1  # 10 / 1000 × 100 = 1.0


def test_schedule_partial_override_keeps_the_rest(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('benchmark = "high"\n', encoding="utf-8")
    s = load_schedule(p)
    assert s.basis == "high"
    assert s.months == load_schedule().months
    assert s.benchmark(100_000, "2020-07") == 31_462  # 100,000 × 40M ÷ 127,138,033 = 31,461.87


@pytest.mark.parametrize(
    "text",
    [
        "unknown = 1\n",
        'benchmark = "average"\n',
        "national_population = 0\n",
        'national_population = "127138033"\n',
        'population_date = "yesterday"\n',
        "milestones = []\n",
        '[[milestones]]\nmonth = "2020-13"\nlow = 1\nhigh = 2\n',
        '[[milestones]]\nmonth = "2020-07"\nlow = 3\nhigh = 2\n',
        '[[milestones]]\nmonth = "2020-07"\nlow = 1\nhigh = 2\nextra = 1\n',
        '[[milestones]]\nmonth = "2021-03"\nlow = 1\nhigh = 2\n'
        '[[milestones]]\nmonth = "2020-07"\nlow = 1\nhigh = 2\n',
        '[[milestones]]\nmonth = "2020-07"\nlow = 5\nhigh = 6\n'
        '[[milestones]]\nmonth = "2021-03"\nlow = 1\nhigh = 2\n',
        "[[reported]]\nas_of = 2020-01-01\nrate = 5\n",
        "this is not toml",
    ],
)
def test_bad_schedule(tmp_path: Path, text: str) -> None:
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(KofuError) as e:
        load_schedule(p)
    assert e.value.code == "E502"


def test_missing_schedule_file(tmp_path: Path) -> None:
    with pytest.raises(KofuError) as e:
        load_schedule(tmp_path / "nope.toml")
    assert e.value.code == "E502"


# ---------------------------------------------------------------------------------------------
# Review settings
# ---------------------------------------------------------------------------------------------


def test_default_config_is_checks_md() -> None:
    c = load_config()
    assert (c.tol, c.front_share) == (0.05, 0.5)
    assert (c.cards_per_terminal_day, c.renewal_share) == (20, 0.1)
    assert (c.urgent_ratio, c.evening_weight) == (1.5, 0.25)
    assert c.method_deadline == "2020-03"
    assert (c.backlog_months, c.plan_ratio) == (1.0, 0.8)
    assert c.letters["sender"] == ""  # empty: the prefecture's governor (東京都知事, 北海道知事 …)
    assert c.letters["doc_number"].format(seq=c.letters["seq_start"]) == "○○第1号"
    assert "閣副第396号" in c.letters["notice"]
    assert load_config() is c


def test_config_override(tmp_path: Path) -> None:
    p = tmp_path / "my.toml"
    p.write_text(
        '[r1]\ntol = 0.1\n[r2]\ncards_per_terminal_day = 25\n[r3]\nmethod_deadline = "2020-06"\n'
        '[letters]\nsender = "北海道知事"\nseq_start = 101\n',
        encoding="utf-8",
    )
    c = load_config(p)
    assert c.tol == 0.1
    assert c.front_share == 0.5  # untouched keys keep the defaults
    assert c.cards_per_terminal_day == 25
    assert c.method_deadline == "2020-06"
    assert c.letters["sender"] == "北海道知事"
    assert c.letters["seq_start"] == 101
    assert c.letters["sender_department"] == "○○県総務部市町村課"
    assert load_config().tol == 0.05  # the built-in is not changed


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[r1]\ntolerance = 0.1\n", "tolerance"),
        ("[r9]\ntol = 0.1\n", "r9"),
        ("[letters]\nsignature = 'x'\n", "signature"),
        ("tol = 0.1\n", "tol"),
        ('[r1]\ntol = "5%"\n', "tol"),
        ("[r1]\ntol = 1.5\n", "tol"),
        ("[r2]\ncards_per_terminal_day = 0\n", "cards_per_terminal_day"),
        ("[r2]\nurgent_ratio = 0.5\n", "urgent_ratio"),
        ('[r3]\nmethod_deadline = "2020/03"\n', "method_deadline"),
        ('[letters]\ndoc_number = "第{n}号"\n', "doc_number"),
        ("[letters]\nseq_start = 1.5\n", "seq_start"),
        ('[letters]\ndate = "令和2年"\n', "date"),
        ("[r1\n", "TOML"),
        ('[scope]\ndesignated_cities = "no"\n', "true または false"),
        ("[scope]\ndesignated_cities = 0\n", "designated_cities"),
    ],
)
def test_bad_config(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(KofuError) as e:
        load_config(p)
    assert e.value.code == "E503"
    assert needle in e.value.message


# ---------------------------------------------------------------------------------------------
# Holidays and working days
# ---------------------------------------------------------------------------------------------


def test_holiday_counts_per_year() -> None:
    per_year = Counter(d.year for d in holidays())
    assert per_year == {2019: 5, 2020: 18, 2021: 17, 2022: 16, 2023: 6}
    assert min(holidays()) >= date(2019, 10, 1)
    assert max(holidays()) <= date(2023, 3, 31)


@pytest.mark.parametrize(
    ("day", "name"),
    [
        ("2019-10-14", "体育の日"),
        ("2019-10-22", "即位礼正殿の儀の行われる日"),
        ("2019-11-04", "振替休日"),
        ("2020-02-23", "天皇誕生日"),
        ("2020-02-24", "振替休日"),
        ("2020-05-06", "振替休日"),
        ("2020-07-23", "海の日"),
        ("2020-07-24", "スポーツの日"),
        ("2020-08-10", "山の日"),
        ("2021-07-22", "海の日"),
        ("2021-07-23", "スポーツの日"),
        ("2021-08-08", "山の日"),
        ("2021-08-09", "振替休日"),
        ("2022-03-21", "春分の日"),
        ("2022-10-10", "スポーツの日"),
        ("2023-01-02", "振替休日"),
    ],
)
def test_known_holidays(day: str, name: str) -> None:
    assert holiday_names()[date.fromisoformat(day)] == name


@pytest.mark.parametrize(
    "day",
    [
        "2019-12-23",  # no 天皇誕生日 in December from 2019
        "2020-10-12",  # スポーツの日 2020 moved to July
        "2020-07-20",  # 海の日 2020 moved to 07-23
        "2020-08-11",  # 山の日 2020 moved to 08-10
        "2021-10-11",
        "2021-08-11",
        "2019-12-31",  # year-end closures are not public holidays
        "2020-01-02",
    ],
)
def test_not_holidays(day: str) -> None:
    assert date.fromisoformat(day) not in holidays()


def test_closed_days() -> None:
    closed = closed_days(date(2019, 12, 27), date(2020, 1, 6))
    # Fri 27 open; Sat 28, Sun 29 weekend; 30, 31, 1 (元日), 2, 3 year-end; Sat 4, Sun 5; Mon 6 open
    assert closed == {date(2019, 12, d) for d in (28, 29, 30, 31)} | {
        date(2020, 1, d) for d in (1, 2, 3, 4, 5)
    }
    assert closed_days(date(2020, 5, 1), date(2020, 5, 7)) == {
        date(2020, 5, d) for d in (2, 3, 4, 5, 6)
    }
    assert closed_days(date(2020, 1, 2), date(2020, 1, 1)) == set()
    with pytest.raises(ValueError):
        closed_days(date(2019, 9, 30), date(2019, 10, 31))


def test_working_days_2019q4() -> None:
    # October 2019 (1st a Tuesday): 31 days − 8 weekend days = 23 weekdays, less 10-14 体育の日
    #   (Mon) and 10-22 即位礼正殿の儀 (Tue) → 21.
    # November 2019 (1st a Friday): 30 − 9 weekend days = 21 weekdays, less 11-04 振替休日 (Mon);
    #   11-03 文化の日 is a Sunday and 11-23 勤労感謝の日 a Saturday → 20.
    # December 2019 (1st a Sunday): 31 − 9 weekend days = 22 weekdays, less the year-end closure
    #   on Mon 12-30 and Tue 12-31 (12-29 is a Sunday) → 20.
    # 21 + 20 + 20 = 61.
    assert working_days("2019Q4") == 61


def test_working_days_other_quarters() -> None:
    # 2020Q1: 65 weekdays less 01-01, 01-02, 01-03 (year-end), 01-13, 02-11, 02-24, 03-20 → 58
    assert working_days("2020Q1") == 58
    all_quarters = ["2019Q4"] + [f"{y}Q{q}" for y in (2020, 2021, 2022) for q in (1, 2, 3, 4)]
    assert all(50 <= working_days(q) <= 66 for q in [*all_quarters, "2023Q1"])
    for bad in ("2019Q3", "2023Q2", "2019-Q4", "2019Q5"):
        with pytest.raises(ValueError):
            working_days(bad)


# ---------------------------------------------------------------------------------------------
# The shipped CSVs are what the build script makes
# ---------------------------------------------------------------------------------------------


def test_build_master_reproduces_the_shipped_files(tmp_path: Path) -> None:
    pytest.importorskip("japancode")
    spec = importlib.util.spec_from_file_location(
        "build_master", ROOT / "scripts" / "build_master.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--out", str(tmp_path), "--date", "2000-01-01"]) == 0
    data = resources.files("kofu_excel").joinpath("data")
    for name in ("municipalities.csv", "prefectures.csv"):
        assert (tmp_path / name).read_text("utf-8") == data.joinpath(name).read_text("utf-8")
