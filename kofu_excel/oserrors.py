"""What an operating-system error means, said in Japanese (for E901 and E907 messages).

``OSError.strerror`` is English on Linux ("File exists") and the Windows locale's text on
Windows; an official needs to know what happened and what to do, in the same words on every
machine. Windows' own error numbers (``winerror``) come first, then POSIX ``errno``.
"""

from __future__ import annotations

import errno
import os

_WINERROR: dict[int, str] = {
    2: "ファイルが見つかりません",
    3: "フォルダが見つかりません",
    5: "アクセスが拒否されました（書き込む権限がないか、Excel などで開かれています）",
    19: "書き込み禁止のディスクです",
    32: "ほかのプログラム（Excel など）がファイルを開いています。閉じてから再実行してください",
    33: "ほかのプログラムがファイルの一部を使用しています",
    39: "ディスクの空き容量が足りません",
    80: "同じ名前のファイルが既にあります",
    112: "ディスクの空き容量が足りません",
    123: "ファイル名・フォルダ名に使えない文字が含まれています",
    183: "同じ名前のファイルまたはフォルダが既にあります",
    206: "ファイル名またはパスが長すぎます（Windows の上限は 259 文字です）",
    1392: "ファイルまたはフォルダが壊れていて読み取れません",
}

_ERRNO: dict[int, str] = {
    errno.ENOSPC: "ディスクの空き容量が足りません",
    errno.EACCES: "アクセスが拒否されました（書き込む権限がないか、Excel などで開かれています）",
    errno.EPERM: "この操作は許可されていません（権限がありません）",
    errno.EEXIST: "同じ名前のファイルまたはフォルダが既にあります",
    errno.ENOENT: "ファイルまたはフォルダが見つかりません",
    errno.EROFS: "読み取り専用の場所には書き込めません",
    errno.ENAMETOOLONG: "ファイル名またはパスが長すぎます",
    errno.EISDIR: "同じ名前のフォルダがあります（ファイルの名前を指定してください）",
    errno.ENOTDIR: "パスの途中にフォルダではなくファイルがあります",
    errno.ENOTEMPTY: "フォルダが空ではありません",
    errno.EBUSY: "ファイルまたはフォルダが使用中です",
    errno.EMFILE: "開いているファイルが多すぎます",
    errno.ENFILE: "開いているファイルが多すぎます",
    errno.EIO: "ディスクの読み書きで障害が発生しました",
    errno.EINVAL: "ファイル名に使えない文字が含まれているか、指定が正しくありません",
    errno.EXDEV: "別のドライブへは移動できません",
    errno.EFBIG: "ファイルが大きすぎます",
    errno.ELOOP: "シンボリックリンクが循環しています",
}
for _name, _text in (("EDQUOT", "ディスクの使用量の上限（クオータ）を超えています"),
                     ("ETXTBSY", "ファイルが使用中です"),
                     ("ESTALE", "ネットワーク上のファイルが見えなくなりました（共有フォルダの接続を確認してください）"),
                     ("EHOSTDOWN", "ネットワーク上の共有フォルダに接続できません")):
    if hasattr(errno, _name):
        _ERRNO[getattr(errno, _name)] = _text


MAX_PATH_USABLE = 259  # Windows' MAX_PATH (260) less the terminating NUL, in UTF-16 units


def _too_long(exc: OSError) -> bool:
    """Windows without long-path support says "not found" (winerror 3, ENOENT) for a path over
    MAX_PATH: that is not what happened, the path is too long."""
    name = exc.filename if isinstance(exc.filename, str) else None
    if not name or (exc.errno != errno.ENOENT and getattr(exc, "winerror", None) not in (3, 206)):
        return False
    return len(os.path.abspath(name).encode("utf-16-le")) // 2 > MAX_PATH_USABLE and (
        os.name == "nt" or getattr(exc, "winerror", None) is not None)


def describe(exc: OSError) -> str:
    """The Japanese reason for ``exc``, e.g. 'ディスクの空き容量が足りません'."""
    if _too_long(exc):
        return f"パスが長すぎます（Windows の上限は {MAX_PATH_USABLE} 文字です。もっと浅いフォルダか短い名前にしてください）"
    winerror = getattr(exc, "winerror", None)
    if winerror in _WINERROR:
        return _WINERROR[winerror]
    if exc.errno in _ERRNO:
        return _ERRNO[exc.errno]
    number = winerror if winerror is not None else exc.errno
    return f"OS のエラー（番号 {number}）" if number is not None else "OS のエラー"
