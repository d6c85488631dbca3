"""Native attachment or download link (F18): the decision, and the reply it makes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parley_connectors.mirakl.catalogue import MB
from parley_connectors.reply_rules import RuleViolation
from parley_platform.signed_links import LinkSigner
from parley_responder.domain.attachments import (
    AttachmentPolicy,
    ReplyFile,
    append_links,
    plan_attachments,
    policy_for,
)
from parley_responder.outgoing import ReplyPreparer
from parley_schemas import ParticipantRole, ReplyCommand
from parley_store import FileInfo, FileNotStored, StoredFile

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
KEY = b"unit-test-link-signing-key"
BASE = "https://parley.example"


def pdf(file_id: str = "f1", size: int = 1000, name: str = "facture.pdf") -> ReplyFile:
    return ReplyFile(file_id, name, "application/pdf", size)


def names(files: object) -> list[str]:
    return [f.file_id for f in files]  # type: ignore[attr-defined]


# --- the decision ------------------------------------------------------------------


def test_mirakl_instances_take_pdfs_natively_but_not_other_types() -> None:
    policy = policy_for("mirakl", "carrefour", "t1")
    plan = plan_attachments([pdf("a"), ReplyFile("b", "notes.zip", "application/zip", 10)], policy)
    assert names(plan.native) == ["a"]
    ((linked, reason),) = [(x.file.file_id, x.reason) for x in plan.linked]
    assert linked == "b"
    assert "application/zip" in reason


def test_a_message_over_the_per_message_budget_sends_the_later_files_as_links() -> None:
    policy = policy_for("mirakl", "decathlon", "t1")  # 5 MB per message (assumed)
    plan = plan_attachments([pdf("a", 3 * MB), pdf("b", 3 * MB), pdf("c", MB)], policy)
    assert names(plan.native) == ["a", "c"]
    assert names(x.file for x in plan.linked) == ["b"]
    assert plan.native_bytes == 4 * MB


def test_empik_counts_what_the_conversation_already_carries() -> None:
    policy = policy_for("mirakl", "empik", "t1")
    assert policy.max_conversation_bytes == 10 * MB
    fresh = plan_attachments([pdf("a", 4 * MB)], policy, conversation_bytes=0)
    assert names(fresh.native) == ["a"]
    full = plan_attachments([pdf("a", 4 * MB)], policy, conversation_bytes=7 * MB)
    assert not full.native
    assert "per conversation" in full.linked[0].reason
    # Within one reply, the 5 MB per message comes first: the second file is a link.
    two = plan_attachments([pdf("a", 4 * MB), pdf("b", 4 * MB)], policy, conversation_bytes=1)
    assert names(two.native) == ["a"]


@pytest.mark.parametrize(
    ("family", "marketplace", "thread"),
    [("fnac", "fnac", "order:1"), ("rakuten", "rakuten", "item:1"), ("mirakl", "darty", "t")],
)
def test_marketplaces_without_reply_files_get_links_only(
    family: str, marketplace: str, thread: str
) -> None:
    plan = plan_attachments([pdf()], policy_for(family, marketplace, thread))
    assert not plan.native
    assert plan.linked[0].reason


def test_allegro_message_center_takes_files_natively_but_issues_do_not() -> None:
    center = policy_for("allegro", "allegro", "thread-1")
    assert names(plan_attachments([pdf()], center).native) == ["f1"]
    too_big = plan_attachments([pdf(size=6 * MB)], center)
    assert "up to 5242880 bytes" in too_big.linked[0].reason
    issue = policy_for("allegro", "allegro", "issue:abc")
    assert not plan_attachments([pdf()], issue).native


def test_email_relays_check_the_extension_and_the_10_mb_per_mail() -> None:
    amazon = policy_for("email_relay", "amazon-de", "t")
    plan = plan_attachments(
        [pdf("a", 6 * MB), pdf("b", 6 * MB), ReplyFile("c", "x.exe", "application/pdf", 1)],
        amazon,
    )
    assert names(plan.native) == ["a"]
    assert names(x.file for x in plan.linked) == ["b", "c"]


def test_links_go_at_the_end_after_a_blank_line() -> None:
    text = append_links("Bonjour,\nvoici la facture.\n", [("facture.pdf", "https://x/links/t")])
    assert text == "Bonjour,\nvoici la facture.\n\nfacture.pdf: https://x/links/t"
    assert append_links("Bonjour", []) == "Bonjour"


def test_no_policy_limit_means_everything_goes_natively() -> None:
    policy = AttachmentPolicy(native=True, set_by="test")
    assert len(plan_attachments([pdf(str(i), 50 * MB) for i in range(3)], policy).native) == 3


# --- the prepared reply ------------------------------------------------------------


class Files:
    def __init__(self, *infos: FileInfo) -> None:
        self.infos = {i.file_id: i for i in infos}

    async def describe(self, file_id: str) -> FileInfo | None:
        return self.infos.get(file_id)

    async def open(self, file_id: str) -> StoredFile:
        info = self.infos.get(file_id)
        if info is None:
            raise FileNotStored(file_id)
        return StoredFile(file_id, info.name, info.content_type, info.size, b"x" * info.size)


class Usage:
    def __init__(self, used: int = 0) -> None:
        self.used = used

    async def attachment_bytes(self, discussion_id: str, excluding_command: str) -> int:
        return self.used


def command(
    *file_ids: str, body: str = "Voici la facture.", marketplace: str = "fnac"
) -> ReplyCommand:
    return ReplyCommand(
        command_id="cmd-abcdef01",
        discussion_id="d1",
        store_id="s1",
        marketplace=marketplace,
        thread_id="order:1",
        body=body,
        recipients=[ParticipantRole.CUSTOMER],
        attachment_file_ids=list(file_ids),
        requested_by="test",
        requested_at=NOW,
    )


SIGNER = LinkSigner(KEY)


def preparer(files: Files, signer: LinkSigner | None = SIGNER) -> ReplyPreparer:
    return ReplyPreparer(files, Usage(), signer, BASE, 3600, clock=lambda: NOW)


INVOICE = FileInfo("665f1c2e9b1e8a0012345678", "facture.pdf", "application/pdf", 2048, "s1")


async def test_a_file_fnac_cannot_carry_becomes_a_signed_link_at_the_end() -> None:
    prepared = await preparer(Files(INVOICE)).prepare(command(INVOICE.file_id), "fnac", retry=0)
    assert not prepared.native
    head, _, link = prepared.body.partition("\n\nfacture.pdf: ")
    assert head == "Voici la facture."
    assert link.startswith(f"{BASE}/links/")
    token = link.removeprefix(f"{BASE}/links/")
    assert LinkSigner(KEY).verify(token, NOW) == INVOICE.file_id


async def test_a_native_file_leaves_the_text_alone() -> None:
    prepared = await preparer(Files(INVOICE)).prepare(
        command(INVOICE.file_id, marketplace="carrefour"), "mirakl", retry=0
    )
    assert prepared.body == "Voici la facture."
    assert names(prepared.native) == [INVOICE.file_id]
    loaded = await preparer(Files(INVOICE)).load(prepared.native)
    assert loaded[0].name == "facture.pdf"
    assert len(loaded[0].content) == 2048


async def test_links_that_would_break_the_body_limit_fail_the_reply_clearly() -> None:
    with pytest.raises(RuleViolation, match=r"(?i)download link.*fnac accepts 4000"):
        await preparer(Files(INVOICE)).prepare(
            command(INVOICE.file_id, body="x" * 3950), "fnac", retry=0
        )


async def test_another_stores_file_or_a_missing_key_fails_the_reply() -> None:
    foreign = FileInfo("665f1c2e9b1e8a0012345679", "a.pdf", "application/pdf", 1, "s2")
    with pytest.raises(RuleViolation, match="not a file of store s1"):
        await preparer(Files(foreign)).prepare(command(foreign.file_id), "fnac", retry=0)
    with pytest.raises(RuleViolation, match="LINK_SIGNING_KEY"):
        await preparer(Files(INVOICE), None).prepare(command(INVOICE.file_id), "fnac", retry=0)
