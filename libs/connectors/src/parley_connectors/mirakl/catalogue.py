"""The Mirakl operator instances Parley knows: one client, many operator platforms.

Every Mirakl-run marketplace (Carrefour, Decathlon, Empik …) is the same seller API on
its own host, with its own rules. An instance is therefore configuration, not code:
where its API lives, which language its buyers write in (the default language of
autoresponder templates), and what its messaging accepts. Connections name an
instance by its ``id`` (``--marketplace`` of ``add-connection``); the responder looks
the id up to apply the instance's own limits on top of the family's.

What is relied on, and where it comes from:

- Mirakl's seller API documentation (developer.mirakl.com, "Messages", M12) says a
  reply carries ``files`` in a multipart form, at most 50 attachments across all
  threads of one entity (e.g. one order), and at most 1000 messages per thread. It
  gives no maximum body length, no maximum file size and no list of file types, and
  its server is "your Mirakl instance URL": each operator publishes its own host.
- Operators rarely publish their API host. Where public integration code was found
  calling the seller API on a host (``/api/orders``, ``/api/offers`` …), the host is
  recorded with :attr:`UrlStatus.OBSERVED`; it still wants confirming against the
  operator's onboarding pack. Where nothing trustworthy was found ``base_url`` is
  ``None`` and the connection must be given ``--base-url`` explicitly.
- Fnac and Darty: Fnac's Mirakl platform is its catalogue portal only (product
  creation); offers, orders and buyer messages go through the Fnac marketplace API.
  Darty's Mirakl back office was replaced by the Fnac Darty back office on
  22 May 2023. Their messages therefore travel through Parley's ``fnac`` family
  (:attr:`OperatorInstance.messaging_family`), not through Mirakl M10 to M13.

Assumptions, where nothing was found (each is listed in the instance's
``capabilities.assumed``, so a caller can tell a fact from a guess):

- No body limit is published: 10 000 characters, Parley's own bound on a reply.
- No file size limit is published: 5 MB per message, a deliberately low bound (half
  of EmpikPlace's whole-conversation allowance); larger files go as download links
  (F18). The per-conversation total is unknown (``None``) except on EmpikPlace
  (10 MB per conversation, from Parley's product brief, F18).
- No list of file types is published: PDF, JPEG and PNG only (invoices and photos,
  what sellers and buyers exchange); anything else should go as a download link.
- Replies are plain text: M12's ``body`` is a bare string and Parley refuses HTML
  everywhere (F12).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from enum import StrEnum

MB = 1_000_000  # decimal megabytes: the smaller reading of "10 MB" is the safe one

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # same shape as the sandbox's instance names
_LANGUAGE = re.compile(r"^[a-z]{2}$")  # ISO 639-1
_COUNTRY = re.compile(r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2

MIRAKL_M12_DOC = (
    "https://developer.mirakl.com/content/product/mmp/rest/seller/openapi3/messages/m12.md"
)
OBSERVED_IN_PUBLIC_CODE = (
    "public integration code on GitHub (code search) calling the seller API on this host"
)

CONSERVATIVE_ATTACHMENT_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})


class UrlStatus(StrEnum):
    """How far the production API host can be trusted."""

    DOCUMENTED = "documented"  # published by the operator or by Mirakl
    OBSERVED = "observed"  # used by public integrations; confirm with the onboarding pack
    UNKNOWN = "unknown"  # not found: ``base_url`` is None, pass --base-url


@dataclass(frozen=True)
class Source:
    """One fact about an instance and where it was read."""

    fact: str
    reference: str


@dataclass(frozen=True)
class Capabilities:
    """What an instance's messaging accepts; ``None`` means no limit is known."""

    attachments_accepted: bool = True
    max_attachment_bytes_per_message: int | None = 5 * MB
    max_attachment_bytes_per_conversation: int | None = None
    max_attachments_per_entity: int | None = 50
    allowed_attachment_types: frozenset[str] | None = CONSERVATIVE_ATTACHMENT_TYPES
    plain_text_only: bool = True
    max_body_length: int = 10_000
    assumed: frozenset[str] = frozenset()
    """Names of the fields above that are conservative defaults, not sourced facts."""

    def __post_init__(self) -> None:
        names = {f.name for f in fields(self)} - {"assumed"}
        unknown = self.assumed - names
        if unknown:
            raise ValueError(f"assumed names unknown capabilities: {sorted(unknown)}")
        for name in (
            "max_attachment_bytes_per_message",
            "max_attachment_bytes_per_conversation",
            "max_attachments_per_entity",
            "max_body_length",
        ):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        per_message = self.max_attachment_bytes_per_message
        per_conversation = self.max_attachment_bytes_per_conversation
        if per_message and per_conversation and per_message > per_conversation:
            raise ValueError("a message cannot carry more than its whole conversation")


