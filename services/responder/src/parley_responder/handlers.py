"""The responder's service layer: deliver one reply, at most once, and say how it went.

Order of operations is what makes "at most once" hold across crashes:

1. open the delivery record (created ``queued`` once per command id);
2. a record already ``sent``, ``failed`` or ``unknown`` is only announced again, never
   re-sent;
3. a record left ``sending`` by a crash is reconciled: the marketplace is asked
   whether *this* reply arrived before anything is sent again. ``sent`` is only ever
   the marketplace's acknowledgement or a reply identified as this one
   (:mod:`parley_responder.domain.reconcile`); where that cannot be told, the
   delivery is ``unknown`` and the merchant decides;
4. ``sending`` is recorded *before* the marketplace call, together with the shop
   messages the thread had, and ``sent`` right after.

What goes out is prepared once and kept in the record (:mod:`parley_responder.outgoing`):
the text with download links for files the marketplace cannot carry, and the files it
can. A merchant retry of a failed delivery (the gateway queues the command again,
``retry`` raised; the delivery queue moves the record from ``failed`` back to
``queued``, see ``MongoDeliveryStore.begin_round``) is a new round of the same record:
when the failure came after an attempt that may have landed, the marketplace is asked
first, exactly as after a crash.

Where the family has a document channel (Mirakl order documents, see
:func:`~parley_connectors.reply_rules.order_document_due`) and the command names its
invoice and order, the invoice is filed on the order too, after the message was sent
and before ``sent`` is announced: at most once per command (its outcome is kept with
the delivery; ``uploading`` before the call, so after a crash the marketplace is asked
whether the document is there instead of uploading blindly). Its failure is reported
in the result's ``order_document`` and the log, and never sends the message again.

A result is announced again after a crash (the delivery queue resumes the reply, and
a settled record is announced, never re-sent): its CloudEvents id is derived from the
command, the round, the state and the attempts, so the repeat is a duplicate that
consumers drop by id, never a second event.

Faults the marketplace may recover from (429, 5xx, timeouts) are retried with
exponential backoff and jitter, honouring Retry-After as given up to a documented
maximum (:attr:`RetryPolicy.max_retry_after`); after the budget, or on a refusal
(400, 404, credentials), the delivery is ``failed`` with the reason, or ``unknown``
when an attempt may have landed and could not be confirmed. Before each wait the
reply is parked: the record and a ``queued`` result carry the attempts so far and
``next_attempt_at``, so the merchant sees when it will be tried next. The wait itself
is ``sleep``: in the service it holds only the reply's own marketplace connection
(:mod:`parley_responder.scheduler`), never the Kafka partition or other stores.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from parley_connectors.errors import (
    AuthenticationFailed,
    BadRequest,
    MarketplaceUnavailable,
    NotFound,
    PayloadError,
    RateLimited,
)
from parley_connectors.files import OutgoingFile
from parley_connectors.reply_rules import (
    RuleViolation,
    check_reply,
    order_document_due,
    order_document_type,
)
from parley_platform.logging import get_logger
from parley_platform.metrics import DELIVERIES, DeliveryOutcome
from parley_platform.outbox import stable_id
from parley_responder.domain.reconcile import NO_LISTING, Verdict, known_ids, reconcile
from parley_responder.outgoing import ReplyPreparer
from parley_responder.ports import (
    UNKNOWN,
    UPLOADING,
    Delivery,
    DeliveryStore,
    Destination,
    DestinationLookup,
    MarketplaceReplies,
    OrderDocumentRecord,
    OrderDocuments,
    PreparedReply,
    ResultSink,
)
from parley_schemas import (
    DELIVERY_RESULT,
    REPLY_REQUESTED,
    AttachmentRef,
    DeliveryResult,
    DeliveryState,
    DiscussionKey,
    Envelope,
    OrderDocumentOutcome,
    OrderDocumentState,
    ReplyCommand,
    utcnow,
)

log = get_logger(__name__)
SOURCE = "/parley/responder"
NO_FAMILY = "none"  # the ``family`` label of a reply whose connection was not found


@dataclass(frozen=True)
class RetryPolicy:
    """``max_delay`` caps our own backoff; ``max_retry_after`` caps a marketplace's
    Retry-After (RESPONDER_MAX_RETRY_AFTER_SECONDS): honoured as given up to it, so a
    marketplace asking for hours does not hold a reply that long unseen."""

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 900.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(self.max_retry_after, max(0.0, retry_after))
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


class Responder:
    def __init__(
        self,
        deliveries: DeliveryStore,
        destinations: DestinationLookup,
        families: Mapping[str, MarketplaceReplies],
        results: ResultSink,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = utcnow,
        preparer: ReplyPreparer | None = None,
    ) -> None:
        self._preparer = preparer
        self._deliveries = deliveries
        self._destinations = destinations
        self._families = families
        self._results = results
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock

    async def handle(self, envelope: Envelope[Any]) -> None:
        if envelope.type != REPLY_REQUESTED.name:
            raise ValueError(f"responder does not handle {envelope.type}")
        await self.on_reply(envelope.data)

    async def on_reply(self, command: ReplyCommand) -> None:
        delivery, created = await self._deliveries.open(command)
        if delivery.final:
            if delivery.state == DeliveryState.SENT.value and self._document_pending(
                command, delivery
            ):
                # Sent, and a crash came before its invoice was filed (or while).
                found = await self._destinations.find(command.store_id, command.marketplace)
                if found is not None:
                    delivery = await self._file_document(command, delivery, found)
            await self._announce(command, delivery)
            return
        if created or (delivery.state == DeliveryState.QUEUED.value and delivery.attempts == 0):
            # New, or back from "failed" by a merchant retry: show it queued again.
            await self._emit(command, DeliveryState.QUEUED, attempts=0, retry=delivery.retry)
        destination = await self._destinations.find(command.store_id, command.marketplace)
        if destination is None:
            await self._fail(
                command,
                f"no active connection for store {command.store_id} on {command.marketplace}",
                family=NO_FAMILY,
            )
            return
        try:
            check_reply(command, destination.family)
            prepared = await self._prepare(command, delivery, destination.family)
        except RuleViolation as exc:
            await self._fail(command, str(exc), family=destination.family)
            return
        family = self._families.get(destination.family)
        if family is None:  # rules and writers come from one registry: a wiring fault
            await self._fail(
                command, f"no writer for the {destination.family} family", family=destination.family
            )
            return
        # After a crash mid-send, or a merchant retry of a failure that may have landed.
        unsure = delivery.sending_since if delivery.state == "sending" else delivery.unsure_since
        if delivery.next_attempt_at is not None:
            # Parked before a restart: the marketplace's Retry-After still holds.
            wait = (delivery.next_attempt_at - self._clock()).total_seconds()
            if wait > 0:
                await self._sleep(wait)
        await self._send(
            command,
            prepared,
            delivery.attempts,
            family,
            destination,
            unsure,
            delivery.known_ids,
            delivery.retry,
        )

    async def _prepare(
        self, command: ReplyCommand, delivery: Delivery, family: str
    ) -> PreparedReply:
        """The kept preparation of this round, else a new one, kept before any send.

        A new round (merchant retry) prepares again (fresh link expiry) unless the
        last failure may have landed: then the text must stay what was maybe sent.
        """
        kept = delivery.prepared
        if kept is not None and (kept.retry >= delivery.retry or delivery.unsure_since is not None):
            return kept
        if self._preparer is None:
            if command.attachment_file_ids:
                raise RuleViolation("this responder is not set up to send attachments")
            fresh = PreparedReply(body=command.body, retry=delivery.retry)
        else:
            fresh = await self._preparer.prepare(command, family, retry=delivery.retry)
        return await self._deliveries.save_prepared(command.command_id, fresh)

    async def _send(
        self,
        command: ReplyCommand,
        prepared: PreparedReply,
        attempts: int,
        family: MarketplaceReplies,
        destination: Destination,
        unsure_since: datetime | None,
        known: frozenset[str] | None,
        round_: int = 0,
    ) -> None:
        """Attempts until sent, refused, out of budget, or undecidable.

        Every pass at the marketplace counts as an attempt (``attempts`` on the record
        and in the results), whichever call of it met the fault: the look at the thread
        before sending as much as the send.

        ``unsure_since`` is set while an earlier attempt may have landed: then the
        marketplace is asked first, and only a reply identified as this one (see
        :mod:`parley_responder.domain.reconcile`) counts as sent. Asking can fail too:
        it is retried like a send, and a delivery that stays undecided ends ``unknown``.
        """
        files: list[OutgoingFile] = []
        if prepared.native:
            try:
                assert self._preparer is not None  # a native file was planned by it
                files = await self._preparer.load(prepared.native)
            except RuleViolation as exc:
                await self._fail(command, str(exc), family=destination.family)
                return
        attempt = attempts
        tries = 0  # this run's calls that met a fault, sends and look-ups alike
        while True:
            started = self._clock()
            sending = False
            attempt += 1
            try:
                if unsure_since is not None:
                    listed = await family.shop_replies(destination, command.thread_id, unsure_since)
                    verdict = reconcile(listed, prepared.body, known)
                    if verdict.verdict is Verdict.LANDED:
                        log.info("reply found at the marketplace", command_id=command.command_id)
                        _count(destination.family, DeliveryOutcome.SENT)
                        await self._sent(
                            command,
                            await self._deliveries.mark_sent(
                                command.command_id, verdict.message_id
                            ),
                            destination,
                        )
                        return
                    if verdict.verdict is Verdict.UNDECIDABLE:
                        await self._unknown(
                            command,
                            verdict.reason or NO_LISTING,
                            unsure_since,
                            family=destination.family,
                        )
                        return
                else:
                    # What the thread has before this attempt: afterwards, a shop
                    # message with our text that was not there is this reply.
                    known = known_ids(
                        await family.shop_replies(destination, command.thread_id, started)
                    )
                # While unsure, the record keeps the earliest possible send time and the
                # thread as it was before it, so a crash now still finds that attempt.
                await self._deliveries.mark_sending(
                    command.command_id, attempt, unsure_since or started, known
                )
                sending = True
                message_id = await family.send(
                    destination,
                    command.thread_id,
                    prepared.body,
                    list(command.recipients),
                    files,
                    reference=command.command_id,
                )
            except (RateLimited, MarketplaceUnavailable, PayloadError) as exc:
                tries += 1
                reason = _reason(exc)
                if sending and _maybe_delivered(exc):
                    # A timeout, a 5xx or an unreadable answer does not say whether the
                    # marketplace kept the message: ask before sending again, and stay
                    # "sending" meanwhile.
                    unsure_since = unsure_since or started
                if tries >= self._retry.max_attempts:
                    await self._deliveries.mark_retrying(
                        command.command_id,
                        reason,
                        attempts=attempt,
                        next_attempt_at=None,
                        sending=unsure_since is not None,
                    )
                    gave_up = f"gave up after {attempt} attempts: {reason}"
                    if unsure_since is None:
                        await self._fail(command, gave_up, family=destination.family)
                    else:
                        await self._settle(
                            command, prepared, family, destination, unsure_since, known, gave_up
                        )
                    return
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                delay = self._retry.delay(tries, retry_after)
                next_attempt_at = self._clock() + timedelta(seconds=delay)
                # Parked: while unsure the record stays "sending" for a crash to reconcile.
                await self._deliveries.mark_retrying(
                    command.command_id,
                    reason,
                    attempts=attempt,
                    next_attempt_at=next_attempt_at,
                    sending=unsure_since is not None,
                )
                await self._emit(
                    command,
                    DeliveryState.QUEUED,
                    attempts=attempt,
                    retry=round_,
                    prepared=prepared,
                    next_attempt_at=next_attempt_at,
                )
                log.warning(
                    "reply delivery retry",
                    command_id=command.command_id,
                    attempt=attempt,
                    delay=delay,
                    retry_after=retry_after,
                    next_attempt_at=next_attempt_at.isoformat(),
                    reason=reason,
                )
                _count(destination.family, DeliveryOutcome.RETRIED)
                await self._sleep(delay)
                continue
            except (BadRequest, NotFound, AuthenticationFailed) as exc:
                # An earlier attempt may still have landed: keep the mark, so a merchant
                # retry asks the marketplace before sending.
                await self._fail(
                    command,
                    f"the marketplace refused the reply: {_reason(exc)}",
                    unsure_since,
                    family=destination.family,
                )
                return
            delivery = await self._deliveries.mark_sent(command.command_id, message_id)
            log.info("reply sent", command_id=command.command_id, attempts=attempt)
            _count(destination.family, DeliveryOutcome.SENT)
            await self._sent(command, delivery, destination)
            return

    async def _settle(
        self,
        command: ReplyCommand,
        prepared: PreparedReply,
        family: MarketplaceReplies,
        destination: Destination,
        unsure_since: datetime,
        known: frozenset[str] | None,
        gave_up: str,
    ) -> None:
        """Out of budget after an attempt that may have landed: one last look decides
        between sent, failed (not there; a merchant retry looks again first) and
        unknown (cannot be told, or the marketplace cannot even be asked now)."""
        try:
            listed = await family.shop_replies(destination, command.thread_id, unsure_since)
        except (RateLimited, MarketplaceUnavailable, PayloadError) as exc:
            await self._unknown(
                command,
                f"{gave_up}; whether it arrived could not be checked: {_reason(exc)}",
                unsure_since,
                family=destination.family,
            )
            return
        verdict = reconcile(listed, prepared.body, known)
        if verdict.verdict is Verdict.LANDED:
            _count(destination.family, DeliveryOutcome.SENT)
            await self._sent(
                command,
                await self._deliveries.mark_sent(command.command_id, verdict.message_id),
                destination,
            )
        elif verdict.verdict is Verdict.NOT_LANDED:
            await self._fail(command, gave_up, unsure_since, family=destination.family)
        else:
            await self._unknown(
                command, f"{gave_up}; {verdict.reason}", unsure_since, family=destination.family
            )

    async def _sent(
        self, command: ReplyCommand, delivery: Delivery, destination: Destination
    ) -> None:
        """The message is at the marketplace: file its invoice on the order where due,
        then announce ``sent`` with how that went."""
        if self._document_pending(command, delivery):
            delivery = await self._file_document(command, delivery, destination)
        await self._announce(command, delivery)

    def _document_pending(self, command: ReplyCommand, delivery: Delivery) -> bool:
        if command.invoice is None or not command.invoice.order_id:
            return False
        record = delivery.order_document
        return record is None or not record.settled

    async def _file_document(
        self, command: ReplyCommand, delivery: Delivery, destination: Destination
    ) -> Delivery:
        """Files the reply's invoice on its order, once; the outcome is kept with the
        delivery. Nothing here fails the delivery: the message is sent already."""
        invoice = command.invoice
        assert invoice is not None and invoice.order_id
        if not order_document_due(command, destination.family):
            return delivery  # the family has no document channel: nothing to report
        order_id = invoice.order_id
        family = self._families.get(destination.family)
        kept = delivery.order_document

        async def settle(state: OrderDocumentState, detail: str | None, name: str) -> Delivery:
            record = OrderDocumentRecord(state.value, order_id, invoice.file_id, name, detail)
            if state is OrderDocumentState.UPLOADED:
                log.info(
                    "invoice filed on the order",
                    command_id=command.command_id,
                    order_id=order_id,
                    number=invoice.number,
                )
            else:
                log.warning(
                    "invoice not filed on the order",
                    command_id=command.command_id,
                    order_id=order_id,
                    number=invoice.number,
                    outcome=state.value,
                    reason=detail,
                )
            return await self._deliveries.mark_order_document(command.command_id, record)

        type_code = order_document_type(destination.family, invoice.kind)
        if type_code is None:
            return await settle(
                OrderDocumentState.SKIPPED,
                f"{destination.family} documents no type code for a {invoice.kind.value}",
                "",
            )
        if not isinstance(family, OrderDocuments):
            return await settle(
                OrderDocumentState.SKIPPED,
                f"this responder does not file {destination.family} order documents",
                "",
            )
        prepared = delivery.prepared
        planned = [*prepared.native, *(x.file for x in prepared.linked)] if prepared else []
        reply_file = next((f for f in planned if f.file_id == invoice.file_id), None)
        if reply_file is None or self._preparer is None:
            return await settle(
                OrderDocumentState.SKIPPED,
                f"the invoice {invoice.file_id} is not among the reply's files",
                "",
            )
        name = reply_file.name
        try:
            # An upload may have landed before a crash: look before uploading again.
            if (
                kept is not None
                and kept.state == UPLOADING
                and await family.has_order_document(destination, order_id, name)
            ):
                return await settle(OrderDocumentState.UPLOADED, "found on the order", name)
            (file,) = await self._preparer.load([reply_file])
            await self._deliveries.mark_order_document(
                command.command_id,
                OrderDocumentRecord(UPLOADING, order_id, invoice.file_id, name),
            )
            await family.upload_order_document(destination, order_id, file, type_code)
        except (
            BadRequest,
            NotFound,
            AuthenticationFailed,
            RateLimited,
            MarketplaceUnavailable,
            PayloadError,
            RuleViolation,
            ValueError,
        ) as exc:
            maybe = isinstance(exc, PayloadError) or (
                isinstance(exc, MarketplaceUnavailable) and exc.maybe_delivered
            )
            reason = _reason(exc) + (" (it may have been filed: check the order)" if maybe else "")
            return await settle(OrderDocumentState.FAILED, reason, name)
        return await settle(OrderDocumentState.UPLOADED, None, name)

    async def _unknown(
        self, command: ReplyCommand, reason: str, unsure_since: datetime, *, family: str
    ) -> None:
        log.warning("reply delivery unknown", command_id=command.command_id, reason=reason)
        _count(family, DeliveryOutcome.UNKNOWN)
        await self._announce(
            command, await self._deliveries.mark_unknown(command.command_id, reason, unsure_since)
        )

    async def _fail(
        self,
        command: ReplyCommand,
        reason: str,
        unsure_since: datetime | None = None,
        *,
        family: str,
    ) -> None:
        log.warning("reply failed", command_id=command.command_id, reason=reason)
        _count(family, DeliveryOutcome.FAILED)
        await self._announce(
            command, await self._deliveries.mark_failed(command.command_id, reason, unsure_since)
        )

    async def _announce(self, command: ReplyCommand, delivery: Delivery) -> None:
        await self._emit(
            command,
            DeliveryState.FAILED if delivery.state == UNKNOWN else DeliveryState(delivery.state),
            attempts=delivery.attempts,
            marketplace_message_id=delivery.marketplace_message_id,
            error=delivery.error,
            retry=delivery.retry,
            prepared=delivery.prepared,
            unconfirmed=delivery.state == UNKNOWN,
            order_document=_outcome(delivery.order_document),
        )

    async def _emit(
        self,
        command: ReplyCommand,
        state: DeliveryState,
        *,
        attempts: int,
        marketplace_message_id: str | None = None,
        error: str | None = None,
        retry: int = 0,
        prepared: PreparedReply | None = None,
        unconfirmed: bool = False,
        next_attempt_at: datetime | None = None,
        order_document: OrderDocumentOutcome | None = None,
    ) -> None:
        files = [*prepared.native, *(x.file for x in prepared.linked)] if prepared else []
        key = DiscussionKey(
            store_id=command.store_id, marketplace=command.marketplace, thread_id=command.thread_id
        )
        await self._results.emit(
            Envelope[DeliveryResult](
                id=stable_id(command.command_id, retry, state.value, attempts, unconfirmed),
                source=SOURCE,
                type=DELIVERY_RESULT.name,
                subject=str(key),
                data=DeliveryResult(
                    command_id=command.command_id,
                    discussion_id=command.discussion_id,
                    store_id=command.store_id,
                    marketplace=command.marketplace,
                    thread_id=command.thread_id,
                    state=state,
                    body=prepared.body if prepared else command.body,
                    recipients=list(command.recipients),
                    marketplace_message_id=marketplace_message_id,
                    error=error if state is DeliveryState.FAILED else None,
                    unconfirmed=unconfirmed,
                    attempts=attempts,
                    next_attempt_at=next_attempt_at,
                    occurred_at=self._clock(),
                    retry=retry,
                    attachments=[
                        AttachmentRef(
                            name=f.name, size=f.size, content_type=f.content_type, file_id=f.file_id
                        )
                        for f in files
                    ],
                    order_document=order_document if state is DeliveryState.SENT else None,
                ),
            )
        )


def _outcome(record: OrderDocumentRecord | None) -> OrderDocumentOutcome | None:
    if record is None or not record.settled:
        return None
    return OrderDocumentOutcome(
        state=OrderDocumentState(record.state),
        order_id=record.order_id,
        file_id=record.file_id,
        detail=record.detail,
    )


def _count(family: str, outcome: DeliveryOutcome) -> None:
    """``parley_deliveries``: counted where the outcome is decided, not when it is only
    announced again (a redelivered command of a settled reply counts nothing)."""
    DELIVERIES.labels(family, outcome).inc()


def _maybe_delivered(exc: Exception) -> bool:
    """Whether a send that met ``exc`` may have been kept by the marketplace."""
    if isinstance(exc, PayloadError):
        return True  # it answered, in a shape we cannot read: it may have kept it
    return isinstance(exc, MarketplaceUnavailable) and exc.maybe_delivered


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
