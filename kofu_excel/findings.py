"""Findings are data: one small record per fault or piece of advice, with a stable code.

Exceptions are only for "cannot proceed" (:class:`KofuError`); everything a user should read
about an input is a :class:`Finding`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any

SEVERITIES = ("error", "warning", "info", "advise", "urgent")

# Stable codes and their Japanese titles. Messages may add detail; the code never changes meaning.
# E1xx: the file; E2xx: a field; E3xx: across fields; W4xx: warnings; R/F: review (advice).
CODES: dict[str, str] = {
    # --- file / container (validation and intake) ---
    "E101": "ブックとして読み込めません",
    "E102": "パスワードで保護されており、開けるパスワードがありません",
    "E103": "本ツールの様式ではありません（_meta シートがありません）",
    "E104": "様式のバージョンが不明です",
    "E105": "様式のレイアウトが変更されています",
    "E106": "シートまたは名前付き範囲がありません",
    "E107": "様式の種類が違います",
    "E108": "ファイルの大きさ・形が上限を超えています",
    "E109": "取り込めるブックがありません",
    "E110": "空のファイルです",
    "E111": "ファイルが壊れているか途中で切れています",
    "E112": "圧縮ファイルが展開上限を超えています（zip爆弾の疑い）",
    "E113": "圧縮ファイルのエントリ名が不正です",
    "E114": "圧縮ファイルの入れ子が深すぎます",
    "E115": "圧縮ファイルの構造が不正です（重複・重なり）",
    "E116": "電子メールの構造が上限を超えています",
    "E117": "本ツールの様式でも、とりまとめ表でもありません",
    "E120": "管轄外または名簿にない団体の様式です",
    # --- field ---
    "E201": "必須項目が未入力です",
    "E202": "値の形式が正しくありません",
    "E203": "値が範囲外です",
    "E204": "選択肢にない値です",
    "E205": "団体コードの検査数字が正しくありません",
    "E206": "団体コードが名簿にありません",
    "E207": "とりまとめ対象の都道府県の団体ではありません",
    "E208": "未来の日付です",
    "E209": "電話番号・メールアドレスの形式が正しくありません",
    "E210": "「該当なし」は入力できない項目です",
    # --- cross-field ---
    "E301": "交付枚数の累計が人口を超えています",
    "E302": "交付を想定している四半期に統合端末がありません",
    "E303": "令和元年度限りの経費が令和2年度に計上されています",
    "E304": "月次実績の累計の大小関係が正しくありません",
    "E305": "対象月より後の月に入力があります",
    "E306": "対象月までの月に未入力があります",
    "E307": "交付済枚数が人口を超えています",
    "E308": "条件付きの必須項目が未入力です",
    # --- warnings ---
    "W401": "臨時・非常勤職員による端末操作には研修・監督が必要です",
    "W402": "前回提出分から過去月の数値が変更されています",
    "W403": "選択肢の表記ゆれを読み替えました",
    "W404": "元号の表記を読み替えました",
    "W405": "マクロ・外部リンク・DDE が含まれています（実行せず、値のみ読み取りました）",
    "W406": "入力欄に数式があります（保存されていた計算結果を読み取りました）",
    # --- reference data and usage (raised as KofuError: cannot proceed) ---
    "E501": "団体名簿のファイルを読み込めません",
    "E502": "全体スケジュールのファイルを読み込めません",
    "E503": "設定ファイルを読み込めません",
    "E504": "都道府県・市区町村が名簿にありません",
    "E601": "とりまとめ表として読み込めません（本ツールで作成したとりまとめ表を指定してください）",
    "E602": "文書のテンプレートに誤りがあります",
    "E603": "文書の形式・日付の指定が正しくありません",
    "E901": "出力ファイルに書き込めません",
    "E902": "出力ファイルの作成に失敗しました",
    "E903": "出力ファイルが入力ファイルの一つです",
    "E905": "都道府県を特定できません（--pref の指定を確認してください）",
    # --- kofu serve (the local web page) ---
    "E910": "アクセス用の合言葉（token）がないか、違います",
    "E911": "接続先の名前（Host）が 127.0.0.1・localhost ではありません",
    "E912": "kofu serve の画面以外からの送信です（Origin・Referer が違います）",
    "E913": "送信されたファイルが大きすぎるか、多すぎます",
    "E914": "同じ作業フォルダで、ほかの実行が終わっていません",
    "E915": "指定されたページ・実行記録・ファイルがありません",
    "E916": "送信された内容に誤りがあります（ファイル・項目の値）",
    "E917": "作業フォルダを作成・使用できません",
    "E990": "中断しました",
    "E999": "予期しないエラーが発生しました",
    # --- review (advice, never rejects) ---
    "R101": "交付枚数の想定が国の全体スケジュールを下回っています",
    "R102": "交付枚数の想定の前倒しが不十分です",
    "R201": "交付体制（統合端末の処理能力）が想定に対して不足しています",
    "R202": "統合端末の台数に対して操作できる職員が不足しています",
    "R301": "申請時来庁方式・出張申請受付方式の導入が遅れています",
    "R302": "他市町村住民の申請受付に本人限定受取郵便の体制が必要です",
    "R401": "出張申請受付等の旅費が計上されていません",
    "R402": "統合端末の追加リース経費が計上されていません",
    "R403": "補助対象経費が計上されていません",
    "F101": "交付待ちのカードが滞留しています",
    "F102": "交付実績が計画を大きく下回っています",
    "F103": "月次の実績報告が提出されていません",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One fault or piece of advice, located as precisely as the input allows."""

    code: str
    severity: str
    message: str
    file: str = ""
    member: str = ""
    sheet: str = ""
    cell: str = ""
    field: str = ""
    value: Any = None
    expected: str = ""
    muni_code: str = ""
    check: str = ""  # the notice's check for review findings, e.g. 第4-1(1)
    figures: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def title(self) -> str:
        return CODES.get(self.code, "")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["value"] = jsonable(self.value)
        d["figures"] = {k: jsonable(v) for k, v in self.figures.items()}
        return d


def jsonable(v: Any) -> Any:
    """Dates and other odd cell values as JSON-friendly scalars."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


class HasFindings:
    """Errors and warnings of anything that carries ``findings`` (a book, a file result)."""

    findings: Any

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


class KofuError(Exception):
    """The toolkit cannot proceed (bad usage, unwritable output). Carries a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
