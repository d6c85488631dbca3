"""The responder's service layer: deliver one reply, at most once, and say how it went.

Order of operations is what makes "at most once" hold across crashes:

1. open the delivery record (created ``queued`` once per command id);
2. a record already ``sent`` or ``failed`` is only announced again, never re-sent;
3. a record left ``sending`` by a crash is reconciled: the marketplace is asked
   whether our reply arrived before anything is sent again;
4. ``sending`` is recorded *before* the marketplace call, ``sent`` right after.

What goes out is prepared once and kept in the record (:mod:`parley_responder.outgoing`):
the text with download links for files the marketplace cannot carry, and the files it
can. A merchant retry of a failed delivery (the gateway moves the record from
``failed`` back to ``queued`` and queues the command again, ``retry`` raised) is a new
round of the same record: when the failure came after an attempt that may have
landed, the marketplace is asked first, exactly as after a crash.

Faults the marketplace may recover from (429, 5xx, timeouts) are retried with
exponential backoff and jitter, honouring Retry-After; after the budget, or on a
refusal (400, 404, credentials), the delivery is ``failed`` with the reason.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley_connectors.errors import (
    AuthenticationFailed,
    BadRequest,
    MarketplaceUnavailable,
    NotFound,
    RateLimited,
)
from parley_connectors.files import OutgoingFile
from parley_platform.logging import get_logger
from parley_responder.domain.rules import RuleViolation, check_reply
from parley_responder.outgoing import ReplyPreparer
from parley_responder.ports import (
    Delivery,
    DeliveryStore,
    DestinationLookup,
    MarketplaceReplies,
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
    ReplyCommand,
    utcnow,
)

log = get_logger(__name__)
SOURCE = "/parley/responder"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(self.max_delay, max(0.0, retry_after))
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
            )
            return
        try:
            check_reply(command, destination.family)
            prepared = await self._prepare(command, delivery, destination.family)
        except RuleViolation as exc:
            await self._fail(command, str(exc))
            return
        family = self._families[destination.family]
        # After a crash mid-send, or a merchant retry of a failure that may have landed.
        unsure = delivery.sending_since if delivery.state == "sending" else delivery.unsure_since
        if unsure is not None:
            found = await family.find_sent(destination, command.thread_id, prepared.body, unsure)
            if found is not None:
                log.info(
                    "reply found after restart; not sending again", command_id=command.command_id
                )
                await self._announce(
                    command, await self._deliveries.mark_sent(command.command_id, found)
                )
                return
        await self._send(command, prepared, delivery.attempts, family, destination)

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
        destination: Any,
    ) -> None:
        files: list[OutgoingFile] = []
        if prepared.native:
            try:
                assert self._preparer is not None  # a native file was planned by it
                files = await self._preparer.load(prepared.native)
            except RuleViolation as exc:
                await self._fail(command, str(exc))
                return
        attempt = attempts
        unsure_since: datetime | None = None  # set when the last attempt may have landed
        while True:
            attempt += 1
            started = self._clock()
            try:
                if unsure_since is not None:
                    found = await family.find_sent(
                        destination, command.thread_id, prepared.body, unsure_since
                    )
                    if found is not None:
                        log.info(
                            "reply had landed despite the fault", command_id=command.command_id
                        )
                        await self._announce(
                            command, await self._deliveries.mark_sent(command.command_id, found)
                        )
                        return
                # While unsure, the record keeps the earliest possible send time, so a
                # crash now still makes the next run look for the earlier attempt.
                await self._deliveries.mark_sending(
                    command.command_id, attempt, unsure_since or started
                )
                to = list(command.recipients)
                message_id = await (
                    family.send(destination, command.thread_id, prepared.body, to, files)
                    if files
                    else family.send(destination, command.thread_id, prepared.body, to)
                )
            except (RateLimited, MarketplaceUnavailable) as exc:
                reason = _reason(exc)
                if isinstance(exc, MarketplaceUnavailable):
                    # A timeout or 5xx does not say whether the marketplace kept the
                    # message: ask before sending again, and stay "sending" meanwhile.
                    unsure_since = unsure_since or started
                if attempt >= self._retry.max_attempts:
                    await self._fail(
                        command, f"gave up after {attempt} attempts: {reason}", unsure_since
                    )
                    return
                if unsure_since is None:
                    await self._deliveries.mark_retrying(command.command_id, reason)
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                delay = self._retry.delay(attempt, retry_after)
                log.warning(
                    "reply delivery retry",
                    command_id=command.command_id,
                    attempt=attempt,
                    delay=delay,
                    reason=reason,
                )
                await self._sleep(delay)
                continue
            except (BadRequest, NotFound, AuthenticationFailed) as exc:
                await self._fail(command, f"the marketplace refused the reply: {_reason(exc)}")
                return
            delivery = await self._deliveries.mark_sent(command.command_id, message_id)
            log.info("reply sent", command_id=command.command_id, attempts=attempt)
            await self._announce(command, delivery)
            return

    async def _fail(
        self, command: ReplyCommand, reason: str, unsure_since: datetime | None = None
    ) -> None:
        log.warning("reply failed", command_id=command.command_id, reason=reason)
        await self._announce(
            command, await self._deliveries.mark_failed(command.command_id, reason, unsure_since)
        )

    async def _announce(self, command: ReplyCommand, delivery: Delivery) -> None:
        await self._emit(
            command,
            DeliveryState(delivery.state),
            attempts=delivery.attempts,
            marketplace_message_id=delivery.marketplace_message_id,
            error=delivery.error,
            retry=delivery.retry,
            prepared=delivery.prepared,
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
    ) -> None:
        files = [*prepared.native, *(x.file for x in prepared.linked)] if prepared else []
        key = DiscussionKey(
            store_id=command.store_id, marketplace=command.marketplace, thread_id=command.thread_id
        )
        await self._results.emit(
            Envelope[DeliveryResult](
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
                    attempts=attempts,
                    occurred_at=self._clock(),
                    retry=retry,
                    attachments=[
                        AttachmentRef(
                            name=f.name, size=f.size, content_type=f.content_type, file_id=f.file_id
                        )
                        for f in files
                    ],
                ),
            )
        )


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
