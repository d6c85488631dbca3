"""Autoresponders (F19): what a store answers a buyer's first message with, automatically.

One setting per store, marketplace and channel (Allegro's Message Center and its
post-purchase discussions are answered separately). This module is the pure domain
both the gateway (which edits settings) and the responder (which sends) rely on, so
neither imports the other: the settings model, the default texts in the
marketplace's language, the template rules, the rendering and the shop's
notification copy. No I/O here; :mod:`parley_store.autoresponder_store` persists it.

Template rules, checked at save time so a broken text never reaches a buyer:

- placeholders are ``{buyer_name}``, ``{order_id}``, ``{marketplace}``, ``{shop_name}``;
  any other name, a positional ``{}``, attribute/index access or a format spec is
  refused with an error naming the placeholder (``{{`` and ``}}`` write literal braces);
- plain text only: marketplaces show replies as text, so HTML is refused (the same
  tokenizer as replies, :func:`parley_schemas.text.contains_html`).

A value the thread does not know (a pre-sale question has no order; some marketplaces
hide the buyer's name) renders as a neutral word in the template's language rather
than an empty hole ("Bonjour Madame, Monsieur," instead of "Bonjour ,").
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from pydantic import BaseModel, ConfigDict, Field

from parley_connectors.registry import buyer_language, display_name
from parley_schemas.text import EMPTY_TEXT, TextRejected, clean_text, contains_html

AUTORESPONDERS = "autoresponders"

PLACEHOLDERS: tuple[str, ...] = ("buyer_name", "order_id", "marketplace", "shop_name")
MAX_TEMPLATE_CHARS = 5_000
MAX_NAME_CHARS = 120
MAX_ADDRESS_CHARS = 254
AUTORESPONDER_REQUESTER = "autoresponder"  # ReplyCommand.requested_by of autoresponses

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
# What a store, marketplace or channel id may look like in a key; the gateway's routes
# declare the same pattern, so OpenAPI tells clients before they are refused.
KEY_SEGMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_SEGMENT = re.compile(KEY_SEGMENT_PATTERN)


class AutoresponderRejected(ValueError):
    """A setting that cannot be saved; ``field`` names the offending input."""

    def __init__(self, field: str, detail: str, code: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail
        self.code = code


# --- languages and default texts -----------------------------------------------------

FALLBACK_LANGUAGE = "en"

DEFAULT_TEMPLATES: Mapping[str, str] = {
    "fr": (
        "Bonjour {buyer_name},\n\n"
        "Merci pour votre message, nous l'avons bien reçu. Nous vous répondrons dans les "
        "meilleurs délais, au plus tard sous un jour ouvré.\n\n"
        "Cordialement,\n{shop_name}"
    ),
    "en": (
        "Hello {buyer_name},\n\n"
        "Thank you for your message, we have received it. We will get back to you as soon "
        "as possible, within one business day at the latest.\n\n"
        "Kind regards,\n{shop_name}"
    ),
    "pl": (
        "Dzień dobry {buyer_name},\n\n"
        "dziękujemy za wiadomość, otrzymaliśmy ją. Odpowiemy najszybciej, jak to możliwe, "
        "najpóźniej w ciągu jednego dnia roboczego.\n\n"
        "Pozdrawiamy,\n{shop_name}"
    ),
    "de": (
        "Hallo {buyer_name},\n\n"
        "vielen Dank für Ihre Nachricht, wir haben sie erhalten. Wir melden uns so schnell "
        "wie möglich, spätestens innerhalb eines Werktages.\n\n"
        "Mit freundlichen Grüßen\n{shop_name}"
    ),
    "es": (
        "Hola, {buyer_name}:\n\n"
        "Gracias por su mensaje, lo hemos recibido. Le responderemos lo antes posible, "
        "como máximo en un día laborable.\n\n"
        "Un saludo,\n{shop_name}"
    ),
    "pt": (
        "Olá {buyer_name},\n\n"
        "Obrigado pela sua mensagem, recebemo-la. Responderemos o mais rapidamente "
        "possível, no máximo num dia útil.\n\n"
        "Com os melhores cumprimentos,\n{shop_name}"
    ),
    "it": (
        "Buongiorno {buyer_name},\n\n"
        "grazie per il suo messaggio, lo abbiamo ricevuto. Le risponderemo il prima "
        "possibile, al più tardi entro un giorno lavorativo.\n\n"
        "Cordiali saluti,\n{shop_name}"
    ),
}
LANGUAGES: tuple[str, ...] = tuple(DEFAULT_TEMPLATES)

# Neutral words for a value the thread does not carry, per language.
_UNKNOWN_BUYER: Mapping[str, str] = {
    "fr": "Madame, Monsieur",
    "en": "dear customer",
    "pl": "Szanowni Państwo",
    "de": "liebe Kundin, lieber Kunde",
    "es": "estimado cliente",
    "pt": "caro cliente",
    "it": "gentile cliente",
}
_UNKNOWN_ORDER: Mapping[str, str] = {
    "fr": "(non communiquée)",
    "en": "(not given)",
    "pl": "(brak)",
    "de": "(nicht angegeben)",
    "es": "(no indicado)",
    "pt": "(não indicado)",
    "it": "(non indicato)",
}
# Sample values of a test send, so the merchant sees every placeholder filled.
_SAMPLE_BUYER: Mapping[str, str] = {
    "fr": "Camille Martin",
    "en": "Alex Smith",
    "pl": "Jan Kowalski",
    "de": "Max Mustermann",
    "es": "Lucía García",
    "pt": "Ana Silva",
    "it": "Giulia Rossi",
}
SAMPLE_ORDER_ID = "TEST-0001"

# Buyers' language per marketplace: what the marketplace's family declares (its folder
# in parley_connectors; Mirakl's from its operator catalogue); ids carrying a country
# (amazon-de, cdon-se, carrefour-es) take that country's language when it has a
# template; anything else (Amazon .com/.co.uk, CDON, unknown) falls back to English.
_COUNTRY_LANGUAGES: Mapping[str, str] = {
    "fr": "fr",
    "be": "fr",
    "pl": "pl",
    "de": "de",
    "at": "de",
    "es": "es",
    "pt": "pt",
    "it": "it",
    "uk": "en",
    "gb": "en",
    "com": "en",
    "ie": "en",
}


def default_language(marketplace: str) -> str:
    """The language of the marketplace's buyers, among those with a default text."""
    name = marketplace.lower().replace("_", "-")
    base, _, country = name.rpartition("-")
    declared = buyer_language(name)
    if declared is None and base and country in _COUNTRY_LANGUAGES:
        declared = _COUNTRY_LANGUAGES[country]
    if declared is None:
        declared = buyer_language(base or name)
    if declared is not None and declared in DEFAULT_TEMPLATES:
        return declared
    return FALLBACK_LANGUAGE


