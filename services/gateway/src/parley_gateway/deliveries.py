"""The merchant's retry of a failed reply delivery (F17).

After its retry budget the responder fails a delivery with the marketplace's reason,
shown on the discussion's outbound message. The merchant may then ask for one more
round. The responder owns the delivery records, so the gateway only reads the record
(failed or unknown, in round ``n``, with its command kept) and queues the same command
again, same ``command_id``, ``retry`` = ``n + 1``, through its outbox. The responder
moves the record from failed|unknown in round ``n`` to queued in ``n + 1`` with one
conditional write before it does anything else (``MongoDeliveryStore.begin_round``),
so a retry can never become a second reply, and of racing or repeated requests at
most one starts the round. Where the last failure may have landed at the marketplace,
the responder asks the marketplace before sending.

The command's CloudEvents id is derived from the command id and the round: requests
racing for one round publish the same event, a duplicate the responder drops. The
answer is 202 once the command is in the outbox, the record shows ``queued`` once the
responder took it; until then a repeated request for the same round answers the same.
The outbox relay publishes a command a crash or broker outage left behind, so nothing
is left ``queued`` without its command (the gateway no longer writes the record).
"""

from __future__ import annotations

from dataclasses import dataclass

from parley_gateway.domain import Scope
from parley_gateway.ports import CommandPublisher, DeliveryRecords, DiscussionRepository
from parley_gateway.service import SOURCE, DiscussionNotFound, key_of
from parley_platform.logging import get_logger
from parley_platform.outbox import stable_id
from parley_schemas import REPLY_REQUESTED, Envelope, ReplyCommand

log = get_logger(__name__)
RETRYABLE = frozenset({"failed", "unknown"})


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
        records: DeliveryRecords,
        commands: CommandPublisher,
    ) -> None:
        self._discussions = discussions
        self._records = records
        self._commands = commands

    async def retry(self, scope: Scope, discussion_id: str, command_id: str) -> QueuedRetry:
        discussion = await self._discussions.get(scope, discussion_id)
        if discussion is None:
            raise DiscussionNotFound(discussion_id)
        record = await self._records.find(discussion.id, command_id)
        if record is None:
            raise DeliveryNotFound(discussion.id, command_id)
        if record.state not in RETRYABLE or record.command is None:
            raise DeliveryNotRetryable(command_id, record.state)
        retry = record.retry + 1
        await self._commands.publish_reply(
            Envelope[ReplyCommand](
                id=stable_id(REPLY_REQUESTED.name, command_id, retry),
                source=SOURCE,
                type=REPLY_REQUESTED.name,
                subject=str(key_of(discussion)),
                data=record.command.model_copy(update={"retry": retry}),
            )
        )
        log.info(
            "delivery retry queued", discussion_id=discussion.id, command_id=command_id, retry=retry
        )
        return QueuedRetry(command_id, discussion.id, retry)