# Every field is a conservative default until a source says otherwise.
_UNSOURCED = frozenset(
    {
        "max_attachment_bytes_per_message",
        "max_attachment_bytes_per_conversation",
        "allowed_attachment_types",
        "plain_text_only",
        "max_body_length",
    }
)
# Attachments and the 50-per-entity cap are Mirakl platform facts (M12).
MIRAKL_DEFAULTS = Capabilities(assumed=_UNSOURCED)
# Operators whose messages do not go through Mirakl: nothing of M12 applies, so every
# capability is a guess, and the safe guess is "no native attachments" (links instead).
NOT_ON_MIRAKL = Capabilities(
    attachments_accepted=False,
    max_attachments_per_entity=None,
    assumed=_UNSOURCED | {"attachments_accepted", "max_attachments_per_entity"},
)


@dataclass(frozen=True)
class OperatorInstance:
    """One Mirakl-run marketplace as a seller connects to it."""

    id: str
    display_name: str
    country: str  # the marketplace's home country (ISO 3166-1 alpha-2)
    language: str  # its buyers' language (ISO 639-1): default autoresponder templates
    base_url: str | None
    base_url_status: UrlStatus
    capabilities: Capabilities = MIRAKL_DEFAULTS
    messaging_family: str = "mirakl"  # the Parley family its messages travel through
    sources: tuple[Source, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"instance id {self.id!r} must be lowercase letters, digits, '-'")
        if not _LANGUAGE.match(self.language):
            raise ValueError(f"{self.id}: language {self.language!r} is not ISO 639-1")
        if not _COUNTRY.match(self.country):
            raise ValueError(f"{self.id}: country {self.country!r} is not ISO 3166-1 alpha-2")
        if (self.base_url is None) != (self.base_url_status is UrlStatus.UNKNOWN):
            raise ValueError(f"{self.id}: a base URL goes with a known status, and only then")
        if self.base_url is not None and (
            not self.base_url.startswith("https://") or self.base_url.endswith("/")
        ):
            raise ValueError(f"{self.id}: base URL must be an https root without trailing /")
        if not self.sources:
            raise ValueError(f"{self.id}: every instance names its sources")

    @property
    def base_url_needs_confirmation(self) -> bool:
        return self.base_url_status is not UrlStatus.DOCUMENTED

    @property
    def messages_through_mirakl(self) -> bool:
        return self.messaging_family == "mirakl"


class UnknownOperatorInstance(LookupError):
    """The id names no instance of the catalogue."""

    def __init__(self, instance_id: str, known: Iterable[str]) -> None:
        self.instance_id = instance_id
        super().__init__(
            f"unknown Mirakl operator instance {instance_id!r}; known: {', '.join(sorted(known))}"
        )

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0])


@dataclass(frozen=True)
class OperatorCatalogue:
    """An immutable set of instances, looked up by id."""

    instances: tuple[OperatorInstance, ...]
    _by_id: dict[str, OperatorInstance] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, OperatorInstance] = {}
        for item in self.instances:
            if item.id in by_id:
                raise ValueError(f"duplicate operator instance id {item.id!r}")
            by_id[item.id] = item
        object.__setattr__(self, "_by_id", by_id)

    def get(self, instance_id: str) -> OperatorInstance:
        found = self._by_id.get(instance_id)
        if found is None:
            raise UnknownOperatorInstance(instance_id, self._by_id)
        return found

    def find(self, instance_id: str) -> OperatorInstance | None:
        return self._by_id.get(instance_id)

    def __contains__(self, instance_id: object) -> bool:
        return instance_id in self._by_id

    def __iter__(self) -> Iterator[OperatorInstance]:
        return iter(self.instances)

    def __len__(self) -> int:
        return len(self.instances)


_M12 = Source(
    "attachments in M12 replies; at most 50 attachments per entity; no body, size or type "
    "limit published",
    MIRAKL_M12_DOC,
)