def default_template(language: str) -> str:
    return DEFAULT_TEMPLATES.get(language, DEFAULT_TEMPLATES[FALLBACK_LANGUAGE])


def marketplace_display_name(marketplace: str) -> str:
    """What ``{marketplace}`` shows: "Amazon" for amazon-de, the id itself when unknown."""
    name = marketplace.lower().replace("_", "-")
    base = name.rpartition("-")[0] if "-" in name else name
    return display_name(name) or display_name(base) or marketplace


# --- the settings --------------------------------------------------------------------


@dataclass(frozen=True)
class AutoresponderKey:
    """Which autoresponder: one per store, marketplace and channel."""

    store_id: str
    marketplace: str
    channel: str

    def __post_init__(self) -> None:
        for field, value in (
            ("store_id", self.store_id),
            ("marketplace", self.marketplace),
            ("channel", self.channel),
        ):
            if not _SEGMENT.match(value):
                raise AutoresponderRejected(
                    field, f"{field} {value!r} is not a valid identifier", "invalid_identifier"
                )

    @property
    def id(self) -> str:
        """The stored document's ``_id``: readable and unique per key."""
        return f"{self.store_id}:{self.marketplace}:{self.channel}"


class AutoresponderSettings(BaseModel):
    """One autoresponder as stored and as the API shows it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    store_id: str
    marketplace: str
    channel: str
    enabled: bool = False
    language: str
    template: str
    sender_name: str | None = Field(
        default=None, description="Who signs the notification mail (e.g. the support team)"
    )
    shop_name: str = Field(description="What {shop_name} shows")
    notify_shop_address: str | None = Field(
        default=None, description="The shop's address: gets a copy of each autoresponse"
    )
    notify_extra_address: str | None = Field(
        default=None, description="An optional second address for the copy"
    )
    updated_at: datetime | None = None
    updated_by: str | None = None

    @property
    def key(self) -> AutoresponderKey:
        return AutoresponderKey(self.store_id, self.marketplace, self.channel)

    @property
    def saved(self) -> bool:
        """False for the defaults shown before the merchant saved anything."""
        return self.updated_at is not None

    @property
    def is_default_text(self) -> bool:
        return self.template == default_template(default_language(self.marketplace))

    @property
    def notify_addresses(self) -> list[str]:
        found = [a for a in (self.notify_shop_address, self.notify_extra_address) if a]
        return list(dict.fromkeys(a.lower() for a in found))


@dataclass(frozen=True)
class AutoresponderChange:
    """A full replacement of the editable fields (PUT); ``None`` takes the default."""

    enabled: bool
    template: str | None = None
    language: str | None = None
    sender_name: str | None = None
    shop_name: str | None = None
    notify_shop_address: str | None = None
    notify_extra_address: str | None = None


def default_settings(key: AutoresponderKey) -> AutoresponderSettings:
    """What a key has before anyone saved it: disabled, the marketplace's default text."""
    language = default_language(key.marketplace)
    return AutoresponderSettings(
        store_id=key.store_id,
        marketplace=key.marketplace,
        channel=key.channel,
        enabled=False,
        language=language,
        template=default_template(language),
        shop_name=key.store_id,
    )


