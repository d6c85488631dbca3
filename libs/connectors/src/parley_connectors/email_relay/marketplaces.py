"""The marketplaces that relay buyer messages by email, and what each one's mail looks like.

Amazon — what Seller Central's public help pages say (Buyer-Seller Messaging,
"Buyer-Seller Messages FAQ", "Contact a buyer", "Messaging permissions"):

- Every buyer gets a unique, anonymised email alias per seller relationship; it can be
  used like a real address and stays the same for all later contact with that buyer.
  Public order data shows the alias as ``<token>@marketplace.amazon.<tld>``
  (``.com``, ``.de``, ``.co.uk``, ``.ca``, ``.com.br`` …), so the sender's domain tells
  Amazon's relay apart from anything else.
- A seller may answer from their own mailbox by writing to that alias; the exchange
  still shows on the Buyer-Seller Messages page.
- Mail to buyers must come from the account's registered Buyer-Seller Messaging address
  or from an address approved on the "Messaging permissions" page (approval is per
  marketplace); anything else is rejected and must be sent again after approval.
- One or more attachments, up to 10 MB in a message, can be sent and received.
- A buyer who opted out of unsolicited messages still gets replies *on the thread the
  buyer started*, so replies must stay on the original thread.
- Messages can be searched by order id; the SP-API Messaging API cannot answer buyer
  messages, which is why this family exists at all.

CDON — what CDON's merchant help centre says: buyers contact the merchant through
"errands" handled in Reclaimit; each new errand is announced by an email from CDON
carrying the errand type, the errand id and the order number(s); new errands must be
answered within 24 hours, active ones within 72 hours. During CDON's migration the
mails may carry two order numbers (a "Quality" and a "Legacy" one); the legacy order
API names orders with an integer ``OrderId`` (e.g. 42277358). The customer's email
address is a hidden field in CDON's order API.

Assumptions where the documentation is silent:

- Amazon's relay mail has a subject such as ``Inquiry from Amazon customer Jane
  (Order: 302-1234567-1234567)``; the order id (three, seven and seven digits) is taken
  from the subject, else from the body. The sender's display name ends in
  `` - Amazon Marketplace`` (or similar), which is dropped to keep the buyer's name.
- The allowed attachment types were not readable from the public page; images
  (jpg, png, gif), PDF, plain text and Word documents are assumed, anything else is
  treated as not sendable natively (F18 then appends a download link).
- CDON relays errand mail from an address in a ``cdon.<tld>`` domain (com, se, dk,
  no, fi, or a subdomain), accepts replies to it by email, and names the order as
  "Order"/"Ordernummer"/"Ordrenummer"/"Tilausnumero"… followed by its number (6 to 12
  digits). CDON publishes no attachment limit for errand mail; Amazon's is assumed.

The relays' own framing around the buyer's text (:func:`unframe`). Neither marketplace
publishes a specification of its mail body; the shapes below come from CDON's merchant
help centre ("Kommunikation med era kunder") and from relayed Amazon mails quoted in
public seller-tooling code and forum posts:

- Amazon wraps the buyer's words in delimiter lines, a label between two runs of
  dashes, localized per marketplace: ``Message:`` … ``End message`` (English),
  ``Anfang der Nachricht`` … ``Ende der Nachricht`` (German), ``Début du message`` …
  ``Fin du message`` (French), ``Finalizar mensaje`` (Spanish end). Before them comes
  a header block: a lead-in ("You have received a message."), the order
  (``Order ID: 302-…`` or ``# 302-…:``), the item (``Item:`` or ``1 / <title>
  [ASIN: B0…]``), ``ASIN``, ``Quantity``; after them a notice that Amazon keeps copies
  of buyer-seller messages, "Was this email helpful?", a copyright line and sometimes a
  ``[commMgrTok:…]`` tracking token.
- CDON's customer service, when it forwards a message, writes its own preamble
  ("Hej, … Kunds meddelande:") and pastes the customer's message after that label;
  errand notifications carry labelled lines (errand type, errand id, order numbers).
  CDON publishes no closing notice, so none is removed.

Only what is recognised is removed: the text between the delimiters when they are
present (text before the opening delimiter that is not a recognised header stays the
buyer's, since it may be their words above a quoted older mail), else a leading
paragraph made only of header lines that names the order or item; and a trailing
notice that starts with a recognised notice line. A body without recognised framing
is returned unchanged, and so is one that would come out empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

MB = 1024 * 1024


class RelayMarketplace(StrEnum):
    AMAZON = "amazon"
    CDON = "cdon"


_AMAZON_DOMAIN = re.compile(r"^marketplace\.amazon\.[a-z]{2,3}(?:\.[a-z]{2})?$")
_CDON_DOMAIN = re.compile(r"^(?:[a-z0-9-]+\.)*cdon\.(?:com|se|dk|no|fi)$")

_AMAZON_ORDER = re.compile(r"(?<![\d-])(\d{3}-\d{7}-\d{7})(?![\d-])")
_CDON_ORDER = re.compile(
    r"""
    \b(?:order(?:\s*(?:id|no|nr|number))?   # English
       |order(?:nummer|nr)                  # Swedish
       |ordre(?:nummer|nr)                  # Danish, Norwegian
       |tilaus(?:numero)?                   # Finnish
       |bestillings?(?:nummer)?             # Norwegian
    )\b
    (?:\s*\((?:quality|legacy)\))?          # during CDON's migration: which system
    [\s:#.-]{0,3}
    (\d{6,12})\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
# The number CDON Connect and the legacy order API know, when a mail carries both.
_CDON_LEGACY_ORDER = re.compile(
    r"^.*\blegacy\b.*?[:#]\s*(\d{6,12})\s*$", re.IGNORECASE | re.MULTILINE
)

_AMAZON_ASIN = re.compile(r"\bASIN\s*[:#]?\s*([A-Z0-9]{10})\b")
_AMAZON_ITEM = re.compile(
    r"^\s*(?:item|artikel|article|artículo|articolo)\s*:\s*(?P<title>\S.*?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_AMAZON_ITEM_LINE = re.compile(
    r"^\s*\d+\s*/\s*(?P<title>\S.*?)\s*\[ASIN\s*:\s*[A-Z0-9]{10}\]\s*$", re.MULTILINE
)

_NAME_SUFFIX = {
    RelayMarketplace.AMAZON: re.compile(r"\s+-\s+(?:amazon|marketplace)\b.*$", re.IGNORECASE),
    RelayMarketplace.CDON: re.compile(r"\s+(?:-|via)\s+cdon\b.*$", re.IGNORECASE),
}

# Assumed, see the module docstring.
AMAZON_ATTACHMENT_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".pdf", ".txt", ".doc", ".docx"}
)


