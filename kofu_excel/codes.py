"""One table of codes: every code the toolkit emits, and everything known about it.

Each :class:`Code` says its usual severity, its Japanese title, the notice's check it answers
(第4-1(1) … 第4-2, review codes only), the form it is about, how a letter carries it, and the
templates its message is rendered from (``str.format`` over the words a rule computes from the
finding's figures). ``findings.CODES``, ``review.CHECKS``, ``review.kind_of``, the letters' advice
and not-ours codes and ``docs/errors.md`` are all derived from :data:`TABLE`: a new code is one
row here (and a rule that emits it). Plain data and stdlib only: importing this costs nothing.

Codes: E1xx the file; E2xx a field; E3xx across fields; W4xx warnings (accepted); E5xx reference
data; E6xx letters; E9xx output and run (E5xx–E9xx are raised as ``KofuError``: cannot proceed);
R1xx–R4xx review of a plan (第4-1); F1xx the monthly follow-up (第4-2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any, Literal, TypeVar

Form = Literal["plan", "monthly", "any"]
# How a letter carries a code: a correction to make (a rejected workbook), advice (第4), a reminder
# (F103), not at all because the workbook is not ours to advise (wrong or foreign municipality),
# or not at all ("none": warnings, accepted as they are).
LetterUse = Literal["correct", "advice", "reminder", "not_ours", "none"]


@dataclass(frozen=True, slots=True)
class Code:
    """Everything about one code. ``severity`` is the usual one: R201 becomes ``urgent`` past the
    configured ratio, E117 is a ``warning`` for a file that is only skipped."""

    code: str
    severity: str
    title: str
    check: str = ""  # the notice's check (review codes), e.g. 第4-1(1)
    form: Form = "any"
    letter: LetterUse = "none"
    # Message templates by variant ("" is the usual one), rendered by :func:`render`.
    messages: Mapping[str, str] = field(default_factory=dict)


def _code(code: str, severity: str, title: str, *, check: str = "", form: Form = "any",
          letter: LetterUse | None = None, message: str = "",
          variants: Mapping[str, str] | None = None) -> Code:
    """A row of the table. The letter use defaults to ``correct`` for E codes, ``none`` else."""
    use: LetterUse = letter or ("correct" if code.startswith("E") else "none")
    messages = {**({"": message} if message else {}), **(variants or {})}
    return Code(code, severity, title, check, form, use, MappingProxyType(messages))


_ROWS: tuple[Code, ...] = (
    # --- file / container (validation and intake) ---
    _code("E101", "error", "ブックとして読み込めません"),
    _code("E102", "error", "パスワードで保護されており、開けるパスワードがありません"),
    _code("E103", "error", "本ツールの様式ではありません（_meta シートがありません）"),
    _code("E104", "error", "様式のバージョンが不明です"),
    _code("E105", "error", "様式のレイアウトが変更されています"),
    _code("E106", "error", "シートまたは名前付き範囲がありません"),
    _code("E107", "error", "様式の種類が違います"),
    _code("E108", "error", "ファイルの大きさ・形が上限を超えています"),
    _code("E109", "error", "取り込めるブックがありません"),
    _code("E110", "error", "空のファイルです"),
    _code("E111", "error", "ファイルが壊れているか途中で切れています"),
    _code("E112", "error", "圧縮ファイルが展開上限を超えています（zip爆弾の疑い）"),
    _code("E113", "error", "圧縮ファイルのエントリ名が不正です"),
    _code("E114", "error", "圧縮ファイルの入れ子が深すぎます"),
    _code("E115", "error", "圧縮ファイルの構造が不正です（重複・重なり）"),
    _code("E116", "error", "電子メールの構造が上限を超えています"),
    _code("E117", "error", "本ツールの様式でも、とりまとめ表でもありません"),
    _code("E118", "error", "フォルダの階層が深すぎます"),
    # E101 is a workbook that cannot be read; a file the OS will not let us read is E124, a
    # path that does not exist is E703 (as on the command line).
    _code("E124", "error", "ファイル・フォルダを読み取れません（アクセス権限などを確認してください）"),
    _code("E119", "error", "読み込み中に処理が異常終了しました（ファイルの内容が不正な可能性があります）"),
    _code("E120", "error", "管轄外または名簿にない団体の様式です", letter="not_ours"),
    # Always "ignored", never an error: listed so that every file is accounted for (stamp.py).
    _code("E122", "warning", "kofu-excel が作成したファイルです（提出されたファイルではありません）",
          letter="none"),
    # Not E117 (a workbook that is not ours): a file that is no workbook to take in at all.
    _code("E123", "warning", "取込対象外のファイルです（ブック以外のファイル、一時ファイルなど）", letter="none"),
    # One finding for the whole book instead of one E201/E306/E308 per blank cell.
    _code("E121", "error", "様式が記入されていません（白紙またはほとんど未記入）",
          variants={"blank": "様式が記入されていません（入力が必要な {blank:,} か所がすべて空欄です）。"
                              "配布した様式がそのまま送られた可能性があります。記入してから提出してください",
                    "nearly": "様式がほとんど記入されていません（入力が必要な {blank:,} か所が空欄で、"
                               "記入されているのは {filled:,} か所です）。記入してから提出してください"}),
    # --- field ---
    _code("E201", "error", "必須項目が未入力です"),
    _code("E202", "error", "値の形式が正しくありません"),
    _code("E203", "error", "値が範囲外です"),
    _code("E204", "error", "選択肢にない値です"),
    _code("E205", "error", "団体コードの検査数字が正しくありません"),
    _code("E206", "error", "団体コードが名簿にありません", letter="not_ours"),
    _code("E207", "error", "とりまとめ対象の都道府県の団体ではありません", letter="not_ours"),
    _code("E208", "error", "未来の日付です"),
    _code("E209", "error", "電話番号・メールアドレスの形式が正しくありません"),
    _code("E210", "error", "「該当なし」は入力できない項目です"),
    _code("E211", "error", "数字として扱えない文字（丸数字・上付き文字など）があります"),
    # --- across fields ---
    _code("E301", "error", "交付枚数の累計が人口を超えています", form="plan",
          message="この月で累計（交付済枚数を含む）が{cumulative:,}枚となり、住民基本台帳人口（{population:,}人）を超えます"),
    _code("E302", "error", "交付を想定している四半期に統合端末がありません", form="plan",
          message="この四半期に交付枚数{forecast:,}枚を想定していますが、統合端末台数が0です"),
    _code("E303", "error", "令和元年度限りの経費が令和2年度に計上されています", form="plan",
          message="「{label}」は令和元年度限りの補助対象経費です。令和2年度は0としてください"),
    _code("E304", "error", "月次実績の累計の大小関係が正しくありません", form="monthly",
          message="{month}までの累計で、{later}（{later_total:,}）が{earlier}（{earlier_total:,}）を超えています"),
    _code("E305", "error", "対象月より後の月に入力があります", form="monthly",
          message="対象月（{report_month}）より後の月です。空欄にしてください"),
    _code("E306", "error", "対象月までの月に未入力があります", form="monthly",
          message="対象月（{report_month}）までの各月は入力が必要です。該当がない場合は0または「－」を入力してください"),
    _code("E307", "error", "交付済枚数が人口を超えています", form="plan",
          message="交付済枚数（{issued_to_date:,}枚）が住民基本台帳人口（{population:,}人）を超えています"),
    _code("E308", "error", "条件付きの必須項目が未入力です"),
    # --- warnings (accepted) ---
    _code("W401", "warning", "臨時・非常勤職員による端末操作には研修・監督が必要です", form="plan",
          message="統合端末台数（{terminals}台）が正規職員数（{staff_regular}人）を上回っています。臨時・非常勤職員が端末を操作する場合は、正規職員による研修・監督の体制を備考等で示してください（通知第2-2(2)）"),
    _code("W402", "warning", "前回提出分から過去月の数値が変更されています", form="monthly",
          message="{since}報告（{label}）では{shown}でした。過去の月を修正した場合は理由を連絡してください"),
    _code("W403", "warning", "選択肢の表記ゆれを読み替えました"),
    _code("W404", "warning", "元号の表記を読み替えました"),
    _code("W405", "warning", "マクロ・外部リンク・DDE が含まれています（実行せず、値のみ読み取りました）"),
    _code("W406", "warning", "入力欄に数式があります（保存されていた計算結果を読み取りました）"),
    _code("W407", "warning", "様式の管理情報（_meta）の団体コードが団体コード欄と一致しません"),
    _code("W408", "warning", "とりまとめ表のデータ シートに取り込めない行があります"),
    # --- reference data and usage (raised as KofuError: cannot proceed) ---
    _code("E501", "error", "団体名簿のファイルを読み込めません"),
    _code("E502", "error", "全体スケジュールのファイルを読み込めません"),
    _code("E503", "error", "設定ファイルを読み込めません"),
    _code("E504", "error", "都道府県・市区町村が名簿にありません"),
    _code("E505", "error", "パスワード一覧のファイルを読み込めません"),
    _code("E601", "error", "とりまとめ表として読み込めません（本ツールで作成したとりまとめ表を指定してください）"),
    _code("E602", "error", "文書のテンプレートに誤りがあります"),
    _code("E603", "error", "文書の形式・日付の指定が正しくありません"),
    _code("W601", "warning", "文書の差出人・連絡先の設定が仮の値のままです", letter="none"),
    _code("W602", "warning", "文書の日付がとりまとめ表のデータの基準日から離れています", letter="none"),
    # --- usage: the command line itself (exit 2, nothing written; cli/usage.py) ---
    _code("E701", "error", "必須の指定がありません", letter="none"),
    _code("E702", "error", "選択肢にない値が指定されました", letter="none"),
    _code("E703", "error", "指定されたファイル・フォルダが見つかりません", letter="none"),
    _code("E704", "error", "ファイルとフォルダの指定が違います", letter="none"),
    _code("E705", "error", "日付を読み取れません", letter="none"),
    _code("E706", "error", "数値の指定が正しくありません", letter="none"),
    _code("E707", "error", "そのようなオプション・コマンドはありません", letter="none"),
    _code("E708", "error", "余分な指定があります", letter="none"),
    _code("E709", "error", "コマンドの指定が正しくありません", letter="none"),
    _code("E710", "error", "指定されたファイル・フォルダを読み取れません", letter="none"),
    _code("E711", "error", "出力ファイルの拡張子が、作成するファイルの形式と違います", letter="none"),
    _code("E901", "error", "出力ファイルに書き込めません"),
    _code("E902", "error", "出力ファイルの作成に失敗しました"),
    _code("E903", "error", "出力ファイルが入力ファイルの一つです"),
    _code("E904", "error", "出力先が通常のファイルではありません（デバイス・パイプ・フォルダ・リンク）"),
    _code("E905", "error", "都道府県を特定できません（--pref の指定を確認してください）"),
    _code("E906", "error", "出力先の名前・パスが長すぎるか、この保存先で使えない文字を含みます（Windows のパスは 259 文字まで）"),
    _code("E907", "error", "ファイルの読み書きに失敗しました"),
    _code("E910", "error", "アクセス用の合言葉（token）がないか、違います", letter="none"),
    _code("E911", "error", "接続先の名前（Host）が 127.0.0.1・localhost ではありません", letter="none"),
    _code("E912", "error", "kofu serve の画面以外からの送信です（Origin・Referer が違います）", letter="none"),
    _code("E913", "error", "送信されたファイルが大きすぎるか、多すぎます", letter="none"),
    _code("E914", "error", "同じ作業フォルダで、ほかの実行が終わっていません", letter="none"),
    _code("E915", "error", "指定されたページ・実行記録・ファイルがありません", letter="none"),
    _code("E916", "error", "送信された内容に誤りがあります（ファイル・項目の値）", letter="none"),
    _code("E917", "error", "作業フォルダを作成・使用できません", letter="none"),
    _code("E990", "error", "中断しました"),
    _code("E999", "error", "予期しないエラーが発生しました"),
    # --- review of the plan (第4-1: advice, never rejects) ---
    _code("R101", "advise", "交付枚数の想定が国の全体スケジュールを下回っています", check="第4-1(1)", form="plan", letter="advice",
          message="{milestone_label}の交付枚数（累計）の想定 {found} 枚（交付済 {issued_to_date} 枚と{span}の想定 {forecast} 枚の合計）は、国の全体スケジュールに基づく目安 {expected} 枚を {shortfall} 枚下回っています。"),
    _code("R102", "info", "交付枚数の想定の前倒しが不十分です", check="第4-1(1)", form="plan", letter="advice",
          message="{span}の交付枚数の想定 {total} 枚のうち、{cutoff}末までの想定は {early} 枚（{share}）で、前倒しの目安（{target}以上）に届いていません。"),
    _code("R201", "advise", "交付体制（統合端末の処理能力）が想定に対して不足しています", check="第4-1(2)", form="plan", letter="advice",
          message="{quarter_label}の交付見込み {found} 枚（交付枚数の想定 {forecast} 枚＋電子証明書等の更新 {renewal} 枚）に対し、統合端末 {terminals} 台の処理能力は {expected} 枚（{terminals} 台×1日 {cards_per_day} 枚×{days} 日分：平日の開庁日 {working_days} 日＋土日開庁 {weekend_days} 日＋夜間延長 {evening_days} 日×{evening_weight}）で、{shortfall} 枚不足します（{times}）。処理能力が不足する四半期は {n} 期（{quarters}）です。"),
    _code("R202", "advise", "統合端末の台数に対して操作できる職員が不足しています", check="第4-1(2)", form="plan", letter="advice",
          message="{quarter_label}の統合端末 {terminals} 台に対し、端末を操作できる職員は {found} 人（正規 {staff_regular} 人、臨時・非常勤 {staff_temporary} 人）で、{shortfall} 人不足しています。職員が端末の台数に満たない四半期は {n} 期（{quarters}）です。"),
    _code("R301", "advise", "申請時来庁方式・出張申請受付方式の導入が遅れています", check="第4-1(3)", form="plan", letter="advice",
          variants={"not_introduced": "{method_label}の実施状況が「{status}」となっており、導入時期が示されていません（目安：{deadline}までに導入）。", "late": "{method_label}の開始（予定）が{start}となっており、目安の{deadline}より後です。"}),
    _code("R302", "advise", "他市町村住民の申請受付に本人限定受取郵便の体制が必要です", check="第4-1(3)", form="plan", letter="advice",
          message="{other_label}を「{other_residents}」としていますが、{mail_label}が「予定なし」となっています。"),
    _code("R401", "advise", "出張申請受付等の旅費が計上されていません", check="第4-1(4)", form="plan", letter="advice",
          message="{methods}を実施（予定）としていますが、旅費（出張申請受付・申請サポート）が{years}とも0円です。"),
    _code("R402", "advise", "統合端末の追加リース経費が計上されていません", check="第4-1(4)", form="plan", letter="advice",
          message="統合端末を{first_quarter}の {terminals_first} 台から{peak_quarter}に {terminals_peak} 台へ増やす計画ですが、統合端末の追加リース経費が{years}とも0円です。"),
    _code("R403", "advise", "補助対象経費が計上されていません", check="第4-1(4)", form="plan", letter="advice",
          message="補助対象経費の見込額が{years}ともすべて0円です。"),
    # --- the monthly follow-up (第4-2) ---
    _code("F101", "urgent", "交付待ちのカードが滞留しています", check="第4-2", form="monthly", letter="advice",
          message="{report_month}末時点で、J-LISから送付されたカード {delivered} 枚のうち交付済は {issued} 枚で、交付待ちのカードが {found} 枚滞留しています（{held}。目安は {backlog_months} か月分以内）。"),
    _code("F102", "advise", "交付実績が計画を大きく下回っています", check="第4-2", form="monthly", letter="advice",
          message="{span}の交付数の累計 {found} 枚は、計画の想定 {expected} 枚の {ratio}で、目安の {plan_ratio} を下回っています（計画との差 {shortfall} 枚）。"),
    _code("F103", "advise", "月次の実績報告が提出されていません", check="第4-2", form="monthly", letter="reminder",
          variants={"missing": "{want}実績報告が提出されていません。", "old": "提出された最新の実績報告は{had}で、{want}実績報告が提出されていません。"}),
)

TABLE: Mapping[str, Code] = MappingProxyType({c.code: c for c in _ROWS})


def render(code: str, variant: str = "", /, **words: Any) -> str:
    """The message of ``code`` (its ``variant``) with ``words`` filled in."""
    return TABLE[code].messages[variant].format(**words)


def titles() -> dict[str, str]:
    """code → Japanese title (``findings.CODES``)."""
    return {c.code: c.title for c in _ROWS}


@cache
def checks() -> Mapping[str, str]:
    """code → the notice's check, for the codes that answer one (``review.CHECKS``)."""
    return MappingProxyType({c.code: c.check for c in _ROWS if c.check})


