"""Every file name the tool writes is valid on Windows (names.py), whatever it is made from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kofu_excel import names
from kofu_excel.findings import KofuError
from kofu_excel.model import Book
from kofu_excel.names import MAX_PATH, component_len, fit_path, is_reserved, safe_name, utf16_len
from kofu_excel.refdata import Master, Municipality
from kofu_excel.write.annotate import annotated_name
from kofu_excel.write.template import file_name, generate

HOSTILE = [
    "CON", "con.xlsx", "Nul .txt", "COM1.tar.gz", "lpt9", "COM¹.log", "CONOUT$",
    'a\\b/c:d*e?f"g<h>i|j', "tab\there\x00nul\x1f\x7f", "trailing. . ", "  lead", ".", "..", "",
    "𠮷" * 200 + ".xlsx", "あ" * 300, "x" * 254 + "𠮷",
]


def windows_valid(name: str) -> bool:
    return (bool(name) and not any(c in '\\/:*?"<>|' or ord(c) < 32 or ord(c) == 127 for c in name)
            and not name.endswith((".", " ")) and not is_reserved(name)
            and utf16_len(name) <= 255 and len(name.encode()) <= 255)


@pytest.mark.parametrize("name", HOSTILE)
def test_safe_name_makes_every_hostile_name_windows_valid_and_is_idempotent(name, tmp_path):
    safe = safe_name(name)
    assert windows_valid(safe), repr(safe)
    assert safe_name(safe) == safe
    (tmp_path / safe).write_bytes(b"x")  # and the file system takes it


@pytest.mark.parametrize("name", ["CON", "con.xlsx", "Nul .txt", "aux.tar.gz", "COM9", "LPT1.x", "prn",
                                  "COM²"])
def test_reserved_device_names_are_refused_with_or_without_extension(name):
    assert is_reserved(name)
    assert safe_name(name).startswith("_")


@pytest.mark.parametrize("name", ["CONSOLE.xlsx", "COM10", "鳥取市.xlsx", "null.txt", "_CON"])
def test_names_that_merely_look_like_devices_are_kept(name):
    assert not is_reserved(name) and safe_name(name) == name


def test_length_is_counted_in_utf16_units_and_utf8_bytes_and_the_extension_kept():
    long = "𠮷" * 200 + ".xlsx"  # 405 UTF-16 units, 805 UTF-8 bytes, 205 code points
    safe = safe_name(long)
    assert safe.startswith("𠮷" * 60 + "~") and safe.endswith(".xlsx")  # 4 bytes each
    assert component_len(safe) <= 255
    assert safe_name("x" * 300 + ".xlsx") == "x" * 243 + names._tag("x" * 300 + ".xlsx") + ".xlsx"
    assert safe_name("x" * 300 + "a.xlsx") != safe_name("x" * 300 + "b.xlsx")


def test_a_long_output_path_is_shortened_predictably(tmp_path):
    folder = tmp_path / ("深い階層のフォルダ" * 12)
    name = "131016_" + "長い団体名" * 30 + "_交付円滑化計画.xlsx"
    path = fit_path(folder, name)
    assert utf16_len(os.path.abspath(path)) == MAX_PATH - 1
    assert path.parent == folder and path.suffix == ".xlsx"
    assert path.name.startswith("131016_長い団体名") and "~" in path.name
    assert fit_path(folder, name) == path  # same on every run
    other = fit_path(folder, name.replace("計画", "報告"))
    assert other != path  # two long names stay two names


def test_a_path_that_fits_is_left_alone(tmp_path):
    assert fit_path(tmp_path, "312011_鳥取市_交付円滑化計画.xlsx") == tmp_path / "312011_鳥取市_交付円滑化計画.xlsx"
    assert fit_path(tmp_path, "CON.xlsx") == tmp_path / "_CON.xlsx"


def test_a_folder_too_deep_for_any_name_is_refused_in_japanese(tmp_path):
    folder = tmp_path / ("あ" * 250)
    with pytest.raises(KofuError) as err:
        fit_path(folder, "312011_鳥取市_交付円滑化計画.xlsx")
    assert err.value.code == names.E_PATH_TOO_LONG == "E906"
    assert "長すぎ" in err.value.message


def test_template_file_names_from_a_hostile_master_are_windows_valid(tmp_path):
    munis = [Municipality("312011", "31", "鳥取県", 'CON:市/"町"*?', "市"),
             Municipality("312029", "31", "鳥取県", "米子市. ", "市")]
    master = Master(munis, {"31": "鳥取県"}, source="test")
    out = tmp_path / ("様式（令和2年度）" * 8) / ("各市町村あて" * 8)
    result = generate("plan", out, master=master, pref="31")
    assert len(result.files) == 2
    for path in result.files:
        assert path.exists() and windows_valid(path.name)
        assert utf16_len(os.path.abspath(path)) < MAX_PATH
    assert windows_valid(file_name("plan", munis[0]))


@pytest.mark.parametrize("member", ["受信/CON", "a.eml > 件名:至急*?.xlsx", "x.zip > nul.xlsx",
                                    "a.eml > " + "𠮷" * 200 + ".xlsx"])
def test_annotated_copy_names_from_attachment_names_are_windows_valid(member):
    book = Book(file="inbox/a.eml", member=member, kind="plan", status="invalid")
    name = annotated_name(book)
    assert windows_valid(name) and name.endswith("_確認結果.xlsx")


def test_fit_path_accepts_a_relative_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fit_path(Path("out"), "a.xlsx") == Path("out/a.xlsx")