def _delimiter(*labels: str) -> re.Pattern[str]:
    """A line holding one of ``labels`` between two runs of dashes."""
    return re.compile(rf"^\s*-{{3,}}\s*(?:{'|'.join(labels)})\s*-{{3,}}\s*$", re.IGNORECASE)


def _lines(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(rf"^\s*(?:{p})", re.IGNORECASE) for p in patterns)


@dataclass(frozen=True)
class Framing:
    """How one relay frames the buyer's text (see the module docstring).

    ``start``/``end`` match the lines that open and close the buyer's text (``start``
    may keep text after its label in a ``rest`` group); ``header`` matches the lines of
    a leading header block and ``anchor`` the ones among them that name the order or
    item (a block without one is not taken for framing); ``notice`` matches the first
    line of a trailing notice. ``start_within`` limits how far down the text ``start``
    is looked for, for a relay whose opening line is plain words a buyer could write.
    With ``preamble`` everything before ``start`` is the relay's (CDON's customer
    service writes free text there); without it, only a block of header lines is, and
    any other text before ``start`` stays with the buyer's.
    """

    start: re.Pattern[str] | None = None
    start_within: int | None = None
    preamble: bool = False
    end: re.Pattern[str] | None = None
    header: tuple[re.Pattern[str], ...] = ()
    anchor: tuple[re.Pattern[str], ...] = ()
    notice: tuple[re.Pattern[str], ...] = ()


