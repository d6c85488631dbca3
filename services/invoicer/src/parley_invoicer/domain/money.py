"""Currencies and rounding: the one place that decides how an amount becomes payable.

Amounts are :class:`~decimal.Decimal` end to end, because binary floats cannot hold
0.10 exactly and an invoice that is off by a cent is a wrong invoice. Rounding is
commercial (half up) to the currency's minor unit, which ISO 4217 fixes per currency:
two decimals for EUR or PLN, none for JPY, three for KWD.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def _codes(text: str) -> frozenset[str]:
    """A set of codes written as a whitespace-separated table, the way ISO lists them."""
    return frozenset(text.split())


# Active ISO 4217 currency codes (funds, precious metals and test codes left out: no
# marketplace order is paid in them).
_ISO_4217_CODES = _codes(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD
    BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
    EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA
    MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK
    PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN
    SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV
    WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """
)

# Minor units that differ from the usual two decimals (ISO 4217 "E" column).
_MINOR_UNIT_EXCEPTIONS: dict[str, int] = {
    **dict.fromkeys(_codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"), 0),
    **dict.fromkeys(_codes("BHD IQD JOD KWD LYD OMR TND"), 3),
}


def is_known_currency(code: str) -> bool:
    """Whether ``code`` is an active ISO 4217 code (upper case, as ISO writes them)."""
    return code in _ISO_4217_CODES


def minor_units(currency: str) -> int:
    """How many decimals an amount in ``currency`` is payable in."""
    if not is_known_currency(currency):
        raise ValueError(f"unknown currency code {currency!r}")
    return _MINOR_UNIT_EXCEPTIONS.get(currency, 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` half up to the minor unit of ``currency`` (cents for EUR)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)
