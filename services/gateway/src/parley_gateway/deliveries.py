"""The merchant's retry of a failed reply delivery (F17).

After its retry budget the responder fails a delivery with the marketplace's reason,
shown on the discussion's outbound message. The merchant may then ask for one more
round. Safety rests on the outbox record: the gateway moves it from ``failed`` to
``queued`` with a conditional update (so only a failed delivery is retried, and only
once however many requests race), then queues the same command again, same
``command_id``, ``retry`` raised. The responder treats it as a new round of the same
record: it can never become a second reply, and where the last failure may have
landed at the marketplace it asks the marketplace before sending.

If the command cannot be queued, the record goes back to ``failed`` (the merchant
sees 503 and can retry later). Only a gateway crash between the two writes can leave
a record ``queued`` with nothing queued; it then shows as queued and no longer
retryable, which errs on the side of not sending.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley_gateway.domain import Scope
from parley_gateway.ports import CommandPublisher, DeliveryOutbox, DiscussionRepository
from parley_gateway.service import SOURCE, DiscussionNotFound, key_of
from parley_platform.logging import get_logger
from parley_schemas import REPLY_REQUESTED, Envelope, ReplyCommand

log = get_logger(__name__)


class DeliveryNotFound(LookupError):
    def __init__(self, discussion_id: str, command_id: str) -> None:
        super().__init__(f"no delivery {command_id} in discussion {discussion_id}")
        self.discussion_id = discussion_id
        self.command_id = command_id


class DeliveryNotRetryable(RuntimeError):
    """Only a failed or unknown delivery can be retried; ``state`` is where it stands."""

    def __init__(self, command_id: str, state: str) -> None:
        detail = (
            f"delivery {command_id} predates merchant retries and cannot be retried"
            if state == "failed"
            else f"delivery {command_id} is {state}; only a failed or unknown one can be retried"
        )
        super().__init__(detail)
        self.command_id = command_id
        self.state = state


@dataclass(frozen=True)
class QueuedRetry:
    command_id: str
    discussion_id: str
    retry: int


class DeliveryService:
    def __init__(
        self,
        discussions: DiscussionRepository,
        outbox: DeliveryOutbox,
        commands: CommandPublisher,
    ) -> None:
        self._discussions = discussions
        self._outbox = outbox
        self._commands = commands

    async def retry(self, scope: Scope, discussion_id: str, command_id: str) -> QueuedRetry:
        discussion = await self._discussions.get(scope, discussion_id)
        if discussion is None:
            raise DiscussionNotFound(discussion_id)
        failed = await self._outbox.requeue_failed(discussion.id, command_id)
        if failed is None:
            state = await self._outbox.state_of(discussion.id, command_id)
            if state is None:
                raise DeliveryNotFound(discussion.id, command_id)
            raise DeliveryNotRetryable(command_id, state)
        try:
            await self._commands.publish_reply(
                Envelope[ReplyCommand](
                    source=SOURCE,
                    type=REPLY_REQUESTED.name,
                    subject=str(key_of(discussion)),
                    data=failed.command,
                )
            )
        except BaseException:
            await self._outbox.undo_requeue(command_id, failed.retry, failed.error, failed.state)
            raise
        log.info(
            "delivery retry queued",
            discussion_id=discussion.id,
            command_id=command_id,
            retry=failed.retry,
        )
        return QueuedRetry(command_id, discussion.id, failed.retry)
