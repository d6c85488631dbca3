"""Numbers, amounts and dates the way each language writes them, from Babel (CLDR).

Amounts carry the ISO currency code where the locale puts its symbol (``1 234,56 PLN``,
``EUR 1.234,56`` in Dutch): symbols are ambiguous across the marketplaces' countries
(kr is SEK, DKK or NOK; $ is anything), codes are not. English is British English: the
marketplaces are European, and ``2 Mar 2026`` reads the same on both sides of the
Atlantic where ``3/2/26`` does not.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from parley_invoicer.domain.language import Language
from parley_invoicer.domain.money import minor_units

_NBSP = "\u00a0"
_BABEL_LOCALES: dict[Language, str] = {Language.EN: "en_GB"}


def babel_locale(language: Language) -> str:
    """The CLDR locale an invoice in ``language`` is formatted with."""
    return _BABEL_LOCALES.get(language, language.value)


@cache
def _code_pattern(locale: str) -> str:
    """The locale's currency pattern with the ISO code (``¤¤``) in place of the symbol,
    kept apart from the digits by a no-break space where the locale glues a symbol on."""
    pattern = str(Locale.parse(locale).currency_formats["standard"].pattern).split(";")[0]
    pattern = pattern.replace("¤", "¤¤")
    if pattern.startswith("¤¤") and not pattern.startswith(f"¤¤{_NBSP}"):
        pattern = f"¤¤{_NBSP}" + pattern[2:]
    if pattern.endswith("¤¤") and not pattern.endswith(f"{_NBSP}¤¤"):
        pattern = pattern[:-2].rstrip() + f"{_NBSP}¤¤"
    return pattern


class Formatter:
    """Formats the figures of one invoice: its language and its currency."""

    def __init__(self, language: Language, currency: str) -> None:
        self._locale = babel_locale(language)
        self._currency = currency
        self._minor_units = minor_units(currency)

    def money(self, amount: Decimal) -> str:
        """An amount with its currency code, at least to the minor unit (unit prices may
        carry more decimals than the currency: they are shown, not rounded away)."""
        places = max(self._minor_units, _decimals(amount))
        text: str = format_currency(
            amount.quantize(Decimal(1).scaleb(-places)),
            self._currency,
            format=_code_pattern(self._locale),
            locale=self._locale,
            currency_digits=False,
            decimal_quantization=False,
        )
        if places == 0:  # the pattern asks for two decimals; a yen has none
            text = _drop_decimals(text, self._locale)
        return text

    def quantity(self, quantity: Decimal) -> str:
        return str(format_decimal(quantity.normalize(), locale=self._locale))

    def rate(self, rate: Decimal) -> str:
        return str(format_percent(rate / 100, locale=self._locale, decimal_quantization=False))

    def date(self, value: date) -> str:
        return str(format_date(value, "medium", locale=self._locale))


def _drop_decimals(text: str, locale: str) -> str:
    """``1,101.00 JPY`` → ``1,101 JPY``: the pattern's two decimals removed."""
    decimal = Locale.parse(locale).number_symbols["latn"]["decimal"]
    head, sep, tail = text.rpartition(decimal + "00")
    return head + tail if sep else text


def _decimals(value: Decimal) -> int:
    """Significant decimals: 1.500 → 1, 20 → 0."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
