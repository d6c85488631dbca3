"""Per-instance refinement of the Mirakl rules: an operator may be stricter than its family."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from parley_connectors.mirakl.catalogue import (
    Capabilities,
    OperatorCatalogue,
    OperatorInstance,
    Source,
    UrlStatus,
)
from parley_connectors.mirakl.family import FAMILY as MIRAKL
from parley_connectors.mirakl.family import operator_body_limit
from parley_connectors.reply_rules import RuleViolation, check_reply
from parley_schemas import ParticipantRole, ReplyCommand

STRICT = OperatorCatalogue(
    (
        OperatorInstance(
            id="strictmart",
            display_name="Strictmart",
            country="DE",
            language="de",
            base_url=None,
            base_url_status=UrlStatus.UNKNOWN,
            capabilities=Capabilities(max_body_length=500),
            sources=(Source("a 500-character body limit", "test fixture"),),
        ),
    )
)

MIRAKL_RULES = MIRAKL.rules
assert MIRAKL_RULES is not None
# The Mirakl family's rules, with the strict test catalogue instead of the shipped one.
STRICT_RULES = replace(
    MIRAKL_RULES, instance_body_limit=lambda marketplace: operator_body_limit(marketplace, STRICT)
)


def command(body: str, marketplace: str) -> ReplyCommand:
    return ReplyCommand(
        command_id="cmd-00000001",
        discussion_id="d",
        store_id="s",
        marketplace=marketplace,
        thread_id="t",
        body=body,
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="test",
        requested_at=datetime.now(UTC),
    )


def test_a_catalogued_instance_limit_applies_on_top_of_the_family() -> None:
    check_reply(command("x" * 500, "strictmart"), "mirakl", rules=STRICT_RULES)

    with pytest.raises(RuleViolation, match="501 characters; Strictmart accepts 500"):
        check_reply(command("x" * 501, "strictmart"), "mirakl", rules=STRICT_RULES)


def test_an_instance_outside_the_catalogue_keeps_the_family_limit() -> None:
    family_limit = MIRAKL_RULES.max_body_length

    check_reply(command("x" * family_limit, "sandbox-only"), "mirakl", rules=STRICT_RULES)


def test_the_instance_limit_only_refines_the_mirakl_family() -> None:
    # Same marketplace id on another family: the Mirakl catalogue says nothing about it.
    check_reply(command("x" * 1500, "strictmart"), "allegro")


def test_the_shipped_catalogue_is_consulted_by_default() -> None:
    check_reply(command("Guten Tag, vielen Dank!", "mediamarkt"), "mirakl")
    check_reply(command("x" * MIRAKL_RULES.max_body_length, "empik"), "mirakl")
