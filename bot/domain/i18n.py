"""Languages, the pure part: a Lang is passed to the render functions like the chat's zone is.

`Lang` wraps a gettext translator (GNUTranslations for a catalogue, NullTranslations for
English) and the language's month names; the catalogues themselves are loaded outside the
domain (bot/locale, which reads files). Nothing here is global: English is `EN`, the default
of every render function.

Marking strings (what `babel.messages.extract` finds, tests/test_i18n.py checks):
  lang._("Total %(usd)s", usd=...)        translated now
  lang.n_("%(n)d rule", "%(n)d rules", n)  with a plural (n is passed as `n` too)
  N_("...")                                marked only, translated later by lang._(text)
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass, field
from typing import Protocol

SUPPORTED = ("en", "ru", "es", "zh")  # "zh": Simplified Chinese (zh_Hans)
NAMES = {"en": "English", "ru": "Русский", "es": "Español", "zh": "简体中文"}
_EN_MONTHS = tuple("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())


class Translator(Protocol):
    def gettext(self, message: str, /) -> str: ...
    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


def N_(message: str) -> str:
    """Mark a string for the catalogues without translating it (module constants)."""
    return message


class TextError(ValueError):
    """An error fit for a user: a msgid (English, with %(name)s placeholders) and its values,
    translated where it is shown (`lang.text(err)`); str(err) is the English text. A value
    may itself be a TextError (`bad amount: %(why)s`): it is translated too."""

    def __init__(self, msgid: str, /, **values: object) -> None:
        self.msgid = msgid
        self.values = values
        super().__init__(msgid % values if values else msgid)


class Text(str):
    """A sentence made where no Lang is at hand (a feature's note): the English text, which it
    is as a str, plus its msgid and values, so `lang.text(t)` gives it in the chat's language."""

    msgid: str
    values: dict[str, object]

    def __new__(cls, msgid: str, /, **values: object) -> Text:
        self = super().__new__(cls, msgid % values if values else msgid)
        self.msgid, self.values = msgid, values
        return self


@dataclass(frozen=True, eq=False)
class Lang:
    code: str = "en"
    tr: Translator = field(default_factory=gettext.NullTranslations)
    months: tuple[str, ...] = _EN_MONTHS  # abbreviated, in a date's form (Babel's CLDR data)
    # a date's order: "{d} {mon} {y}" in English; zh writes "{y}年{m}月{d}日"
    date_pattern: str = "{d} {mon} {y}"

    def _(self, message: str, /, **values: object) -> str:
        text = self.tr.gettext(message)
        return text % values if values else text

    def text(self, t: TextError | Text | str) -> str:
        """A TextError or Text in this language, their TextError and Text values too; a plain
        str as it is."""
        if not isinstance(t, (TextError, Text)):
            return t
        values = {
            k: self.text(v) if isinstance(v, (TextError, Text)) else v for k, v in t.values.items()
        }
        return self._(t.msgid, **values)

    def n_(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        return self.tr.ngettext(singular, plural, n) % {"n": n, **values}

    def date(self, day: int, month: int, year: int | None) -> str:
        """`13 Jan 2026` / `13 янв. 2026` / `2026年1月13日`; year None: this year's date."""
        mon = self.months[month - 1]
        if year is None:
            pattern = self.date_pattern.replace(" {y}", "").replace("{y}年", "")
        else:
            pattern = self.date_pattern
        return pattern.format(d=day, mon=mon, m=month, y=year)


EN = Lang()


def match_language(code: str | None) -> str | None:
    """A client's language tag ("ru", "es-419", "zh-hans", "zh-CN", "en-US") -> a supported
    code, or None. Traditional Chinese (zh-TW, zh-HK, zh-Hant) is not Simplified: None."""
    if not code:
        return None
    tag = code.strip().lower().replace("_", "-")
    base, _, rest = tag.partition("-")
    if base == "zh":
        return None if rest.split("-")[0] in ("tw", "hk", "mo", "hant") else "zh"
    return base if base in SUPPORTED else None
