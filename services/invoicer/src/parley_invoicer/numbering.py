"""Invoice numbers: ``{prefix}-{year}-{seq:06d}``, gapless per series, never reused.

The EU VAT directive (art. 226) asks for a sequential number, in one or more series,
that identifies each invoice uniquely; France (CGI annex II art. 242 nonies A) adds
that the sequence be continuous. A yearly series is allowed, and a series is keyed by
the seller's VAT id as well as the prefix and the year: two stores of one company with
the same prefix share a sequence, two companies never do, even with the same prefix.

How numbers stay gapless across replicas and restarts
-----------------------------------------------------
The store is MongoDB in production and FerretDB v1 locally, where ``findAndModify``
and ``update`` are read-modify-write, not atomic: a ``$inc`` counter would hand one
number to two processes. The one primitive atomic on both is the insert of a unique
``_id``, so every decision is one (see :class:`parley_invoicer.ports.InvoiceLedger`):

- **claim** ``{_id: "<series>:<n>"}`` (collection ``invoice_claims``): whoever inserts
  it owns number ``n``; it carries the order's key and everything needed to render
  the invoice (order, settings, issue date). A per-series **hint** ``{_id: "<series>",
  next}`` says where to start looking; it may lag (or even step back, ``$max`` being
  read-modify-write on FerretDB), never run ahead: it is raised to ``n + 1`` only
  after ``n`` was claimed, and a claimer that meets a taken number tries the next one.
  So claims are always exactly ``1..max``: no number is claimed before all smaller ones.
- **bind** ``{_id: "<store>:<marketplace>:<order>"}`` (collection ``invoices``): the
  first claim of an order to insert its record is the order's number, for good.
- **fate of a number**: claim ``n`` for order ``o`` is *issued* if ``invoices[o]`` names
  ``n``, *voided* once ``invoices[o]`` names another number (the claim then records the
  reason, ``voided``), and *in flight* while ``invoices[o]`` does not exist. An in-flight
  claim (a process died between claim and bind) is resolved by whoever comes next —
  the order's next request, or :meth:`parley_invoicer.service.InvoiceIssuer.sweep` —
  by binding it from the claim's own content (first wins) or voiding it. Both outcomes
  are decided by unique inserts, so two resolvers cannot disagree.
- **gapless**: at rest, every number in ``1..max`` is an issued invoice or a voided
  claim with a reason; no number is ever claimed twice, so none is reused.
- **one order, one invoice**: the binding is permanent; the rendered PDF is stored once
  (``invoice_files``, first insert wins) and read back on every later request, so a
  repeat gets the same number and the same bytes. Rendering is deterministic input
  (the bound record), so any process may complete an invoice a dead one left unrendered.

A failed rendering does not void its number: the number is already the order's, and
the order's next request renders it again from the stored record. (Voiding it would
need to unbind the order, a compare-and-swap FerretDB v1 cannot do safely.)

Credit notes go through the same steps, keyed by the refund (:func:`credit_key`)
instead of the order, in the invoices' series or in a series of their own (the store's
``credit_note_prefix``): one refund, one credit note, each series gapless.

Requests for one order at once first insert an *intent* ``{_id: <order key>}``; the
losers wait for the winner's binding instead of claiming numbers they would then void.
An intent older than the lease (its holder died) no longer makes anyone wait.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SEQUENCE = 999_999
"""Six digits: beyond this numbers would stop sorting in issue order, so we refuse."""


@dataclass(frozen=True, order=True)
class InvoiceSeries:
    """One unbroken sequence of invoice numbers."""

    seller_vat_id: str
    prefix: str
    year: int

    @property
    def key(self) -> str:
        """The series' stored id. VAT ids and prefixes hold no colon, so it is unambiguous."""
        return f"{self.seller_vat_id}:{self.prefix}:{self.year:04d}"

    def number(self, sequence: int) -> InvoiceNumber:
        """The ``sequence``-th number of the series; refuses past :data:`MAX_SEQUENCE`."""
        if sequence > MAX_SEQUENCE:
            raise SeriesExhaustedError(f"series {self.prefix}-{self.year} is full")
        if sequence < 1:
            raise ValueError(f"sequence {sequence} < 1")
        return InvoiceNumber(self, sequence)


@dataclass(frozen=True, order=True)
class InvoiceNumber:
    """A number allocated in a series; ``str()`` gives the printed form."""

    series: InvoiceSeries
    sequence: int

    def __str__(self) -> str:
        return f"{self.series.prefix}-{self.series.year:04d}-{self.sequence:06d}"

    @property
    def claim_id(self) -> str:
        """The ``_id`` of the claim document that owns this number."""
        return claim_id(self.series.key, self.sequence)


def claim_id(series_key: str, sequence: int) -> str:
    return f"{series_key}:{sequence}"


def order_key(store_id: str, marketplace: str, order_id: str) -> str:
    """The order's identity: store and marketplace hold no colon, the order id comes last,
    so two different orders never share a key."""
    return f"{store_id}:{marketplace}:{order_id}"


def credit_key(store_id: str, marketplace: str, refund_id: str) -> str:
    """A refund's credit note key. ``|`` never appears in a store id, so no credit note
    key is ever an order's key."""
    return f"refund|{store_id}:{marketplace}:{refund_id}"


def next_candidate(tried: int, hint: int) -> int:
    """After ``tried`` was found taken: the next number worth trying (the hint may have
    moved past it meanwhile, since other processes claim too)."""
    return max(tried + 1, hint)


class SeriesExhaustedError(RuntimeError):
    """The series has used all its numbers; the seller needs a new prefix."""


@dataclass(frozen=True)
class NumberFate:
    """What became of one number of a series, for audits and tests."""

    sequence: int
    state: str  # "issued" | "voided" | "in_flight"
    order_key: str
    reason: str | None = None


def audit(claims: dict[int, tuple[str, str | None]], bindings: dict[str, int]) -> list[NumberFate]:
    """The fate of every claimed number of a series: ``claims`` maps a sequence to its
    order key and void reason, ``bindings`` an order key to the sequence it is bound to.
    Pure, so the invariant can be checked on any store's content."""
    fates = []
    for sequence in sorted(claims):
        key, reason = claims[sequence]
        bound = bindings.get(key)
        if bound == sequence:
            fates.append(NumberFate(sequence, "issued", key))
        elif bound is None and reason is None:
            fates.append(NumberFate(sequence, "in_flight", key))
        else:
            fates.append(NumberFate(sequence, "voided", key, reason or "order bound elsewhere"))
    return fates