def check_of(code: str) -> str:
    """The notice's check of a review code; an unknown F code counts as 第4-2, anything else
    as 第4-1(1) (the letters' grouping never drops an item)."""
    c = TABLE.get(code)
    if c is not None and c.check:
        return c.check
    return "第4-2" if code.startswith("F") else "第4-1(1)"


def kind_of(code: str) -> str:
    """Which workbook a review code is about: ``plan`` (R*) or ``monthly`` (F*)."""
    c = TABLE.get(code)
    if c is not None and c.form != "any":
        return c.form
    return "monthly" if code.startswith("F") else "plan"


def codes_with(letter: LetterUse) -> frozenset[str]:
    return frozenset(c.code for c in _ROWS if c.letter == letter)


def advice_codes() -> frozenset[str]:
    """Codes an advice letter carries as advice (R*, F101, F102)."""
    return codes_with("advice")


def not_ours_codes() -> frozenset[str]:
    """Errors that say the workbook is not one of ours to advise (wrong or foreign code)."""
    return codes_with("not_ours")


def review_codes() -> frozenset[str]:
    """The codes of the review (R*, F*): each has a rule in ``kofu_excel.review.rules``."""
    return frozenset(c.code for c in _ROWS if c.check)


F = TypeVar("F", bound=Callable[..., Any])


def rule(*codes: str) -> Callable[[F], F]:
    """Mark a function as the rule that emits ``codes`` (validation and review rules alike;
    ``tests/test_codes.py`` checks every registered rule's codes against :data:`TABLE`)."""
    def mark(fn: F) -> F:
        fn.codes = codes  # type: ignore[attr-defined]
        return fn
    return mark