def apply_change(
    key: AutoresponderKey, change: AutoresponderChange, *, at: datetime, by: str
) -> AutoresponderSettings:
    """The settings after ``change``, every field checked; raises AutoresponderRejected."""
    language = (change.language or default_language(key.marketplace)).strip().lower()
    if language not in LANGUAGES:
        raise AutoresponderRejected(
            "language",
            f"language {language!r} has no default text; use one of {', '.join(LANGUAGES)}",
            "unsupported_language",
        )
    template = check_template(
        change.template if change.template is not None else default_template(language)
    )
    shop_address = _address("notify_shop_address", change.notify_shop_address)
    extra_address = _address("notify_extra_address", change.notify_extra_address)
    if change.enabled and shop_address is None:
        raise AutoresponderRejected(
            "notify_shop_address",
            "an enabled autoresponder needs the shop's address for the notification copy",
            "shop_address_required",
        )
    return AutoresponderSettings(
        store_id=key.store_id,
        marketplace=key.marketplace,
        channel=key.channel,
        enabled=change.enabled,
        language=language,
        template=template,
        sender_name=_name("sender_name", change.sender_name),
        shop_name=_name("shop_name", change.shop_name) or key.store_id,
        notify_shop_address=shop_address,
        notify_extra_address=extra_address,
        updated_at=at,
        updated_by=by,
    )


def restore_default(
    current: AutoresponderSettings, *, at: datetime, by: str
) -> AutoresponderSettings:
    """Back to the marketplace's default text and language; the rest is kept."""
    language = default_language(current.marketplace)
    return current.model_copy(
        update={
            "language": language,
            "template": default_template(language),
            "updated_at": at,
            "updated_by": by,
        }
    )


def check_template(text: str) -> str:
    """The template as saved (NFC, outer whitespace trimmed); raises AutoresponderRejected.

    The shared text rules apply first (:func:`parley_schemas.text.clean_text`): no
    control characters but tab/newline/CR, no bidi overrides, something visible.
    """
    try:
        text = clean_text(text, what="the text")
    except TextRejected as exc:
        code = "empty_template" if exc.code == EMPTY_TEXT else exc.code
        raise AutoresponderRejected("template", exc.detail, code) from exc
    if len(text) > MAX_TEMPLATE_CHARS:
        raise AutoresponderRejected(
            "template",
            f"the text has {len(text)} characters; at most {MAX_TEMPLATE_CHARS} are allowed",
            "template_too_long",
        )
    if contains_html(text):
        raise AutoresponderRejected(
            "template",
            "autoresponses must be plain text; HTML markup is not accepted",
            "html_not_accepted",
        )
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise AutoresponderRejected(
            "template",
            f"the text has an unmatched brace ({exc}); write {{{{ and }}}} for literal braces",
            "unbalanced_braces",
        ) from exc
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            shown = "{" + name + "}" if name else "{}"
            raise AutoresponderRejected(
                "template",
                f"unknown placeholder {shown}; the placeholders are {known}",
                "unknown_placeholder",
            )
        if spec or conversion:
            raise AutoresponderRejected(
                "template",
                f"placeholder {{{name}}} takes no format or conversion; write it as {{{name}}}",
                "placeholder_format",
            )
    return text