_AMAZON_ANCHORS = _lines(
    r"#\s*\d{3}-\d{7}-\d{7}\s*:?\s*$",
    r"\d+\s*/\s*.*\[ASIN\s*:\s*[A-Z0-9]{10}\]\s*$",
    r"(?:order\s*(?:id|number|#)|bestellnummer|bestellung|num[ée]ro de commande"
    r"|n°\s*de commande|commande|n[úu]mero de pedido|pedido)\s*:?\s*\d{3}-\d{7}-\d{7}\s*$",
    r"asin\s*[:#]?\s*[A-Z0-9]{10}\s*$",
)
AMAZON_FRAMING = Framing(
    start=_delimiter(
        r"message\s*:",
        r"nachricht\s*:",
        r"anfang der nachricht",
        r"d[ée]but du message",
        r"mensaje\s*:",
        r"inicio del mensaje",
    ),
    end=_delimiter(
        r"end(?: of)? message",
        r"ende der nachricht",
        r"fin du message",
        r"finalizar mensaje",
        r"fin del mensaje",
    ),
    header=(
        *_AMAZON_ANCHORS,
        *_lines(
            r"(?:you have|you've) received a message\.?\s*$",
            r"sie haben eine nachricht erhalten\.?\s*$",
            r"vous avez re[çc]u un message\.?\s*$",
            r"ha recibido un mensaje\.?\s*$",
            r"(?:item|artikel|article|art[íi]culo|produit|producto)\s*:",
            r"(?:quantity|menge|anzahl|quantit[ée]|cantidad)\s*:\s*\d+\s*$",
        ),
    ),
    anchor=_AMAZON_ANCHORS,
    notice=_lines(
        # English
        r"(?:for your information\s*:\s*)?to help arbitrate disputes",
        r"(?:note\s*:\s*)?amazon(?:'s|\u2019s)? buyer-seller messaging service\b.*\bretain",
        r"we retain (?:all |copies of )?(?:the )?messages",
        r"was this (?:e-?mail|message) helpful\s*\??",
        # German
        r"war diese (?:e-?mail|nachricht) hilfreich\s*\??",
        r"(?:zu ihrer information\s*:\s*)?um (?:bei )?streitigkeiten",
        # French
        r"cet e-?mail (?:vous )?a-t-il été utile\s*\??",
        r"(?:pour votre information\s*:\s*)?(?:afin|pour) d'aider à (?:arbitrer|résoudre)",
        r"droits d'auteur\b",
        # all languages
        r"(?:copyright|©).*\bamazon\b",
        r"\[commMgrTok:[^\]\s]+\]\s*$",
    ),
)

_CDON_ANCHORS = _lines(
    r"(?:(?:quality|legacy)[- ]?)?(?:order(?:\s*(?:id|no|nr|number))?|ordernummer|ordrenummer"
    r"|tilausnumero|bestillingsnummer)\s*(?:\((?:quality|legacy)\))?\s*[:#]\s*\d{6,12}\s*$",
    r"(?:errand|ärende|ærinde|sak|asia)[- ]?(?:id|nummer|number|nr|numero)\s*[:#]\s*\S+\s*$",
)
CDON_FRAMING = Framing(
    start=re.compile(
        r"^\s*(?:kunds|kundens|(?:the )?customer(?:'?s)?|asiakkaan)\s+"
        r"(?:meddelande|message|besked|melding|viesti)\s*:\s*(?P<rest>.*)$",
        re.IGNORECASE,
    ),
    start_within=30,  # CDON's preamble is a few short paragraphs
    preamble=True,
    header=(
        *_CDON_ANCHORS,
        *_lines(r"(?:errand type|ärendetyp|ærindetype|sakstype|asiatyyppi)\s*:"),
    ),
    anchor=_CDON_ANCHORS,
)


@dataclass(frozen=True)
class Unframed:
    """A relayed mail's text split into the buyer's own words and the relay's framing."""

    text: str
    before: str = ""
    after: str = ""
    order_id: str | None = None
    product_id: str | None = None
    product_title: str | None = None

    @property
    def framed(self) -> bool:
        """Whether framing was recognised and removed."""
        return bool(self.before or self.after)


