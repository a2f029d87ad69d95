"""Extract every marked string of bot/ with Babel and update the catalogues.

    python scripts/i18n_catalogs.py          # bot/locale/<lang>/LC_MESSAGES/liqbot.po updated:
                                             # new msgids added empty, gone ones dropped
tests/test_i18n.py fails while any msgid has no translation in a catalogue.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.locale import _CLDR, DOMAIN, po_path  # noqa: E402

# lang._("..."), lang.n_("one", "many", n), N_("...") (bot/domain/i18n.py)
KEYWORDS: dict[str, tuple[int, ...] | None] = {"_": None, "n_": (1, 2), "N_": None}


def extract() -> Catalog:
    """Every marked string of bot/ as a template catalogue (msgids, their places)."""
    template = Catalog(domain=DOMAIN)
    method_map = [("**.py", "python")]
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT / "bot", method_map, keywords=KEYWORDS, comment_tags=("i18n:",)
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def update(code: str, template: Catalog) -> Catalog:
    path = po_path(code)
    if path.exists():
        with path.open("rb") as f:
            catalog = read_po(f, locale=_CLDR[code], domain=DOMAIN)
    else:
        catalog = Catalog(locale=_CLDR[code], domain=DOMAIN)
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    return catalog


def main() -> None:
    template = extract()
    for code in _CLDR:
        catalog = update(code, template)
        path = po_path(code)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=100, omit_header=False, sort_output=False)
        missing = sum(1 for m in catalog if m.id and not m.string)
        print(f"{path.relative_to(ROOT)}: {len(catalog)} messages, {missing} untranslated")


if __name__ == "__main__":
    main()
