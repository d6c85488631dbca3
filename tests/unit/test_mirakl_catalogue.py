"""The Mirakl operator catalogue: every operator the issue names, sane and sourced."""

from __future__ import annotations

import dataclasses

import pytest

from parley_connectors.mirakl.catalogue import (
    CATALOGUE,
    MB,
    Capabilities,
    OperatorCatalogue,
    OperatorInstance,
    Source,
    UnknownOperatorInstance,
    UrlStatus,
    all_instances,
    find_instance,
    instance,
)

REQUIRED = {
    "carrefour",
    "decathlon",
    "leroymerlin",
    "empik",
    "darty",
    "fnac",
    "conforama",
    "boulanger",
    "maisonsdumonde",
    "worten",
}


def test_every_operator_the_issue_names_is_catalogued() -> None:
    assert {i.id for i in all_instances()} >= REQUIRED


def test_a_german_operator_is_catalogued() -> None:
    german = [i for i in all_instances() if i.language == "de"]

    assert german and all(i.country == "DE" for i in german)
    assert german[0].messages_through_mirakl


def test_ids_are_unique() -> None:
    ids = [i.id for i in all_instances()]

    assert len(ids) == len(set(ids)) == len(CATALOGUE)


def test_a_catalogue_refuses_duplicate_ids() -> None:
    carrefour = instance("carrefour")

    with pytest.raises(ValueError, match="duplicate"):
        OperatorCatalogue((carrefour, carrefour))


def test_empikplace_allows_10_mb_of_attachments_per_conversation() -> None:
    empik = instance("empik")

    assert empik.capabilities.max_attachment_bytes_per_conversation == 10 * MB == 10_000_000
    assert "max_attachment_bytes_per_conversation" not in empik.capabilities.assumed
    assert empik.language == "pl" and empik.country == "PL"


def test_unknown_id_raises_a_clear_error() -> None:
    with pytest.raises(UnknownOperatorInstance) as raised:
        instance("amazon")

    message = str(raised.value)
    assert "'amazon'" in message and "carrefour" in message and "empik" in message
    assert isinstance(raised.value, LookupError)
    assert find_instance("amazon") is None
    assert "amazon" not in CATALOGUE and "empik" in CATALOGUE


@pytest.mark.parametrize("item", all_instances(), ids=lambda i: i.id)
def test_capabilities_are_sane(item: OperatorInstance) -> None:
    caps = item.capabilities

    assert 0 < caps.max_body_length <= 10_000  # never above what a ReplyCommand can hold
    assert caps.plain_text_only  # Parley sends plain text everywhere (F12)
    if caps.attachments_accepted and item.messages_through_mirakl:
        assert caps.max_attachments_per_entity == 50  # Mirakl M12
        assert caps.max_attachment_bytes_per_message is not None
    per_message = caps.max_attachment_bytes_per_message
    per_conversation = caps.max_attachment_bytes_per_conversation
    if per_message and per_conversation:
        assert per_message <= per_conversation
    assert caps.assumed <= {f.name for f in dataclasses.fields(Capabilities)}
    for kind in caps.allowed_attachment_types or ():
        assert "/" in kind


@pytest.mark.parametrize("item", all_instances(), ids=lambda i: i.id)
def test_every_entry_says_where_its_facts_come_from(item: OperatorInstance) -> None:
    assert item.sources
    assert all(s.fact and s.reference for s in item.sources)
    assert item.display_name and item.language.islower() and item.country.isupper()


@pytest.mark.parametrize("item", all_instances(), ids=lambda i: i.id)
def test_base_url_is_an_api_root_or_openly_unknown(item: OperatorInstance) -> None:
    if item.base_url is None:
        assert item.base_url_status is UrlStatus.UNKNOWN
    else:
        assert item.base_url.startswith("https://") and not item.base_url.endswith("/api")
        assert item.base_url_status is not UrlStatus.UNKNOWN
    # Nothing in the catalogue is published by the operators themselves yet.
    assert item.base_url_needs_confirmation


def test_operators_whose_messages_left_mirakl_point_to_their_family() -> None:
    for operator_id in ("fnac", "darty"):
        operator = instance(operator_id)
        assert operator.messaging_family == "fnac"
        assert not operator.messages_through_mirakl
        assert operator.base_url is None


def test_unsourced_capabilities_are_marked_assumed() -> None:
    decathlon = instance("decathlon")

    assert {"max_body_length", "max_attachment_bytes_per_message"} <= decathlon.capabilities.assumed
    assert "attachments_accepted" not in decathlon.capabilities.assumed  # M12 documents files


def test_instances_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        instance("worten").base_url = "https://example.com"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"id": "Carrefour"}, "lowercase"),
        ({"language": "DE"}, "ISO 639-1"),
        ({"country": "de"}, "ISO 3166"),
        ({"base_url": "http://x.mirakl.net"}, "https"),
        ({"base_url": None}, "status"),
        ({"sources": ()}, "sources"),
    ],
)
def test_bad_entries_are_refused(changes: dict[str, object], error: str) -> None:
    fields = {
        "id": "example",
        "display_name": "Example",
        "country": "DE",
        "language": "de",
        "base_url": "https://example.mirakl.net",
        "base_url_status": UrlStatus.OBSERVED,
        "sources": (Source("a fact", "a reference"),),
    } | changes

    with pytest.raises(ValueError, match=error):
        OperatorInstance(**fields)  # type: ignore[arg-type]


def test_capabilities_refuse_unknown_assumptions_and_inconsistent_limits() -> None:
    with pytest.raises(ValueError, match="unknown"):
        Capabilities(assumed=frozenset({"colour"}))
    with pytest.raises(ValueError, match="positive"):
        Capabilities(max_body_length=0)
    with pytest.raises(ValueError, match="whole conversation"):
        Capabilities(
            max_attachment_bytes_per_message=20 * MB, max_attachment_bytes_per_conversation=10 * MB
        )