@dataclass(frozen=True)
class RelayProfile:
    """What Parley knows about one marketplace's email relay."""

    marketplace: RelayMarketplace
    max_message_attachment_bytes: int
    attachment_extensions: frozenset[str]
    framing: Framing = Framing()

    def unframe(self, text: str) -> Unframed:
        """The buyer's own text of a relayed mail's plain-text body (see :func:`unframe`)."""
        lines = text.split("\n")
        framing = self.framing
        start = _first(framing.start, lines[: framing.start_within], 0)
        low = start + 1 if start is not None else _header_end(framing, lines)
        end = _first(framing.end, lines, low)
        high = end if end is not None else _notice_start(framing, lines, low)
        if low == 0 and high == len(lines):
            return Unframed(text)
        body = lines[low:high]
        removed = lines[:low]
        if start is not None:
            match = framing.start.match(lines[start]) if framing.start else None
            rest = (match.groupdict().get("rest") or "").strip() if match else ""
            if rest:
                body = [rest, *body]
            if not (framing.preamble or _only_header(framing, lines[:start])):
                # text we do not know before the opening line (a quoted older mail's
                # framing below the buyer's new words, say): it stays the buyer's
                body = [*lines[:start], *body]
                removed = lines[start:low]
        buyer = _tidy(body)
        if not buyer:
            return Unframed(text)  # nothing left: keep what we have rather than nothing
        before = "\n".join(removed).strip()
        after = "\n".join(lines[high:]).strip()
        facts = f"{before}\n{after}"
        order_id = self.order_id(facts)
        product_id = title = None
        if self.marketplace is RelayMarketplace.CDON:
            legacy = _CDON_LEGACY_ORDER.search(facts)
            order_id = legacy.group(1) if legacy else order_id
        if self.marketplace is RelayMarketplace.AMAZON:
            asin = _AMAZON_ASIN.search(facts)
            product_id = asin.group(1) if asin else None
            item = _AMAZON_ITEM.search(before) or _AMAZON_ITEM_LINE.search(before)
            title = item.group("title") if item else None
        return Unframed(
            text=buyer,
            before=before,
            after=after,
            order_id=order_id,
            product_id=product_id,
            product_title=title,
        )

    def order_id(self, *texts: str | None) -> str | None:
        """The first order id found in ``texts``, tried in the order given."""
        pattern = _AMAZON_ORDER if self.marketplace is RelayMarketplace.AMAZON else _CDON_ORDER
        for text in texts:
            if text:
                match = pattern.search(text)
                if match:
                    return match.group(1)
        return None

    def buyer_name(self, display_name: str | None) -> str | None:
        """The buyer's name without the relay's own label (`` - Amazon Marketplace``)."""
        if not display_name:
            return None
        name = _NAME_SUFFIX[self.marketplace].sub("", display_name).strip().strip('"').strip()
        return name or None

    def accepts_attachment(self, name: str, size: int, total: int) -> bool:
        """Whether a file can travel natively with a message already carrying ``total`` bytes."""
        extension = PurePosixPath(name.lower()).suffix
        return (
            extension in self.attachment_extensions
            and total + size <= self.max_message_attachment_bytes
        )


AMAZON = RelayProfile(
    RelayMarketplace.AMAZON, 10 * MB, AMAZON_ATTACHMENT_EXTENSIONS, AMAZON_FRAMING
)
CDON = RelayProfile(RelayMarketplace.CDON, 10 * MB, AMAZON_ATTACHMENT_EXTENSIONS, CDON_FRAMING)
PROFILES = {AMAZON.marketplace: AMAZON, CDON.marketplace: CDON}


def unframe(text: str, marketplace: RelayMarketplace | str) -> Unframed:
    """The buyer's own text of a mail ``marketplace`` relayed, and the facts its framing
    gives (order id, Amazon's ASIN and item title).

    ``text`` is the mail's plain-text body (HTML already turned into text). The text
    between the relay's delimiters is kept when they are present; a recognised header
    block and trailing notice are removed; blank lines are tidied. A body without
    recognised framing comes back unchanged.
    """
    return PROFILES[RelayMarketplace(marketplace)].unframe(text)


def _first(pattern: re.Pattern[str] | None, lines: list[str], start: int) -> int | None:
    if pattern is None:
        return None
    for index in range(start, len(lines)):
        if pattern.match(lines[index]):
            return index
    return None


def _matches(patterns: tuple[re.Pattern[str], ...], line: str) -> bool:
    return any(p.match(line) for p in patterns)


def _header_end(framing: Framing, lines: list[str]) -> int:
    """Where the buyer's text starts after a leading block made only of header lines
    (blank lines allowed), naming the order or item and ended by a blank line; 0 when
    there is no such block."""
    anchored = False
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if not _matches(framing.header, line):
            separated = index > 0 and not lines[index - 1].strip()
            return index if anchored and separated else 0
        anchored = anchored or _matches(framing.anchor, line)
    return 0  # header lines only: nothing would be left of the buyer's text


def _only_header(framing: Framing, lines: list[str]) -> bool:
    return all(not line.strip() or _matches(framing.header, line) for line in lines)


def _notice_start(framing: Framing, lines: list[str], low: int) -> int:
    """The first line of a trailing notice after some of the buyer's text, else the end."""
    seen_text = False
    for index in range(low, len(lines)):
        if seen_text and _matches(framing.notice, lines[index]):
            return index
        seen_text = seen_text or bool(lines[index].strip())
    return len(lines)


def _tidy(lines: list[str]) -> str:
    """Lines without trailing spaces, at most one blank line in a row, none at the ends."""
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def relay_for(address: str | None) -> RelayProfile | None:
    """The relay that owns ``address``'s domain, or None for any other sender."""
    if not address or "@" not in address:
        return None
    domain = domain_of(address)
    if _AMAZON_DOMAIN.match(domain):
        return AMAZON
    if _CDON_DOMAIN.match(domain):
        return CDON
    return None
