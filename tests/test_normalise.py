"""Tests of kofu_excel.normalise: the spec's table of typed inputs, properties, special cases."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kofu_excel.findings import CODES
from kofu_excel.normalise import (
    BLANK,
    NA,
    NORMALISERS,
    Norm,
    to_choice,
    to_code,
    to_date,
    to_email,
    to_int,
    to_month,
    to_phone,
    to_text,
    to_yen,
)
from kofu_excel.periods import month_date, months, wareki_month

CASES_TSV = Path(__file__).parent / "data" / "normalise-cases.tsv"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
FULLWIDTH = str.maketrans("0123456789-,", "０１２３４５６７８９－，")
EXCEL_EPOCH = date(1899, 12, 30)
STATUS = ("実施済", "実施予定", "検討中", "予定なし")
LIMIT = 10**15


def _load_cases() -> list[tuple[str, str, str]]:
    rows = []
    for line in CASES_TSV.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, raw, expected = line.split("\t")
        rows.append((kind, raw, expected))
    return rows


def _raw(cell: str) -> object:
    """`num:` is an Excel number, `date:` an Excel date, anything else typed text."""
    if cell.startswith("num:"):
        text = cell[4:]
        return float(text) if "." in text else int(text)
    if cell.startswith("date:"):
        return date.fromisoformat(cell[5:])
    return cell


def _expected_value(kind: str, text: str) -> object:
    return date.fromisoformat(text) if kind == "month" else int(text)


def _serial(d: date) -> int:
    return (d - EXCEL_EPOCH).days


def _assert_well_formed(n: Norm) -> None:
    assert isinstance(n, Norm)
    assert n.state in ("value", "blank", "na", "error")
    if n.state == "error":
        assert n.code in CODES and n.code.startswith("E")
        assert n.reason and JAPANESE.search(n.reason)
        assert n.value is None
    elif n.code:
        assert n.state == "value" and n.code in ("W403", "W404")
        assert JAPANESE.search(n.reason)
    else:
        assert n.reason == ""


# --- (1) the spec's table -------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "cell", "expected"), _load_cases())
def test_normalise_cases(kind: str, cell: str, expected: str) -> None:
    fn = {"month": to_month, "count": to_int}[kind]
    got = fn(_raw(cell))
    _assert_well_formed(got)
    if expected == "BLANK":
        assert got == BLANK
    elif expected == "NA":
        assert got == NA
    elif expected == "REJECT":
        assert got.state == "error"
    elif expected.startswith("E"):  # E211:① — this code, and the reason names the character
        code, char = expected.split(":", 1)
        assert (got.state, got.code) == ("error", code) and f"「{char}」" in got.reason
    elif expected.startswith("WARN:"):
        assert got.state == "value" and got.code.startswith("W")
        assert got.value == _expected_value(kind, expected[5:])
    else:
        assert (got.state, got.code) == ("value", "")
        assert got.value == _expected_value(kind, expected)


# --- (2) properties -------------------------------------------------------------------------------
ints = st.integers(min_value=-LIMIT + 1, max_value=LIMIT - 1)


@given(ints)
def test_int_round_trips_through_typed_forms(n: int) -> None:
    for text in (str(n), f"{n:,}", str(n).translate(FULLWIDTH), f"{n:,}".translate(FULLWIDTH)):
        for typed in (text, f"{text}人", f" {text}\u3000"):
            assert to_int(typed) == Norm("value", n), typed
    assert to_int(n) == Norm("value", n)
    assert to_int(float(n)) == Norm("value", n)
    assert to_yen(f"{n:,}円") == Norm("value", n)


@given(st.sampled_from(months()), st.integers(min_value=1, max_value=28))
def test_month_round_trips(key: str, day: int) -> None:
    first = month_date(key)
    on_day = first.replace(day=day)
    typed: list[object] = [
        wareki_month(key),
        f"{first.year}/{first.month}",
        f"{first.year}-{first.month:02d}",
        f"{first.year}年{first.month}月",
        _serial(first),
        float(_serial(on_day)),
        str(_serial(on_day)),
        on_day,
        datetime(on_day.year, on_day.month, on_day.day, 9, 30),
    ]
    for raw in typed:
        assert to_month(raw) == Norm("value", first), raw
    assert to_date(_serial(on_day)) == Norm("value", on_day)


ANY_CELL = st.one_of(
    st.none(),
    st.booleans(),
    st.text(),
    st.text(
        alphabet="0123456789０１２３４５６７８９,，.．-－ー―−▲△¥￥円人年月日令和平成昭和RHSr/ 約千万()#"
    ),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(),
    st.datetimes(),
)


@given(ANY_CELL)
def test_normalisers_never_raise(raw: object) -> None:
    for name, fn in NORMALISERS.items():
        n = fn(raw)
        _assert_well_formed(n)
        if n.state == "value":
            want = {"int": int, "yen": int, "month": date, "date": date}.get(name, str)
            assert isinstance(n.value, want), (name, raw, n)
    _assert_well_formed(to_choice(raw, STATUS))


@given(st.text(max_size=12))
def test_choice_result_is_a_label(raw: str) -> None:
    n = to_choice(raw, STATUS)
    assert n.state != "value" or n.value in STATUS


# --- (3) named special cases: numbers ---------------------------------------------------------------
def test_fullwidth_minus_is_negative_not_na() -> None:
    for typed in ("－１２", "−12", "ー12", "‐12", "―12", "▲12", "△１２"):
        assert to_int(typed) == Norm("value", -12), typed


def test_lone_dash_is_not_applicable_not_blank() -> None:
    for typed in ("－", "―", "ー", "-", "‐", "–", "—", "−", " － ", "ｰ", "--"):
        assert to_int(typed) is NA, typed
    for typed in (None, "", "   ", "\u3000"):
        assert to_int(typed) is BLANK
    assert to_int("0") == Norm("value", 0)
    assert to_int(0).state == "value"


def test_commas_must_group_by_three() -> None:
    assert to_int("1,234,567").value == 1234567
    for typed in ("12,34", "1,2345", ",123", "1,,234", "1234,567"):
        n = to_int(typed)
        assert (n.state, n.code) == ("error", "E202"), typed
        assert "カンマ" in n.reason


def test_senen_unit_rejected_with_reason() -> None:
    for typed in ("12千円", "3万円", "1百万円"):
        for fn in (to_int, to_yen):
            n = fn(typed)
            assert n.state == "error" and "円単位" in n.reason, typed
    assert "円単位" in to_yen("12千").reason
    assert to_yen("¥1,234").value == 1234
    assert to_yen("1,234円").value == 1234


def test_fraction_is_an_error_but_whole_float_is_not() -> None:
    assert to_int("1234.0").value == 1234
    assert to_int(1234.0).value == 1234
    for raw in ("1.5", 1.5, "0.1"):
        n = to_int(raw)
        assert n.state == "error" and "小数" in n.reason


def test_bool_and_date_are_not_numbers() -> None:
    for raw in (True, False, date(2020, 4, 1), datetime(2020, 4, 1)):
        assert to_int(raw).state == "error"
    assert "論理値" in to_int(True).reason
    assert "日付" in to_int(date(2020, 4, 1)).reason


def test_each_rejection_says_why() -> None:
    assert "漢数字" in to_int("千二百").reason
    assert "約" in to_int("約100").reason
    assert "括弧" in to_int("(1)").reason
    assert "範囲" in to_int("100～200").reason


def test_count_units_are_stripped_but_not_in_yen() -> None:
    for typed in ("12人", "12名", "12人分", "12枚", "12件", "12台", "12日", "12円"):
        assert to_int(typed).value == 12, typed
    assert to_yen("12人").state == "error"


def test_negative_is_a_value_for_the_validator() -> None:
    assert to_int("-12") == Norm("value", -12)
    assert to_yen("▲1,000円") == Norm("value", -1000)


def test_absurdly_large_number_is_out_of_range() -> None:
    assert to_int(10**20).code == "E203"
    assert to_int("1" * 30).code == "E203"


# --- months and dates ---------------------------------------------------------------------------------
def test_heisei_after_may_2019_warns() -> None:
    n = to_month("平成31年5月")
    assert (n.state, n.value, n.code) == ("value", date(2019, 5, 1), "W404")
    assert "令和元年5月" in n.reason
    n = to_month("H32.4")
    assert (n.value, n.code) == (date(2020, 4, 1), "W404")
    assert "令和2年4月" in n.reason
    assert to_month("平成31年4月") == Norm("value", date(2019, 4, 1))
    assert to_date("平成31年4月30日") == Norm("value", date(2019, 4, 30))
    assert to_date("平成31年5月1日").code == "W404"


def test_reiwa_before_may_2019_is_an_error() -> None:
    for typed in ("令和元年4月", "R1.4", "令和元年4月30日"):
        assert to_month(typed).state == "error", typed
    assert to_month("令和元年5月") == Norm("value", date(2019, 5, 1))
    assert to_date("令和元年5月1日") == Norm("value", date(2019, 5, 1))


def test_era_spellings() -> None:
    want = Norm("value", date(2020, 4, 1))
    for typed in (
        "R2.4",
        "R2/4",
        "r2.4",
        "Ｒ２．４",
        "R02.04",
        "㋿2.4",
        "令和2年4月",
        "令和２年４月分",
    ):
        assert to_month(typed) == want, typed
    assert to_month("H31.4").value == date(2019, 4, 1)
    assert to_month("S64.1").value == date(1989, 1, 1)
    assert to_month("㍻31年4月").value == date(2019, 4, 1)
    assert "元号" in to_month("大正3年4月").reason


def test_month_needs_a_month_and_a_year() -> None:
    for typed in ("R2", "令和", "2020", "2020年", "令和2年"):
        n = to_month(typed)
        assert n.state == "error" and "月" in n.reason, typed
    assert "年" in to_month("4月").reason
    assert "年度" in to_month("令和2年度").reason
    assert to_month(2020).state == "error"


def test_month_of_a_full_date_keeps_the_month() -> None:
    assert to_month("2020/4/15").value == date(2020, 4, 1)
    assert to_month(date(2020, 4, 15)).value == date(2020, 4, 1)
    assert to_month("2020/04/15 00:00:00").value == date(2020, 4, 1)


def test_date_needs_a_day() -> None:
    for typed in ("2020/4", "令和2年4月", "202004", 202004):
        n = to_date(typed)
        assert n.state == "error" and "日まで" in n.reason, typed
    assert to_date(date(2020, 4, 1)).value == date(2020, 4, 1)
    assert to_date("20200401").value == date(2020, 4, 1)
    assert to_date("R2.4.1").value == date(2020, 4, 1)


def test_impossible_months_and_days() -> None:
    assert to_month("2020年13月").code == "E203"
    assert to_date("2020/2/30").code == "E203"
    assert to_date("2020/2/29").value == date(2020, 2, 29)
    assert to_date("2019/2/29").code == "E203"


def test_month_is_not_range_checked_here() -> None:
    assert to_month("2018/4").value == date(2018, 4, 1)
    assert to_month("2030/4").value == date(2030, 4, 1)


def test_month_blank_and_na() -> None:
    assert to_month(None) is BLANK
    assert to_month("　") is BLANK
    assert to_month("－") is NA



# --- choices ----------------------------------------------------------------------------------------
def test_choice_exact_after_nfkc_and_trim() -> None:
    assert to_choice("実施済", STATUS) == Norm("value", "実施済")
    assert to_choice("　実施済 ", STATUS) == Norm("value", "実施済")
    assert to_choice("改訂１", ["当初", "改訂1", "改訂2"]) == Norm("value", "改訂1")
    assert to_choice("ﾌﾟﾛｼﾞｪｸﾄﾁｰﾑ", ["推進本部", "プロジェクトチーム"]).code == ""


def test_choice_near_miss_warns() -> None:
    for typed, label in (
        ("実施済み", "実施済"),
        ("予定無し", "予定なし"),
        ("実施済。", "実施済"),
        ("検討中です", "検討中"),
        ("実施予定なし", "予定なし"),
    ):
        n = to_choice(typed, STATUS)
        assert (n.state, n.value, n.code) == ("value", label, "W403"), typed
        assert label in n.reason


def test_choice_ambiguous_is_error() -> None:
    n = to_choice("実施", STATUS)
    assert (n.state, n.code) == ("error", "E204")
    assert "実施済" in n.reason and "実施予定" in n.reason
    assert to_choice("改訂", ["当初", "改訂1", "改訂2"]).state == "error"


def test_choice_negation_is_not_a_near_miss() -> None:
    assert (
        to_choice("設置", ["推進本部", "プロジェクトチーム", "その他", "未設置"]).state == "error"
    )
    assert to_choice("未実施", STATUS).state == "error"
    assert to_choice("検討中止", STATUS).state == "error"
    assert to_choice("予定なしだったが実施済", STATUS).state == "error"


def test_choice_not_in_list() -> None:
    n = to_choice("はい", STATUS)
    assert n.code == "E204" and "実施済・実施予定・検討中・予定なし" in n.reason
    assert to_choice(None, STATUS) is BLANK
    assert to_choice("－", STATUS) is NA
    assert to_choice(1, STATUS).state == "error"


# --- text, phone, e-mail, code -------------------------------------------------------------------------
def test_text_keeps_what_was_typed() -> None:
    assert to_text("\u3000担当　太郎 ") == Norm("value", "担当　太郎")
    assert to_text("ＡＢＣ") == Norm("value", "ＡＢＣ")
    assert to_text("  ") is BLANK
    assert to_text(123) == Norm("value", "123")
    assert to_text(123.0) == Norm("value", "123")


def test_phone() -> None:
    for typed in (
        "011-231-4111",
        "011(231)4111",
        "(011)231-4111",
        "０１１－２３１－４１１１",
        "011 231 4111",
    ):
        assert to_phone(typed) == Norm("value", "011-231-4111"), typed
    assert to_phone("09012345678").value == "090-1234-5678"
    assert to_phone("0120123456").value == "0120-123-456"
    assert to_phone(112314111).value == "0112314111"  # Excel dropped the leading zero
    assert to_phone("011-231-4111（内線1234）").value == "011-231-4111 内線1234"
    for typed in ("231-4111", "011-231-411", "電話", "0011-231-4111"):
        assert to_phone(typed).code == "E209", typed


def test_email() -> None:
    assert to_email("Kofu.Tanto@City.Sapporo.LG.JP").value == "Kofu.Tanto@city.sapporo.lg.jp"
    assert to_email("ｋｏｆｕ＠ｃｉｔｙ．ｅｘａｍｐｌｅ．ｊｐ").value == "kofu@city.example.jp"
    assert to_email("mailto:a@b.jp").value == "a@b.jp"
    for typed in ("kofu", "kofu@", "a@b", "a..b@c.jp", "a b@c.jp"):
        assert to_email(typed).code == "E209", typed
    assert "一つ" in to_email("a@b.jp; c@d.jp").reason


def test_code() -> None:
    assert to_code("011002") == Norm("value", "011002")
    assert to_code("０１１００２") == Norm("value", "011002")
    assert to_code(11002) == Norm("value", "011002")
    assert to_code(11002.0) == Norm("value", "011002")
    assert to_code(132047) == Norm("value", "132047")
    for raw in ("11002", "01100-2", 1234, "0110020", True):
        assert to_code(raw).state == "error", raw


def test_excel_error_values() -> None:
    for fn in (to_int, to_month, to_text):
        assert "エラー値" in fn("#DIV/0!").reason


def test_normalisers_table() -> None:
    assert set(NORMALISERS) == {"int", "yen", "month", "date", "text", "phone", "email", "code"}
    assert NORMALISERS["code"] is to_code


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("name", sorted(NORMALISERS))
def test_a_nan_or_infinite_cell_is_an_e2xx_never_a_blank(name: str, raw: float) -> None:
    """<v>NaN</v> or <v>1e999</v> is no value a person typed: an E2xx on its cell, whatever
    the field (a blank would hide it; a text "nan" would pass it on)."""
    n = NORMALISERS[name](raw)
    assert n.state == "error" and n.code.startswith("E2"), n


_COMPAT_DIGITS = "①②⑨⑳㉑㊿⑴⒈¹²³⁴₅𝟎𝟗𝟡𝟬𝟶½٣"


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(_COMPAT_DIGITS), st.booleans())
def test_compatibility_digits_are_named_never_read_as_another_number(n: int, odd: str, front: bool) -> None:
    typed = f"{odd}{n}" if front else f"{n}{odd}"
    for fn in (to_int, to_yen, to_month, to_code, to_phone):
        got = fn(typed)
        assert (got.state, got.code) == ("error", "E211"), (fn.__name__, typed, got)
        assert f"「{odd}」" in got.reason


def test_fullwidth_digits_stay_digits_everywhere() -> None:
    assert to_int("１２３").value == 123
    assert to_code("３１２０１１").value == "312011"
    assert to_phone("０８５７－２６－２１１１").value == "0857-26-2111"
