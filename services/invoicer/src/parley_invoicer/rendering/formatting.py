"""Numbers and dates the way each language writes them.

Hand-written rather than Babel/CLDR: five languages, one style each, and no locale
data to install in the image. The ISO currency code follows the amount (``1 234,56
PLN``) rather than a symbol, because symbols are ambiguous across the marketplaces'
countries (kr, $) while codes are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from parley_invoicer.domain.language import Language
from parley_invoicer.domain.money import minor_units

_NBSP = "\u00a0"
_NARROW_NBSP = "\u202f"
_ENGLISH_MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


@dataclass(frozen=True)
class _Style:
    decimal_separator: str
    group_separator: str
    date_format: str
    percent_spacing: str


_STYLES: dict[Language, _Style] = {
    Language.EN: _Style(".", ",", "{day} {month_abbr} {year}", ""),
    Language.FR: _Style(",", _NARROW_NBSP, "{day:02d}/{month:02d}/{year}", _NBSP),
    Language.ES: _Style(",", ".", "{day:02d}/{month:02d}/{year}", _NBSP),
    Language.PL: _Style(",", _NBSP, "{day:02d}.{month:02d}.{year}", _NBSP),
    Language.DE: _Style(",", ".", "{day:02d}.{month:02d}.{year}", _NBSP),
}


class Formatter:
    """Formats the figures of one invoice: its language and its currency."""

    def __init__(self, language: Language, currency: str) -> None:
        self._style = _STYLES[language]
        self._currency = currency
        self._minor_units = minor_units(currency)

    def money(self, amount: Decimal) -> str:
        """An amount with its currency code, at least to the minor unit (unit prices may
        carry more decimals than the currency: they are shown, not rounded away)."""
        places = max(self._minor_units, _decimals(amount))
        return f"{self._number(amount, places)}{_NBSP}{self._currency}"

    def quantity(self, quantity: Decimal) -> str:
        return self._number(quantity, _decimals(quantity))

    def rate(self, rate: Decimal) -> str:
        return f"{self._number(rate, _decimals(rate))}{self._style.percent_spacing}%"

    def date(self, value: date) -> str:
        # Not strftime("%b"): that follows the process locale, not the buyer's language.
        return self._style.date_format.format(
            day=value.day,
            month=value.month,
            month_abbr=_ENGLISH_MONTHS[value.month - 1],
            year=value.year,
        )

    def _number(self, value: Decimal, places: int) -> str:
        text = f"{value:,.{places}f}"
        return (
            text.replace(",", "\0")
            .replace(".", self._style.decimal_separator)
            .replace("\0", self._style.group_separator)
        )


def _decimals(value: Decimal) -> int:
    """Significant decimals: 1.500 → 1, 20 → 0."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
