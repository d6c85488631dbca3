"""Bad orders and settings are refused with errors that say what to fix."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from parley_invoicer.domain.models import InvoiceRequest, InvoiceSettings

Payload = dict[str, Any]


def errors_of(model: type[InvoiceRequest | InvoiceSettings], payload: Payload) -> list[Any]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(payload)
    return caught.value.errors()


def test_a_negative_quantity_is_refused_on_its_line(order_payload: Payload) -> None:
    order_payload["lines"][0]["quantity"] = "-2"

    [error] = errors_of(InvoiceRequest, order_payload)

    assert error["loc"] == ("lines", 0, "quantity")
    assert error["msg"] == "Input should be greater than 0"


def test_a_zero_quantity_is_refused(order_payload: Payload) -> None:
    order_payload["lines"][0]["quantity"] = 0

    [error] = errors_of(InvoiceRequest, order_payload)

    assert error["type"] == "greater_than"


def test_a_negative_price_or_an_impossible_vat_rate_is_refused(order_payload: Payload) -> None:
    order_payload["lines"][0]["unit_price_excl_vat"] = "-0.01"
    order_payload["lines"][0]["vat_rate"] = "120"

    errors = errors_of(InvoiceRequest, order_payload)

    assert {e["loc"][-1] for e in errors} == {"unit_price_excl_vat", "vat_rate"}


def test_an_unknown_currency_is_named_in_the_error(order_payload: Payload) -> None:
    order_payload["currency"] = "EUX"

    [error] = errors_of(InvoiceRequest, order_payload)

    assert error["type"] == "unknown_currency"
    assert (
        error["msg"] == "unknown currency code 'EUX': expected an ISO 4217 code such as EUR or PLN"
    )


def test_a_lower_case_currency_code_is_accepted_and_normalised(order_payload: Payload) -> None:
    order_payload["currency"] = "pln"

    assert InvoiceRequest.model_validate(order_payload).currency == "PLN"


def test_an_order_without_lines_is_refused(order_payload: Payload) -> None:
    order_payload["lines"] = []

    [error] = errors_of(InvoiceRequest, order_payload)

    assert error["type"] == "no_lines"
    assert error["msg"] == "an invoice needs at least one line"


def test_a_misspelt_field_is_an_error_not_a_silent_default(order_payload: Payload) -> None:
    order_payload["lines"][0]["vat"] = "20"

    errors = errors_of(InvoiceRequest, order_payload)

    assert ("lines", 0, "vat") in [e["loc"] for e in errors]


def test_a_float_price_keeps_its_decimal_value(order_payload: Payload) -> None:
    # JSON clients send numbers; 19.99 must not become 19.989999999999998436805981327779591.
    order_payload["lines"][0]["unit_price_excl_vat"] = 19.99

    order = InvoiceRequest.model_validate(order_payload)

    assert str(order.lines[0].unit_price_excl_vat) == "19.99"


def test_blank_names_are_refused(order_payload: Payload) -> None:
    order_payload["buyer"]["name"] = "   "

    [error] = errors_of(InvoiceRequest, order_payload)

    assert error["loc"] == ("buyer", "name")


@pytest.mark.parametrize("prefix", ["", "FA-2026", "F A", "X" * 17, "FA/"])
def test_a_prefix_unfit_for_numbers_and_filenames_is_refused(
    settings_payload: Payload, prefix: str
) -> None:
    settings_payload["numbering_prefix"] = prefix

    [error] = errors_of(InvoiceSettings, settings_payload)

    assert error["type"] == "numbering_prefix"


@pytest.mark.parametrize("zone", ["Europe/Atlantis", "Europe", "../../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused(settings_payload: Payload, zone: str) -> None:
    settings_payload["time_zone"] = zone

    [error] = errors_of(InvoiceSettings, settings_payload)

    assert error["type"] == "time_zone"
