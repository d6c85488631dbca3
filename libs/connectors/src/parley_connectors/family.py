"""A marketplace family's descriptor: everything Parley knows of it, declared once.

Each family folder (``parley_connectors/<family>/``) exposes ``FAMILY = Family(...)``
in its ``family`` module; :mod:`parley_connectors.registry` finds them. Services read
a family only through its descriptor: ingest builds readers, the responder writers and
attachment policies, the gateway and the responder check replies against ``rules``,
the normalizer asks ``reply_window``, activation ``credential_fields``,
autoresponders ``languages`` and ``display_names``. So adding a family
is one folder, and a family missing a part fails start-up (:meth:`Family.missing`)
instead of a reply being dead-lettered later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from parley_connectors.reading import ConnectionInfo, Reader, ReaderDeps
from parley_connectors.writing import Writer, WriterDeps
from parley_schemas import InvoiceKind, ParticipantRole

DEFAULT_REPLY_WINDOW = timedelta(hours=48)


@dataclass(frozen=True)
class ReplyRules:
    """What a reply must meet before it may leave Parley (checked by the gateway, and
    by the responder as the last guard: :mod:`parley_connectors.reply_rules`)."""

    allowed_recipients: frozenset[ParticipantRole]
    max_body_length: int
    # A marketplace instance stricter than its family (a Mirakl operator's own body
    # limit): its limit and display name, or None where the family's applies.
    instance_body_limit: Callable[[str], tuple[int, str] | None] | None = None
    # The family files documents on orders (an invoice, besides the message), with
    # these type codes; a kind without a code is not filed.
    order_documents: bool = False
    order_document_types: tuple[tuple[InvoiceKind, str], ...] = ()


@dataclass(frozen=True)
class AttachmentPolicy:
    """What a destination accepts natively; ``None`` means no known limit."""

    native: bool
    set_by: str
    max_file_bytes: int | None = None
    max_message_bytes: int | None = None
    max_conversation_bytes: int | None = None
    allowed_types: frozenset[str] | None = None
    allowed_extensions: frozenset[str] | None = None
    max_files: int | None = None
    why_not_native: str = ""


def text_only(set_by: str) -> Callable[[str, str], AttachmentPolicy]:
    """The attachment policy of a family whose reply call carries text only: every
    file goes as a download link."""
    policy = AttachmentPolicy(
        native=False, set_by=set_by, why_not_native=f"{set_by}'s reply API carries text only"
    )
    return lambda marketplace, thread_id: policy


def fixed_window(window: timedelta = DEFAULT_REPLY_WINDOW) -> Callable[[str], timedelta]:
    """A reply deadline that is the same for every marketplace of the family."""
    return lambda marketplace: window


class NoDefaultBaseUrl(ValueError):
    """The family knows no API root for that marketplace instance: activation must be
    given one (the message says why, and what to pass)."""


@dataclass(frozen=True)
class InstanceUrl:
    """A marketplace instance's API root as the family knows it; ``note`` is something
    the person activating should check (a URL taken from public integrations)."""

    url: str
    note: str | None = None


ReaderFactory = Callable[[ConnectionInfo, ReaderDeps], Reader]
WriterFactory = Callable[[WriterDeps], Writer]


@dataclass(frozen=True)
class Family:
    """One marketplace family. ``marketplaces`` are the marketplace ids (or id
    prefixes, e.g. ``amazon`` for ``amazon-de``) it serves; ``attachments`` gives the
    policy of one destination (marketplace instance, thread id); ``reply_window`` how
    long the shop has to answer a message expecting a reply on a marketplace;
    ``languages`` the buyers' language and ``display_names`` the name shown to them
    (autoresponders' default text and ``{marketplace}``), per marketplace id;
    ``credential_fields`` what activation asks for, and ``base_url`` the API root of
    an instance when activation is given none (None: always given)."""

    name: str
    marketplaces: tuple[str, ...]
    reader: ReaderFactory | None
    writer: WriterFactory | None
    rules: ReplyRules | None
    attachments: Callable[[str, str], AttachmentPolicy] | None
    reply_window: Callable[[str], timedelta] = field(default_factory=fixed_window)
    languages: Mapping[str, str] = field(default_factory=dict)
    display_names: Mapping[str, str] = field(default_factory=dict)
    credential_fields: tuple[str, ...] = ()
    base_url: Callable[[str], InstanceUrl] | None = None

    def missing(self) -> list[str]:
        """The parts a family cannot work without that this descriptor lacks."""
        parts = {
            "reader": self.reader,
            "writer": self.writer,
            "rules": self.rules,
            "attachments": self.attachments,
        }
        absent = [part for part, value in parts.items() if value is None]
        if not self.marketplaces:
            absent.append("marketplaces")
        return absent
