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
    [\s:#.-]{0,3}
    (\d{6,12})\b
    """,
    re.IGNORECASE | re.VERBOSE,
)

_NAME_SUFFIX = {
    RelayMarketplace.AMAZON: re.compile(r"\s+-\s+(?:amazon|marketplace)\b.*$", re.IGNORECASE),
    RelayMarketplace.CDON: re.compile(r"\s+(?:-|via)\s+cdon\b.*$", re.IGNORECASE),
}

# Assumed, see the module docstring.
AMAZON_ATTACHMENT_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".pdf", ".txt", ".doc", ".docx"}
)


@dataclass(frozen=True)
class RelayProfile:
    """What Parley knows about one marketplace's email relay."""

    marketplace: RelayMarketplace
    max_message_attachment_bytes: int
    attachment_extensions: frozenset[str]

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


AMAZON = RelayProfile(RelayMarketplace.AMAZON, 10 * MB, AMAZON_ATTACHMENT_EXTENSIONS)
CDON = RelayProfile(RelayMarketplace.CDON, 10 * MB, AMAZON_ATTACHMENT_EXTENSIONS)
PROFILES = {AMAZON.marketplace: AMAZON, CDON.marketplace: CDON}


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
