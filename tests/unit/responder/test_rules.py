"""Marketplace rules checked before any reply leaves Parley."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parley_connectors.reply_rules import RuleViolation, check_reply
from parley_connectors.writing import WriterDeps
from parley_responder.bootstrap import writers
from parley_schemas import ParticipantRole, ReplyCommand
from parley_schemas.text import contains_html


def command(body: str, recipients: list[ParticipantRole] | None = None) -> ReplyCommand:
    return ReplyCommand(
        command_id="cmd-00000001",
        discussion_id="d",
        store_id="s",
        marketplace="carrefour",
        thread_id="t",
        body=body,
        recipients=recipients or [ParticipantRole.CUSTOMER],
        requested_by="test",
        requested_at=datetime.now(UTC),
    )


@pytest.mark.parametrize("text", ["<p>Hi</p>", "Hi<br>there", "<a href='x'>l</a>", "x <!-- y -->"])
def test_html_is_detected(text: str) -> None:
    assert contains_html(text)


@pytest.mark.parametrize("text", ["a < b", "I <3 it", "5 > 3", "price: <10 EUR", "Merci !"])
def test_plain_text_with_angle_brackets_is_not_html(text: str) -> None:
    assert not contains_html(text)


def test_html_reply_is_refused_with_a_clear_reason() -> None:
    with pytest.raises(RuleViolation, match="plain text"):
        check_reply(command("<b>Bonjour</b>"), "mirakl")


def test_recipient_the_marketplace_does_not_accept_is_refused() -> None:
    with pytest.raises(RuleViolation, match="merchant"):
        check_reply(command("Bonjour", [ParticipantRole.MERCHANT]), "mirakl")


def test_unknown_family_is_refused() -> None:
    with pytest.raises(RuleViolation, match="not supported"):
        check_reply(command("Bonjour"), "pigeon-post")


def test_valid_reply_to_customer_and_operator_passes() -> None:
    check_reply(command("Bonjour", [ParticipantRole.CUSTOMER, ParticipantRole.OPERATOR]), "mirakl")


def test_a_writer_missing_what_it_needs_stops_the_responder_naming_its_family() -> None:
    with pytest.raises(ValueError, match="email_relay writer needs a thread reader"):
        writers(WriterDeps())