def _address(field: str, value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > MAX_ADDRESS_CHARS or not _EMAIL.match(value):
        raise AutoresponderRejected(field, f"{value!r} is not an email address", "invalid_email")
    return value


def _name(field: str, value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        value = clean_text(value, what=field)
    except TextRejected as exc:
        raise AutoresponderRejected(field, exc.detail, exc.code) from exc
    if len(value) > MAX_NAME_CHARS:
        raise AutoresponderRejected(
            field, f"{field} has more than {MAX_NAME_CHARS} characters", "name_too_long"
        )
    if "\r" in value or "\n" in value or contains_html(value):
        raise AutoresponderRejected(
            field, f"{field} must be one line of plain text", "invalid_name"
        )
    return value


# --- rendering -----------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateValues:
    """What the placeholders stand for in one thread; ``None`` when the thread has none."""

    buyer_name: str | None = None
    order_id: str | None = None


def render(settings: AutoresponderSettings, values: TemplateValues) -> str:
    """The autoresponse's text for one thread (the template was checked when saved)."""
    language = settings.language
    filled = {
        "buyer_name": (values.buyer_name or "").strip()
        or _UNKNOWN_BUYER.get(language, _UNKNOWN_BUYER[FALLBACK_LANGUAGE]),
        "order_id": (values.order_id or "").strip()
        or _UNKNOWN_ORDER.get(language, _UNKNOWN_ORDER[FALLBACK_LANGUAGE]),
        "marketplace": marketplace_display_name(settings.marketplace),
        "shop_name": settings.shop_name,
    }
    return settings.template.format_map(filled)


def sample_values(language: str) -> TemplateValues:
    """Values of a test send: every placeholder filled with a believable example."""
    return TemplateValues(
        buyer_name=_SAMPLE_BUYER.get(language, _SAMPLE_BUYER[FALLBACK_LANGUAGE]),
        order_id=SAMPLE_ORDER_ID,
    )


# --- the shop's notification copy -----------------------------------------------------


@dataclass(frozen=True)
class NotificationCopy:
    """The mail telling the shop what was answered automatically (or, for a test, what
    would be)."""

    settings: AutoresponderSettings
    text: str
    thread_id: str | None = None
    buyer_name: str | None = None
    outcome: str | None = None  # sent | failed: <why>; None for a test
    test: bool = False

    @property
    def subject(self) -> str:
        where = f"{marketplace_display_name(self.settings.marketplace)} ({self.settings.channel})"
        if self.test:
            return f"[Test] Autoresponse for {where}"
        return f"Autoresponse sent on {where}, thread {self.thread_id}"

    def body(self) -> str:
        s = self.settings
        lines = [
            "This is a test of your autoresponder; nothing was sent to a buyer."
            if self.test
            else f"Parley answered the first message of a buyer automatically "
            f"({self.buyer_name or 'name not given'}).",
            "",
            f"Store: {s.store_id}",
            f"Marketplace: {s.marketplace}",
            f"Channel: {s.channel}",
        ]
        if self.thread_id:
            lines.append(f"Thread: {self.thread_id}")
        if self.outcome:
            lines.append(f"Delivery: {self.outcome}")
        lines += ["", "Text:", "", self.text]
        return "\n".join(lines) + "\n"


def notification_mail(
    copy: NotificationCopy, *, from_address: str, message_id: str, at: datetime
) -> EmailMessage:
    """The copy as a plain-text mail to the shop's address(es).

    ``message_id`` is given by the caller: the responder derives it from the
    autoresponse, so a copy sent again after a crash is recognisably the same mail.
    """
    mail = EmailMessage()
    display = copy.settings.sender_name or copy.settings.shop_name
    mail["From"] = Address(display_name=display, addr_spec=from_address)
    mail["To"] = ", ".join(copy.settings.notify_addresses)
    mail["Subject"] = copy.subject
    mail["Date"] = format_datetime(at)
    mail["Message-ID"] = f"<{message_id}>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this one
    mail.set_content(copy.body())
    return mail


def notification_message_id(command_id: str, domain: str) -> str:
    """Deterministic Message-ID of the copy of one autoresponse."""
    digest = hashlib.sha256(command_id.encode()).hexdigest()[:24]
    return f"autoresponse-{digest}@{domain}"
