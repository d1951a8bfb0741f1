"""Review settings (review.toml, a user's --config) and the TOML and data-file readers that
the schedule shares.

:func:`load_config` overlays the built-in thresholds of docs/spec/checks.md, the letter settings and the
operator's ``[limits]`` for intake with a user's TOML; anything unusable is E503.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kofu_excel.findings import KofuError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:
    from kofu_excel.formats import Limits

__all__ = ["E_CONFIG", "ReviewConfig", "load_config"]

E_CONFIG = "E503"  # a config file that cannot be used


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_month(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", v) is not None


def toml_date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        return date.fromisoformat(v)
    raise ValueError


def read_toml(text: str, what: str, code: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise KofuError(code, f"{what}: TOML として読み込めません（{e}）") from None


def read_user_toml(path: str | Path, what: str, code: str) -> dict[str, Any]:
    from ..sidefiles import read_side_file

    p = Path(path)
    data = read_side_file(p, what, code)  # bounded, a regular file (never /dev/zero, a FIFO)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KofuError(code, f"{what} {p.name}: UTF-8 で保存してください") from None
    return read_toml(text, f"{what} {p.name}", code)


def data_text(name: str) -> str:
    """A file shipped under ``kofu_excel/data/``."""
    return resources.files("kofu_excel").joinpath("data").joinpath(name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class ReviewConfig:
    """Review thresholds of docs/spec/checks.md (section of review.toml in brackets) and letter settings."""

    tol: float  # [r1] shortfall tolerated below the schedule benchmark
    front_share: float  # [r1] share of the forecast to 2021-03 expected before 2020-08
    cards_per_terminal_day: float  # [r2] cards one terminal issues per working day
    renewal_share: float  # [r2] yearly renewals as a share of cards issued so far
    urgent_ratio: float  # [r2] forecast / capacity above this → urgent
    evening_weight: float  # [r2] an evening extension as a share of a working day
    method_deadline: str  # [r3] YYYY-MM: methods starting after it → advise
    backlog_months: float  # [f1] backlog above this many months of issuance → urgent
    plan_ratio: float  # [f1] cumulative issued below this share of plan → advise
    letters: dict[str, Any] = field(default_factory=dict)  # [letters] sender, contact, doc_number …
    # [scope] designated_cities: the prefecture collects its 指定都市' returns (false: the state
    # does, so they are outside the prefecture's scope: never 未提出, never reminded).
    designated_cities: bool = True
    # [limits] overrides of intake.Limits (sizes, ratios, depths) — only what the user set.
    limits: dict[str, float] = field(default_factory=dict)

    def intake_limits(self) -> Limits:
        """The intake bounds: the defaults of intake.Limits with this file's [limits] applied."""
        from kofu_excel.formats import Limits

        return Limits(**self.limits)


_TYPE_WORDS = {"bool": "true または false", "str": "文字列", "int": "整数", "float": "数"}

# field → (section, lowest allowed, highest allowed, lowest is exclusive)
_CONFIG_NUMBERS: dict[str, tuple[str, float, float, bool]] = {
    "tol": ("r1", 0.0, 1.0, False),
    "front_share": ("r1", 0.0, 1.0, False),
    "cards_per_terminal_day": ("r2", 0.0, 10_000.0, True),
    "renewal_share": ("r2", 0.0, 1.0, False),
    "urgent_ratio": ("r2", 1.0, 100.0, False),
    "evening_weight": ("r2", 0.0, 1.0, False),
    "backlog_months": ("f1", 0.0, 120.0, True),
    "plan_ratio": ("f1", 0.0, 1.0, True),
}


@cache
def _builtin_config_data() -> dict[str, Any]:
    return read_toml(data_text("review.toml"), "組み込みの設定", E_CONFIG)


@cache
def _builtin_config() -> ReviewConfig:
    return _config_from(_builtin_config_data(), "組み込みの設定")


