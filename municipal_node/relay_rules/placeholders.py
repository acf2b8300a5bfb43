"""Template placeholders, and the checks that keep personal data out of templates.

A placeholder is ``{名前}`` with one of the names in ``PLACEHOLDERS``; their values come only
from the notice, the tenant and the template's own fields — never from a resident. Anything
else in braces is refused on save, with a reason naming it: a name that would carry personal
data (``{氏名}``, ``{住所}``, ``{宛名番号}``, ``{user_id}`` …) as personal data, any other as unknown.
A brace that is not part of a placeholder is refused too (so nothing half-substituted is ever
sent). Literal personal data typed into a template — a LINE user id, a 12-digit 個人番号, an
e-mail address — is refused as well.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: name → what it is replaced with (documentation shown to staff)
PLACEHOLDERS: dict[str, str] = {
    "自治体名": "自治体の名前（テナント名） / the municipality's name",
    "担当課": "テンプレートの担当課 / the template's department",
    "電話番号": "テンプレートの担当課の電話番号 / the department's phone number",
    "受付URL": "テンプレートの受付URL、なければ通知の action.url / application URL",
    "見出し": "通知の見出し / the notice's headline",
    "本文": "通知の本文 / the notice's body",
    "制度名": "通知の制度名 / the program's name",
    "受付開始": "通知の受付開始日時 / when applications open",
    "締切": "通知の締切日時 / when applications close",
    "根拠法令": "通知の根拠法令 / the program's legal basis",
}

#: placeholders a button URL may be (the whole URL)
URL_PLACEHOLDERS = ("受付URL",)

#: fragments that mark a placeholder name as personal data (matched case-insensitively on
#: the NFKC form, so full-width letters do not slip through)
_PERSONAL_FRAGMENTS = (
    "氏名",
    "名前",
    "なまえ",
    "フリガナ",
    "ふりがな",
    "住所",
    "生年月日",
    "誕生日",
    "年齢",
    "宛名番号",
    "住民番号",
    "住民id",
    "個人番号",
    "マイナンバー",
    "本人",
    "世帯",
    "続柄",
    "子ども",
    "子供",
    "児童名",
    "受給者",
    "受給資格",
    "金額",
    "支給額",
    "口座",
    "メール",
    "性別",
    "resident",
    "user",
    "line_id",
    "lineid",
    "fullname",
    "full_name",
    "firstname",
    "first_name",
    "lastname",
    "last_name",
    "kana",
    "address",
    "birth",
    "email",
    "mail",
    "household",
    "phone_self",
)

_TOKEN_RE = re.compile(r"\{([^{}]*)\}")
LINE_USER_ID_RE = re.compile(r"U[0-9a-f]{32}")
MY_NUMBER_RE = re.compile(r"(?<![0-9])[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{4}(?![0-9])")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


@dataclass(frozen=True)
class Problem:
    """One reason a template is refused: where, machine code, bilingual message."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


def looks_personal(name: str) -> bool:
    folded = unicodedata.normalize("NFKC", name).casefold()
    return any(fragment in folded for fragment in _PERSONAL_FRAGMENTS)


def placeholders_in(text: str) -> list[str]:
    return [match.group(1) for match in _TOKEN_RE.finditer(text)]


def check_placeholders(field: str, text: str) -> list[Problem]:
    problems: list[Problem] = []
    for name in dict.fromkeys(placeholders_in(text)):
        if name in PLACEHOLDERS:
            continue
        if looks_personal(name):
            problems.append(
                Problem(
                    field,
                    "PERSONAL_DATA_PLACEHOLDER",
                    f"差し込み項目 {{{name}}} は個人情報を差し込むため使えません。LINE のメッセージ"
                    f"には住民の個人情報を載せません"
                    f" / placeholder {{{name}}} would put personal data into a LINE message",
                )
            )
        else:
            allowed = " ".join(f"{{{known}}}" for known in PLACEHOLDERS)
            problems.append(
                Problem(
                    field,
                    "UNKNOWN_PLACEHOLDER",
                    f"差し込み項目 {{{name}}} はありません。使えるもの: {allowed}"
                    f" / unknown placeholder {{{name}}}",
                )
            )
    rest = _TOKEN_RE.sub("", text)
    if "{" in rest or "}" in rest:
        problems.append(
            Problem(
                field,
                "STRAY_BRACE",
                "波括弧 { } は差し込み項目 {見出し} などにだけ使えます（閉じ忘れがないか確認して"
                "ください） / a brace that is not part of a placeholder",
            )
        )
    return problems


def check_literal_personal_data(field: str, text: str) -> list[Problem]:
    """Personal data typed into the template itself."""
    problems: list[Problem] = []
    if LINE_USER_ID_RE.search(text):
        problems.append(
            Problem(
                field,
                "PERSONAL_DATA_LINE_USER_ID",
                "LINE ユーザーID（U と16進32桁）が含まれています。個人を特定する情報は載せられま"
                "せん / contains a LINE user id",
            )
        )
    if MY_NUMBER_RE.search(unicodedata.normalize("NFKC", text)):
        problems.append(
            Problem(
                field,
                "PERSONAL_DATA_NUMBER",
                "12桁の番号（個人番号の可能性）が含まれています。個人番号は載せられません"
                " / contains a 12-digit number (possibly an individual number)",
            )
        )
    if EMAIL_RE.search(unicodedata.normalize("NFKC", text)):
        problems.append(
            Problem(
                field,
                "PERSONAL_DATA_EMAIL",
                "メールアドレスが含まれています。メールアドレスは載せられません"
                " / contains an e-mail address",
            )
        )
    return problems
