"""The catalogues cover every marked string: a string added with lang._(...), lang.n_(...) or
N_(...) and no translation in each of bot/locale/<lang>/LC_MESSAGES/liqbot.po fails here (run
scripts/i18n_catalogs.py, then translate the new empty entries)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.domain.i18n import EN, SUPPORTED, match_language
from bot.locale import _CLDR, DOMAIN, compile_catalog, get_lang, po_path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from i18n_catalogs import extract  # noqa: E402

TEMPLATE = extract()
MSGIDS = [m.id for m in TEMPLATE if m.id]
LANGS = [c for c in SUPPORTED if c != "en"]
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalog(code: str):  # type: ignore[no-untyped-def]
    with po_path(code).open("rb") as f:
        return read_po(f, locale=_CLDR[code], domain=DOMAIN)


def test_the_source_marks_the_strings_people_see() -> None:
    """A floor: the alert, /liqs, /help, /status and /lang wording is marked."""
    ids = {m if isinstance(m, str) else m[0] for m in MSGIDS}
    for needle in (
        "Liquidation alert: %(subject)s",
        "Liquidations: %(coin)s",
        "Liquidation alerts: commands",
        "Status",
        "This chat now speaks %(name)s.",
        "Mute 1h",
        "Alert me when liquidations cross an amount",
    ):
        assert needle in ids
    assert len(ids) > 200


@pytest.mark.parametrize("code", LANGS)
def test_every_marked_string_has_a_translation(code: str) -> None:
    catalog = _catalog(code)
    missing = []
    for msgid in MSGIDS:
        m = catalog.get(msgid)
        if m is None or m.fuzzy:
            missing.append(msgid)
            continue
        forms = m.string if isinstance(m.string, tuple) else (m.string,)
        if not all(forms) or (isinstance(msgid, tuple) and len(forms) != catalog.num_plurals):
            missing.append(msgid)
    assert not missing, f"{code}: no translation for {missing[:10]} (scripts/i18n_catalogs.py)"


@pytest.mark.parametrize("code", LANGS)
def test_translations_keep_the_placeholders(code: str) -> None:
    """`%(usd)s` lost or misspelt in a translation would raise (or drop a figure) at render."""
    for m in _catalog(code):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        forms = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set(_PLACEHOLDER.findall(ids[-1])) - {"n"}
        for form in forms:
            assert set(_PLACEHOLDER.findall(form)) - {"n"} == wanted, (code, m.id, form)


@pytest.mark.parametrize("code", LANGS)
def test_catalogues_compile_and_translate(code: str) -> None:
    tr = compile_catalog(code)
    assert tr.gettext("Liquidation alerts") != "Liquidation alerts"
    assert get_lang(code).code == code


def test_client_language_tags() -> None:
    assert match_language("ru") == "ru"
    assert match_language("es-419") == "es"
    assert match_language("zh-hans") == "zh"
    assert match_language("zh-CN") == "zh"
    assert match_language("zh-TW") is None  # Traditional is not Simplified
    assert match_language("en-US") == "en"
    assert match_language("fr") is None
    assert match_language("") is None
    assert get_lang("fr") is EN and get_lang(None) is EN


def test_dates_in_each_language() -> None:
    assert get_lang("ru").date(13, 1, 2026) == "13 янв. 2026"
    assert get_lang("es").date(13, 1, None) == "13 ene"
    assert get_lang("zh").date(13, 1, 2026) == "2026年1月13日"
    assert get_lang("zh").date(13, 1, None) == "1月13日"
    assert EN.date(13, 1, 2026) == "13 Jan 2026"