def load_config(path: str | Path | None = None) -> ReviewConfig:
    """The built-in review settings, overlaid by a user's TOML (only keys it knows: E503)."""
    if path is None:
        return _builtin_config()
    what = f"設定ファイル {Path(path).name}"
    user = read_user_toml(path, "設定ファイル", E_CONFIG)
    base = _builtin_config_data()
    merged = {section: dict(values) for section, values in base.items()}
    limits = _limits_from(user.pop("limits", {}), what)
    for section, values in user.items():
        if section not in base:
            raise KofuError(E_CONFIG, f"{what}: [{section}] は不明な項目です")
        if not isinstance(values, dict):
            raise KofuError(E_CONFIG, f"{what}: {section} は表（[{section}]）で指定してください")
        for key, value in values.items():
            if key not in base[section]:
                raise KofuError(E_CONFIG, f"{what}: [{section}] の「{key}」は不明な項目です")
            default = base[section][key]
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, str):
                ok = isinstance(value, str)
            elif section == "letters":  # seq_start: a whole number
                ok = is_int(value)
            else:
                ok = is_number(value)
            if not ok:
                raise KofuError(
                    E_CONFIG,
                    f"{what}: [{section}] {key} の値 {value!r} の型が違います"
                    f"（{_TYPE_WORDS.get(type(default).__name__, type(default).__name__)} で指定してください）",
                )
            merged[section][key] = value
    return replace(_config_from(merged, what), limits=limits)


def _limits_from(values: Any, what: str) -> dict[str, float]:
    """[limits]: intake's bounds, each a positive finite number (raised or lowered, never off)."""
    from dataclasses import fields

    from kofu_excel.formats import Limits

    if not isinstance(values, dict):
        raise KofuError(E_CONFIG, f"{what}: limits は表（[limits]）で指定してください")
    known = {f.name: f.type for f in fields(Limits)}
    out: dict[str, float] = {}
    for key, value in values.items():
        if key not in known:
            raise KofuError(E_CONFIG, f"{what}: [limits] の「{key}」は不明な項目です"
                                      f"（指定できるもの：{'、'.join(known)}）")
        whole = key != "max_ratio"
        if not (is_int(value) if whole else is_number(value)) or not 0 < value < 2**63:
            kind = "1 以上の整数" if whole else "0 より大きい数"
            raise KofuError(E_CONFIG, f"{what}: [limits] {key} は {kind}で指定してください（{value!r}）")
        out[key] = value
    return out


def _config_from(d: Mapping[str, Any], what: str) -> ReviewConfig:
    def bad(detail: str) -> KofuError:
        return KofuError(E_CONFIG, f"{what}: {detail}")

    values: dict[str, Any] = {}
    for name, (section, lo, hi, exclusive) in _CONFIG_NUMBERS.items():
        v = d.get(section, {}).get(name)
        if not is_number(v) or v > hi or v < lo or (exclusive and v == lo):
            rng = f"{lo:g} より大きく {hi:g} 以下" if exclusive else f"{lo:g} 以上 {hi:g} 以下"
            raise bad(f"[{section}] {name} は {rng} の数で指定してください（{v!r}）")
        values[name] = float(v)
    deadline = d.get("r3", {}).get("method_deadline")
    if not is_month(deadline):
        raise bad(
            f"[r3] method_deadline は YYYY-MM（例: 2020-03）で指定してください（{deadline!r}）"
        )
    letters = dict(d.get("letters", {}))
    try:
        str(letters.get("doc_number", "")).format(seq=1)
    except (KeyError, IndexError, ValueError):
        raise bad("[letters] doc_number に使える差し込みは {seq} だけです") from None
    if not is_int(letters.get("seq_start", 1)) or letters.get("seq_start", 1) < 0:
        raise bad("[letters] seq_start は 0 以上の整数で指定してください")
    if letters.get("date"):
        try:
            date.fromisoformat(str(letters["date"]))
        except ValueError:
            raise bad("[letters] date は YYYY-MM-DD で指定してください（空なら作成した日）") from None
    designated = d.get("scope", {}).get("designated_cities", True)
    if not isinstance(designated, bool):
        raise bad(f"[scope] designated_cities は true または false で指定してください（{designated!r}）")
    return ReviewConfig(method_deadline=deadline, letters=letters, designated_cities=designated,
                        **values)
