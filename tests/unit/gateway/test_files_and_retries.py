"""Reply files (upload rules, attachment checks, download links) and the merchant's
retry of a failed delivery, at the service layer with in-memory ports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fakes.gateway import InMemoryDeliveryRecords
from unit.gateway.fakes import T0, InMemoryDiscussions, OutboxDown, RecordingPublisher, discussion

from parley_gateway.deliveries import DeliveryNotFound, DeliveryNotRetryable, DeliveryService
from parley_gateway.domain import ReplyRejected, Scope
from parley_gateway.files import FileService, UploadLimits, UploadRejected
from parley_gateway.service import DiscussionNotFound, DiscussionService, ReplyRequest
from parley_platform.signed_links import LinkExpired, LinkInvalid, LinkSigner
from parley_schemas import ParticipantRole, ReplyCommand
from parley_store import FileDownload, FileInfo, FileNotStored

SCOPE = Scope.of(["store-1"])
SIGNER = LinkSigner(b"unit-test-signing-key-123")
LIMITS = UploadLimits(1000, frozenset({"application/pdf", "image/png"}))


class Uploads:
    def __init__(self) -> None:
        self.files: dict[str, tuple[FileInfo, bytes]] = {}

    async def save(
        self, key: str, name: str, content_type: str, content: bytes, **metadata: str
    ) -> str:
        file_id = f"{len(self.files):024x}"
        info = FileInfo(file_id, name, content_type, len(content), metadata.get("store_id"))
        self.files[file_id] = (info, content)
        return file_id

    async def describe(self, file_id: str) -> FileInfo | None:
        found = self.files.get(file_id)
        return found[0] if found else None

    async def download(self, file_id: str) -> FileDownload:
        if file_id not in self.files:
            raise FileNotStored(file_id)
        info, content = self.files[file_id]

        async def chunks() -> Any:
            yield content

        return FileDownload(file_id, info.name, info.content_type, info.size, chunks())


def files_service(uploads: Uploads, now: Any = T0) -> FileService:
    return FileService(uploads, LIMITS, SIGNER, clock=lambda: now)


async def test_an_upload_is_stored_for_one_of_the_callers_stores() -> None:
    uploads = Uploads()
    info = await files_service(uploads).upload(
        SCOPE, "store-1", "C:\\docs\\facture.pdf", None, b"%PDF", uploaded_by="acc"
    )
    assert (info.name, info.content_type, info.size, info.store_id) == (
        "facture.pdf",
        "application/pdf",  # guessed from the name when no type is declared
        4,
        "store-1",
    )


@pytest.mark.parametrize(
    ("store", "name", "kind", "content", "status"),
    [
        ("store-2", "a.pdf", "application/pdf", b"x", 422),  # not the caller's store
        ("store-1", "a.pdf", "application/pdf", b"x" * 1001, 413),
        ("store-1", "a.zip", "application/zip", b"x", 415),
        ("store-1", "a.pdf", "application/pdf", b"", 422),
    ],
)
async def test_uploads_breaking_a_rule_are_refused(
    store: str, name: str, kind: str, content: bytes, status: int
) -> None:
    uploads = Uploads()
    with pytest.raises(UploadRejected) as refused:
        await files_service(uploads).upload(SCOPE, store, name, kind, content, uploaded_by="a")
    assert refused.value.status == status
    assert uploads.files == {}


async def test_a_link_serves_its_file_until_it_expires_and_never_a_forgery() -> None:
    uploads = Uploads()
    info = await files_service(uploads).upload(
        SCOPE, "store-1", "a.pdf", "application/pdf", b"%PDF", uploaded_by="a"
    )
    token = SIGNER.sign(info.file_id, T0 + timedelta(minutes=5))
    got = await files_service(uploads).open_link(token)
    assert [chunk async for chunk in got.chunks] == [b"%PDF"]
    with pytest.raises(LinkExpired):
        await files_service(uploads, T0 + timedelta(minutes=5)).open_link(token)
    with pytest.raises(LinkInvalid):
        await files_service(uploads).open_link(token[:-1] + "x")
    with pytest.raises(LinkInvalid):  # genuine, but the file is gone
        await files_service(uploads).open_link(SIGNER.sign("f" * 24, T0 + timedelta(days=1)))
    with pytest.raises(LinkInvalid):  # no key configured: nothing is accepted
        await FileService(uploads, LIMITS, None).open_link(token)


async def test_a_reply_attaches_only_files_of_its_discussions_store() -> None:
    doc = discussion("t1")
    uploads = Uploads()
    files = files_service(uploads)
    mine = await files.upload(SCOPE, "store-1", "a.pdf", "application/pdf", b"1", uploaded_by="a")
    theirs = await files.upload(
        Scope.of(["store-2"]), "store-2", "b.pdf", "application/pdf", b"2", uploaded_by="b"
    )
    publisher = RecordingPublisher()
    service = DiscussionService(
        InMemoryDiscussions(doc), publisher, uploads=files, max_attachments=2
    )
    await service.request_reply(
        SCOPE, doc.id, ReplyRequest("Hi", attachment_ids=[mine.file_id]), requested_by="a"
    )
    assert publisher.published[0].data.attachment_file_ids == [mine.file_id]
    for ids, code in (
        ([theirs.file_id], "unknown_attachment"),
        (["nope"], "unknown_attachment"),
        ([mine.file_id, theirs.file_id, "x"], "too_many"),
    ):
        with pytest.raises(ReplyRejected) as rejected:
            await service.request_reply(
                SCOPE, doc.id, ReplyRequest("Hi", attachment_ids=ids), requested_by="a"
            )
        assert (rejected.value.field, rejected.value.code) == ("attachment_ids", code)
    assert len(publisher.published) == 1


# --- retries -----------------------------------------------------------------------


def failed_delivery(doc: Any, state: str = "failed") -> InMemoryDeliveryRecords:
    command = ReplyCommand(
        command_id="cmd-00000001",
        discussion_id=doc.id,
        store_id=doc.store_id,
        marketplace=doc.marketplace,
        thread_id=doc.thread_id,
        body="Hi",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="a",
        requested_at=T0,
    )
    outbox = InMemoryDeliveryRecords()
    outbox.hold(command, state, "503")
    return outbox


async def test_a_retry_queues_the_same_command_in_the_next_round() -> None:
    doc = discussion("t1")
    records, publisher = failed_delivery(doc), RecordingPublisher()
    service = DeliveryService(InMemoryDiscussions(doc), records, publisher)
    queued = await service.retry(SCOPE, doc.id, "cmd-00000001")
    assert queued.retry == 1
    (envelope,) = publisher.published
    assert (envelope.data.command_id, envelope.data.retry) == ("cmd-00000001", 1)
    assert envelope.data.body == "Hi"
    # Before the responder took it, a repeat is the same request: the same event id,
    # which the responder drops (and its conditional round change would refuse).
    assert (await service.retry(SCOPE, doc.id, "cmd-00000001")).retry == 1
    assert publisher.published[1].id == envelope.id
    records.rows["cmd-00000001"].update(state="queued", retry=1, attempts=0)  # taken
    with pytest.raises(DeliveryNotRetryable):  # queued now: only failed is retryable
        await service.retry(SCOPE, doc.id, "cmd-00000001")
    assert len(publisher.published) == 2
    assert records.rows["cmd-00000001"]["command"].retry == 0, "the gateway writes no record"


@pytest.mark.parametrize("state", ["queued", "sending", "sent"])
async def test_only_a_failed_delivery_can_be_retried(state: str) -> None:
    doc = discussion("t1")
    publisher = RecordingPublisher()
    service = DeliveryService(InMemoryDiscussions(doc), failed_delivery(doc, state), publisher)
    with pytest.raises(DeliveryNotRetryable, match=state):
        await service.retry(SCOPE, doc.id, "cmd-00000001")
    assert publisher.published == []


async def test_unknown_deliveries_and_other_accounts_discussions_are_not_found() -> None:
    doc = discussion("t1")
    service = DeliveryService(InMemoryDiscussions(doc), failed_delivery(doc), RecordingPublisher())
    with pytest.raises(DeliveryNotFound):
        await service.retry(SCOPE, doc.id, "cmd-unknown")
    with pytest.raises(DiscussionNotFound):
        await service.retry(Scope.of(["store-2"]), doc.id, "cmd-00000001")


@pytest.mark.parametrize("state", ["failed", "unknown"])
async def test_a_retry_that_cannot_be_queued_changes_nothing(state: str) -> None:
    doc = discussion("t1")
    records, publisher = failed_delivery(doc, state), RecordingPublisher()
    publisher.fail = True
    service = DeliveryService(InMemoryDiscussions(doc), records, publisher)
    with pytest.raises(OutboxDown):
        await service.retry(SCOPE, doc.id, "cmd-00000001")
    assert records.rows["cmd-00000001"]["state"] == state
    publisher.fail = False
    assert (await service.retry(SCOPE, doc.id, "cmd-00000001")).retry == 1
    assert publisher.published[-1].data.command_id == "cmd-00000001"


async def test_a_delivery_predating_kept_commands_cannot_be_retried() -> None:
    doc = discussion("t1")
    records = failed_delivery(doc)
    records.rows["cmd-00000001"]["command"] = None
    service = DeliveryService(InMemoryDiscussions(doc), records, RecordingPublisher())
    with pytest.raises(DeliveryNotRetryable, match="predates"):
        await service.retry(SCOPE, doc.id, "cmd-00000001")
