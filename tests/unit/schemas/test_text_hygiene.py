"""The shared text rules (parley_schemas.text.clean_text) and where they apply:
replies, autoresponder templates and tags refuse the same inputs under the same codes."""

from __future__ import annotations

import unicodedata

import pytest

from parley_gateway.domain import ReplyRejected, WorkflowRejected, WorkflowUpdate, clean_reply_body
from parley_schemas.text import (
    BIDI_CONTROL,
    CONTROL_CHARACTER,
    EMPTY_TEXT,
    TextRejected,
    clean_text,
)
from parley_store.autoresponders import AutoresponderRejected, check_template


def refused(text: str) -> TextRejected:
    with pytest.raises(TextRejected) as error:
        clean_text(text)
    return error.value


@pytest.mark.parametrize(
    "char", ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85"]
)
def test_control_characters_are_refused_and_named(char: str) -> None:
    error = refused(f"Hello{char}world")
    assert error.code == CONTROL_CHARACTER
    assert f"U+{ord(char):04X}" in error.detail
    assert "position 5" in error.detail


def test_tab_newline_and_carriage_return_are_ordinary_text() -> None:
    assert clean_text("Hello\tthere\r\nsecond line") == "Hello\tthere\r\nsecond line"


@pytest.mark.parametrize("code_point", [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
def test_bidi_embeddings_overrides_and_isolates_are_refused(code_point: int) -> None:
    error = refused(f"invoice {chr(code_point)}fdp.exe")
    assert error.code == BIDI_CONTROL
    assert f"U+{code_point:04X}" in error.detail


def test_bidi_marks_that_reorder_nothing_are_accepted() -> None:
    assert clean_text("שלום\u200f 42") == "שלום\u200f 42"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\u200b", "\u200b\u200b \n", "\ufeff\u2060", "\u3164", "\u2800\u00a0", "\u0301"],
)
def test_text_with_nothing_visible_is_empty(text: str) -> None:
    assert refused(text).code == EMPTY_TEXT


def test_the_issue_reply_of_an_override_and_a_zero_width_space_is_refused() -> None:
    with pytest.raises(ReplyRejected) as error:
        clean_reply_body("\u202e\u200b")
    assert (error.value.field, error.value.code) == ("body", BIDI_CONTROL)
    with pytest.raises(ReplyRejected) as nul:
        clean_reply_body("Thanks\x00")
    assert nul.value.code == CONTROL_CHARACTER


def test_accepted_text_is_nfc_and_trimmed() -> None:
    decomposed = "Re\u0301clamation  "  # "Réclamation" with a combining accent
    cleaned = clean_text(decomposed)
    assert cleaned == "R\u00e9clamation"
    assert unicodedata.is_normalized("NFC", cleaned)
    assert clean_reply_body(decomposed) == "R\u00e9clamation"
    assert check_template(decomposed) == "R\u00e9clamation"


def test_visible_text_among_invisible_characters_is_kept_as_written() -> None:
    assert clean_text("\u200bok\u200b") == "\u200bok\u200b"


@pytest.mark.parametrize(
    ("template", "code"),
    [
        ("Bonjour\x00", CONTROL_CHARACTER),
        ("Bonjour \u202e", BIDI_CONTROL),
        ("\u200b", "empty_template"),
    ],
)
def test_templates_follow_the_same_rules(template: str, code: str) -> None:
    with pytest.raises(AutoresponderRejected) as error:
        check_template(template)
    assert (error.value.field, error.value.code) == ("template", code)


@pytest.mark.parametrize(
    ("tag", "code"),
    [("vip\x00", CONTROL_CHARACTER), ("\u2066vip", BIDI_CONTROL), ("\u200b", EMPTY_TEXT)],
)
def test_tags_name_the_text_rule_they_break(tag: str, code: str) -> None:
    with pytest.raises(WorkflowRejected) as error:
        WorkflowUpdate.of(tags=["ok", tag])
    assert (error.value.field, error.value.code) == ("tags/1", code)


def test_tags_are_normalised_before_they_are_deduplicated() -> None:
    assert WorkflowUpdate.of(tags=[" VIP", "vi\u0070"]).tags == ("vip",)
