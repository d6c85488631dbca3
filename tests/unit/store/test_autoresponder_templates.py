"""Autoresponder settings as a pure domain: templates, defaults, languages, rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from parley_connectors.mirakl.catalogue import CATALOGUE
from parley_store.autoresponders import (
    DEFAULT_TEMPLATES,
    LANGUAGES,
    PLACEHOLDERS,
    AutoresponderChange,
    AutoresponderKey,
    AutoresponderRejected,
    NotificationCopy,
    TemplateValues,
    apply_change,
    check_template,
    default_language,
    default_settings,
    notification_mail,
    notification_message_id,
    render,
    restore_default,
)

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
KEY = AutoresponderKey("shop-1", "carrefour", "messages")


def rejected(call: object, *args: object, **kwargs: object) -> AutoresponderRejected:
    with pytest.raises(AutoresponderRejected) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


# --- templates ------------------------------------------------------------------------


def test_every_known_placeholder_is_accepted_and_literal_braces_are_kept() -> None:
    text = "Bonjour {buyer_name} ({order_id}) sur {marketplace} — {shop_name} {{ok}}"
    assert check_template(f"  {text}\n") == text


@pytest.mark.parametrize(
    ("template", "shown"),
    [
        ("Hello {customer}", "{customer}"),
        ("Hello {}", "{}"),
        ("Hello {0}", "{0}"),
        ("Hello {buyer_name.upper}", "{buyer_name.upper}"),
        ("Hello {order_id[0]}", "{order_id[0]}"),
    ],
)
def test_an_unknown_placeholder_is_refused_by_name(template: str, shown: str) -> None:
    error = rejected(check_template, template)
    assert error.code == "unknown_placeholder"
    assert error.field == "template"
    assert shown in error.detail
    assert all("{" + p + "}" in error.detail for p in PLACEHOLDERS)


def test_a_format_spec_or_conversion_is_refused() -> None:
    assert rejected(check_template, "Order {order_id:>10}").code == "placeholder_format"
    assert rejected(check_template, "Order {order_id!r}").code == "placeholder_format"


def test_an_unmatched_brace_is_refused_with_the_escape_hint() -> None:
    error = rejected(check_template, "Hello {buyer_name")
    assert error.code == "unbalanced_braces"
    assert "{{" in error.detail


@pytest.mark.parametrize(
    "html", ["<p>Bonjour</p>", "Bonjour<br>merci", "<!-- x --> hi", "<b>{shop_name}</b>"]
)
def test_html_is_refused(html: str) -> None:
    assert rejected(check_template, html).code == "html_not_accepted"


def test_text_that_only_looks_like_markup_is_plain_text() -> None:
    assert check_template("Prix < 5 € et note > 3 <3") == "Prix < 5 € et note > 3 <3"


def test_empty_and_too_long_texts_are_refused() -> None:
    assert rejected(check_template, "   ").code == "empty_template"
    assert rejected(check_template, "a" * 5001).code == "template_too_long"


# --- defaults and languages -----------------------------------------------------------


@pytest.mark.parametrize(
    ("marketplace", "language"),
    [
        ("carrefour", "fr"),
        ("fnac", "fr"),
        ("darty", "fr"),
        ("decathlon", "fr"),
        ("leroymerlin", "fr"),
        ("conforama", "fr"),
        ("boulanger", "fr"),
        ("rakuten", "fr"),
        ("allegro", "pl"),
        ("empik", "pl"),
        ("mediamarkt", "de"),
        ("worten", "pt"),
        ("carrefour-es", "es"),
        ("amazon-fr", "fr"),
        ("amazon-de", "de"),
        ("amazon_it", "it"),
        ("amazon-com", "en"),
        ("amazon-uk", "en"),
        ("cdon-se", "en"),
        ("cdon", "en"),
        ("some-new-instance", "en"),
    ],
)
def test_default_language_follows_the_marketplace(marketplace: str, language: str) -> None:
    assert default_language(marketplace) == language


def test_every_mirakl_operator_gets_its_catalogue_language_when_a_text_exists() -> None:
    """The catalogue is the reference for Mirakl instances: the table must not drift."""
    for instance in CATALOGUE:
        expected = instance.language if instance.language in LANGUAGES else "en"
        assert default_language(instance.id) == expected, instance.id


def test_every_default_text_is_a_valid_template_with_the_buyer_and_the_shop() -> None:
    for language, text in DEFAULT_TEMPLATES.items():
        assert check_template(text) == text, language
        assert "{buyer_name}" in text and "{shop_name}" in text, language


def test_a_key_never_saved_is_disabled_with_the_marketplace_default_text() -> None:
    settings = default_settings(AutoresponderKey("shop-1", "allegro", "message_center"))
    assert not settings.enabled and not settings.saved
    assert settings.language == "pl"
    assert settings.template == DEFAULT_TEMPLATES["pl"]
    assert settings.is_default_text
    assert settings.shop_name == "shop-1"


def test_a_key_refuses_identifiers_that_are_not_segments() -> None:
    assert rejected(AutoresponderKey, "shop 1", "carrefour", "messages").field == "store_id"
    assert rejected(AutoresponderKey, "shop-1", "carrefour", "a/b").field == "channel"


# --- saving ---------------------------------------------------------------------------


def change(**fields: object) -> AutoresponderChange:
    base: dict[str, object] = {"enabled": True, "notify_shop_address": "shop@example.com"}
    return AutoresponderChange(**{**base, **fields})  # type: ignore[arg-type]


def test_a_change_is_saved_whole_with_who_and_when() -> None:
    saved = apply_change(
        KEY,
        change(
            template="Merci {buyer_name} !",
            sender_name="Service client",
            shop_name="La Boutique",
            notify_extra_address="boss@example.com",
        ),
        at=NOW,
        by="acc_1",
    )
    assert saved.enabled and saved.saved and not saved.is_default_text
    assert saved.language == "fr"
    assert saved.template == "Merci {buyer_name} !"
    assert saved.notify_addresses == ["shop@example.com", "boss@example.com"]
    assert (saved.updated_at, saved.updated_by) == (NOW, "acc_1")


def test_omitted_text_takes_the_default_of_the_chosen_language() -> None:
    saved = apply_change(KEY, change(language="de"), at=NOW, by="a")
    assert saved.template == DEFAULT_TEMPLATES["de"]


def test_enabling_needs_the_shop_address_and_addresses_must_be_addresses() -> None:
    error = rejected(apply_change, KEY, change(notify_shop_address=None), at=NOW, by="a")
    assert (error.field, error.code) == ("notify_shop_address", "shop_address_required")
    error = rejected(
        apply_change, KEY, change(notify_extra_address="not-an-address"), at=NOW, by="a"
    )
    assert (error.field, error.code) == ("notify_extra_address", "invalid_email")
    header_injection = "shop@example.com\r\nBcc: x@evil.test"
    error = rejected(
        apply_change, KEY, change(notify_shop_address=header_injection), at=NOW, by="a"
    )
    assert error.code == "invalid_email"
    # Disabled, no address is fine: the merchant may prepare the text first.
    assert not apply_change(
        KEY, change(enabled=False, notify_shop_address=None), at=NOW, by="a"
    ).enabled


def test_unsupported_language_and_multi_line_names_are_refused() -> None:
    assert rejected(apply_change, KEY, change(language="xx"), at=NOW, by="a").code == (
        "unsupported_language"
    )
    error = rejected(apply_change, KEY, change(shop_name="Shop\nBcc: x"), at=NOW, by="a")
    assert (error.field, error.code) == ("shop_name", "invalid_name")


def test_restore_default_puts_back_the_marketplace_text_and_keeps_the_rest() -> None:
    edited = apply_change(
        KEY, change(template="Hi {buyer_name}", language="en", shop_name="Shop"), at=NOW, by="a"
    )
    restored = restore_default(edited, at=NOW, by="b")
    assert restored.template == DEFAULT_TEMPLATES["fr"] and restored.language == "fr"
    assert restored.is_default_text
    assert restored.enabled and restored.shop_name == "Shop"
    assert restored.notify_shop_address == "shop@example.com"
    assert restored.updated_by == "b"


# --- rendering and the copy -----------------------------------------------------------


def test_render_fills_every_placeholder() -> None:
    settings = apply_change(
        KEY,
        change(
            template="{buyer_name}|{order_id}|{marketplace}|{shop_name}|{{x}}", shop_name="Shop"
        ),
        at=NOW,
        by="a",
    )
    text = render(settings, TemplateValues(buyer_name="Ana", order_id="O-1"))
    assert text == "Ana|O-1|Carrefour|Shop|{x}"


def test_render_uses_neutral_words_in_the_text_language_for_unknown_values() -> None:
    settings = apply_change(KEY, change(), at=NOW, by="a")
    text = render(settings, TemplateValues(buyer_name=None, order_id=None))
    assert text.startswith("Bonjour Madame, Monsieur,")
    assert "{" not in text


def test_notification_mail_is_plain_text_to_every_address_with_the_given_id() -> None:
    settings = apply_change(
        KEY,
        change(sender_name="Équipe Boutique", notify_extra_address="boss@example.com"),
        at=NOW,
        by="a",
    )
    copy = NotificationCopy(
        settings, "Bonjour Ana", thread_id="T-9", buyer_name="Ana", outcome="sent"
    )
    message_id = notification_message_id("auto-123", "parley.test")
    assert message_id == notification_message_id("auto-123", "parley.test")
    mail = notification_mail(copy, from_address="bot@parley.test", message_id=message_id, at=NOW)
    parsed = message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == f"<{message_id}>"
    assert parsed["To"] == "shop@example.com, boss@example.com"
    assert parsed["From"].addresses[0].display_name == "Équipe Boutique"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert "T-9" in parsed["Subject"]
    body = parsed.get_body(("plain",))
    assert body is not None and parsed.get_content_type() == "text/plain"
    content = body.get_content()
    assert "Bonjour Ana" in content and "Delivery: sent" in content
