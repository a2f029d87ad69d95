"""The catalogues: bot/locale/<lang>/LC_MESSAGES/liqbot.po, read into `Lang`s.

Compiled here, at first use, from the .po with Babel (read_po, then write_mo into memory): the
.po is the only file, so there is no .mo to forget to rebuild or to go stale, and a wheel
carries what the repository has (package-data: locale/*/LC_MESSAGES/*.po). Reading the five
small catalogues takes a few milliseconds, once per process.

Babel also gives each language's CLDR month names (the dates in alerts and /mute) and its date
order; money stays `$1.23M` in every language (README "Languages": why).
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.domain.i18n import EN, SUPPORTED, Lang

log = logging.getLogger(__name__)

DOMAIN = "liqbot"
LOCALE_DIR = Path(__file__).resolve().parent
_CLDR = {"ru": "ru", "es": "es", "zh": "zh_Hans"}
_DATE_PATTERNS = {"zh": "{y}年{m}月{d}日"}


def po_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalog(code: str) -> gettext.GNUTranslations:
    """The .po of `code` as a gettext translator (compiled in memory)."""
    with po_path(code).open("rb") as f:
        catalog = read_po(f, locale=_CLDR[code], domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)  # fuzzy entries left out, as msgfmt does
    buf.seek(0)
    return gettext.GNUTranslations(buf)


@functools.cache
def get_lang(code: str | None) -> Lang:
    """The Lang of a supported code; English for None, "en" or anything else."""
    if code not in SUPPORTED or code in (None, "en"):
        return EN
    try:
        tr = compile_catalog(code)
    except Exception:  # a broken catalogue must not stop alerts: English rather than none
        log.exception("catalogue %s unreadable; English", code)
        return EN
    months = Locale.parse(_CLDR[code]).months["format"]["abbreviated"]
    return Lang(
        code,
        tr,
        tuple(months[i] for i in range(1, 13)),
        _DATE_PATTERNS.get(code, "{d} {mon} {y}"),
    )