CATALOGUE = OperatorCatalogue(
    (
        OperatorInstance(
            id="carrefour",
            display_name="Carrefour Marketplace (France)",
            country="FR",
            language="fr",
            # Not found. Carrefour France and Carrefour Spain run separate Mirakl back
            # offices, so the Spanish host below is no guide: take it from the pack.
            base_url=None,
            base_url_status=UrlStatus.UNKNOWN,
            sources=(
                Source(
                    "Carrefour France runs on Mirakl",
                    "https://helpcenter.channable.com/list-advertise/list-on-marketplaces/"
                    "mirakl-marketplaces/setting-up-a-carrefour-france-api",
                ),
                Source(
                    "France and Spain have separate Mirakl back offices",
                    "https://help.beezup.com/en/articles/5685469-carrefour-products-publication",
                ),
                _M12,
            ),
        ),
        OperatorInstance(
            id="carrefour-es",
            display_name="Carrefour Marketplace (España)",
            country="ES",
            language="es",
            base_url="https://carrefoures-prod.mirakl.net",
            base_url_status=UrlStatus.OBSERVED,
            sources=(
                Source(
                    "Carrefour Spain runs on Mirakl",
                    "https://helpcenter.channable.com/hc/en-us/articles/"
                    "360011191379-Setting-up-a-Carrefour-Spain-API",
                ),
                Source("API host (several independent integrations)", OBSERVED_IN_PUBLIC_CODE),
                _M12,
            ),
        ),
        OperatorInstance(
            id="decathlon",
            display_name="Decathlon Marketplace",
            country="FR",
            language="fr",
            base_url="https://marketplace-decathlon-eu.mirakl.net",
            base_url_status=UrlStatus.OBSERVED,
            sources=(
                Source("API host (several independent integrations)", OBSERVED_IN_PUBLIC_CODE),
                _M12,
            ),
            notes="One European platform for several Decathlon countries; the buyer's "
            "language varies by channel, French is the home market.",
        ),
        OperatorInstance(
            id="leroymerlin",
            display_name="Leroy Merlin Marketplace (ADEO)",
            country="FR",
            language="fr",
            base_url="https://adeo-marketplace.mirakl.net",
            base_url_status=UrlStatus.OBSERVED,
            sources=(
                Source(
                    "Leroy Merlin runs on Mirakl",
                    "https://multiply.freshdesk.com/en/support/solutions/articles/"
                    "36000510363-mirakl-marketplaces",
                ),
                # Also seen: leroymerlin-marketplace.mirakl.net (one integration, with
                # FR/ES/PT/IT country codes) and leroymerlin-prod.mirakl.net (a Brazilian
                # integration, a different operator). adeo-marketplace is the host most
                # integrations use, one of them reading messages: confirm with ADEO.
                Source(
                    "API host of Leroy Merlin France (several integrations, one reading "
                    "buyer messages)",
                    OBSERVED_IN_PUBLIC_CODE,
                ),
                _M12,
            ),
        ),
        OperatorInstance(
            id="empik",
            display_name="EmpikPlace",
            country="PL",
            language="pl",
            base_url="https://marketplace.empik.com",
            base_url_status=UrlStatus.OBSERVED,
            capabilities=Capabilities(
                max_attachment_bytes_per_conversation=10 * MB,
                assumed=_UNSOURCED - {"max_attachment_bytes_per_conversation"},
            ),
            sources=(
                Source(
                    "seller API with buyer messages, shop API key in a header",
                    "https://www.pomoc.empikplace.com/portal/pl/kb/articles/developer-portal",
                ),
                Source("API host (several independent integrations)", OBSERVED_IN_PUBLIC_CODE),
                Source(
                    "attachments limited to 10 MB per conversation",
                    "Parley product brief (DESIGN F18 and the Mirakl issue); not found in "
                    "Empik's public pages",
                ),
                _M12,
            ),
        ),
        OperatorInstance(
            id="darty",
            display_name="Darty Marketplace",
            country="FR",
            language="fr",
            base_url=None,
            base_url_status=UrlStatus.UNKNOWN,
            messaging_family="fnac",
            capabilities=NOT_ON_MIRAKL,
            sources=(
                Source(
                    "Darty's Mirakl back office replaced by the Fnac Darty back office",
                    "https://fnacdartymarketplace.com/en/faqbomp/",
                ),
                Source(
                    "offers and orders moved to the Fnac Darty back office on 22 May 2023",
                    "https://helpcenter.channable.com/hc/en-us/articles/10440939819282",
                ),
            ),
            notes="Messages now go through the Fnac marketplace API: connect with --family fnac.",
        ),
        OperatorInstance(
            id="fnac",
            display_name="Fnac Marketplace",
            country="FR",
            language="fr",
            base_url=None,
            base_url_status=UrlStatus.UNKNOWN,
            messaging_family="fnac",
            capabilities=NOT_ON_MIRAKL,
            sources=(
                Source(
                    "Fnac's Mirakl platform is its catalogue portal (product creation)",
                    "https://fnacdartymarketplace.com/en/faqbomp/",
                ),
                Source(
                    "buyer messages through the Fnac marketplace API (Messages Query/Update)",
                    "https://fnacdartymarketplace.com/en/our-features/",
                ),
            ),
            notes="Mirakl serves Fnac's catalogue only; messages go through the Fnac "
            "marketplace API: connect with --family fnac.",
        ),
        OperatorInstance(
            id="conforama",
            display_name="Conforama Marketplace",
            country="FR",
            language="fr",
            base_url=None,  # not found in public material
            base_url_status=UrlStatus.UNKNOWN,
            sources=(
                Source(
                    "Conforama runs on Mirakl",
                    "https://help.lengow.com/hc/en-us/articles/360012235771-Conforama-Mirakl",
                ),
                _M12,
            ),
        ),
        OperatorInstance(
            id="boulanger",
            display_name="Boulanger Marketplace",
            country="FR",
            language="fr",
            # One public integration links orders in a back office at
            # merchant.boulanger.com; a single sighting of the UI is not an API host.
            base_url=None,
            base_url_status=UrlStatus.UNKNOWN,
            sources=(
                Source(
                    "Boulanger runs on Mirakl",
                    "https://help.lengow.com/hc/zh-cn/articles/360012238371-Boulanger-Mirakl",
                ),
                _M12,
            ),
        ),
        OperatorInstance(
            id="maisonsdumonde",
            display_name="Maisons du Monde Marketplace",
            country="FR",
            language="fr",
            # Only seen as an example value in one integration's help text
            # (maisonsdumonde-prod.mirakl.net): not enough to rely on.
            base_url=None,
            base_url_status=UrlStatus.UNKNOWN,
            sources=(
                Source(
                    "Maisons du Monde runs on Mirakl (sellers get the Mirakl documentation)",
                    "https://scribd.com/document/726935105/API-GUIDE-Maisons-du-Monde",
                ),
                _M12,
            ),
        ),
        OperatorInstance(
            id="worten",
            display_name="Worten Marketplace",
            country="PT",
            language="pt",
            base_url="https://marketplace.worten.pt",
            base_url_status=UrlStatus.OBSERVED,
            sources=(
                Source(
                    "Worten runs on Mirakl (Portugal and Spain)",
                    "https://help.lengow.com/hc/en-us/articles/360031111972-Worten-Mirakl-",
                ),
                Source("API host (several independent integrations)", OBSERVED_IN_PUBLIC_CODE),
                _M12,
            ),
            notes="One platform for Portugal and Spain (channels WRT_PT_ONLINE, "
            "WRT_ES_ONLINE); Portuguese is the home market.",
        ),
        OperatorInstance(
            id="mediamarkt",
            display_name="MediaMarkt Saturn Marketplace",
            country="DE",
            language="de",
            base_url="https://mediamarktsaturn.mirakl.net",
            base_url_status=UrlStatus.OBSERVED,
            sources=(
                Source(
                    "MediaMarkt Saturn runs on Mirakl",
                    "https://help.beezup.com/en/articles/5796613-media-markt-products-publication",
                ),
                Source(
                    "German-based, German-speaking customer service required",
                    "https://support.channelengine.com/hc/en-us/articles/"
                    "4409485339933-MediaMarkt-Saturn-marketplace-guide",
                ),
                Source("API host (several independent integrations)", OBSERVED_IN_PUBLIC_CODE),
                _M12,
            ),
            notes="One platform for MediaMarkt and Saturn in several countries; Germany "
            "is the home market.",
        ),
    )
)


def instance(instance_id: str) -> OperatorInstance:
    """The instance with this id; :class:`UnknownOperatorInstance` if there is none."""
    return CATALOGUE.get(instance_id)


def find_instance(instance_id: str) -> OperatorInstance | None:
    """The instance with this id, or None (sandbox and unlisted operators)."""
    return CATALOGUE.find(instance_id)


def all_instances() -> tuple[OperatorInstance, ...]:
    return CATALOGUE.instances
