"""Which language an invoice is written in.

Marketplaces hand over the buyer's locale in many spellings (``pl``, ``pl-PL``,
``pl_PL``, ``PL``); an invoice must still come out, so anything we have no
translation for falls back to English rather than failing the request.
"""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    """The languages invoices are translated into."""

    EN = "en"
    FR = "fr"
    ES = "es"
    PL = "pl"
    DE = "de"
    IT = "it"
    NL = "nl"
    SV = "sv"


FALLBACK_LANGUAGE = Language.EN


def invoice_language(locale: str | None) -> Language:
    """The invoice language for a buyer locale such as ``pl-PL``, English when unsupported."""
    if not locale:
        return FALLBACK_LANGUAGE
    primary = locale.strip().replace("_", "-").split("-", 1)[0].lower()
    try:
        return Language(primary)
    except ValueError:
        return FALLBACK_LANGUAGE
