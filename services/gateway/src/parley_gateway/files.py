"""Files merchants upload to attach to replies, and the public download links (F18).

An upload belongs to one of the caller's stores (given with the upload): a reply may
attach only files of its discussion's store, so one account's files never reach
another account's buyers. The responder sends each file natively where the
marketplace takes it, and otherwise as a signed, expiring link to ``GET /links/…``;
that route is public (the buyer has no API key) and trusts nothing but the link's
signature and expiry.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from parley_gateway.domain import ReplyRejected, Scope
from parley_gateway.ports import UploadStore
from parley_platform.logging import get_logger
from parley_platform.signed_links import LinkInvalid, LinkSigner
from parley_schemas import utcnow
from parley_store import FileDownload, FileInfo, FileNotStored

log = get_logger(__name__)

MAX_NAME_CHARS = 255


class UploadRejected(ValueError):
    """The upload breaks a rule; ``status`` is the HTTP status that says which."""

    def __init__(self, status: int, field: str, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status = status
        self.field = field
        self.detail = detail
        self.code = code


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    content_types: frozenset[str]


def upload_content_type(declared: str | None, name: str) -> str:
    """The bare media type: the declared one, else guessed from the file name."""
    bare = (declared or "").split(";")[0].strip().lower()
    if bare and bare != "application/octet-stream":
        return bare
    return (mimetypes.guess_type(name)[0] or "application/octet-stream").lower()


def clean_file_name(name: str | None) -> str:
    """The base name only (a client may send a path), trimmed; never empty."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:MAX_NAME_CHARS] or "attachment"


class FileService:
    def __init__(
        self,
        files: UploadStore,
        limits: UploadLimits,
        signer: LinkSigner | None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._files = files
        self._limits = limits
        self._signer = signer
        self._clock = clock

    @property
    def max_bytes(self) -> int:
        return self._limits.max_bytes

    async def upload(
        self,
        scope: Scope,
        store_id: str,
        name: str | None,
        declared_type: str | None,
        content: bytes,
        *,
        uploaded_by: str,
    ) -> FileInfo:
        """Stores one file for one of the caller's stores; UploadRejected otherwise.

        A store outside the caller's scope is refused like an unknown one (422).
        """
        if not store_id or not scope.allows(store_id):
            raise UploadRejected(
                422, "store_id", f"{store_id!r} is not one of your stores", "store"
            )
        if len(content) > self._limits.max_bytes:
            raise UploadRejected(
                413, "file", f"a file holds at most {self._limits.max_bytes} bytes", "too_large"
            )
        if not content:
            raise UploadRejected(422, "file", "the file is empty", "empty")
        file_name = clean_file_name(name)
        content_type = upload_content_type(declared_type, file_name)
        if content_type not in self._limits.content_types:
            allowed = ", ".join(sorted(self._limits.content_types))
            raise UploadRejected(
                415, "file", f"{content_type} files are not accepted; use one of {allowed}", "type"
            )
        file_id = await self._files.save(
            f"upload/{store_id}/{uuid.uuid4().hex}",
            file_name,
            content_type,
            content,
            store_id=store_id,
            uploaded_by=uploaded_by,
        )
        log.info("file uploaded", file_id=file_id, store_id=store_id, size=len(content))
        return FileInfo(file_id, file_name, content_type, len(content), store_id)

    async def describe(self, file_id: str) -> FileInfo | None:
        return await self._files.describe(file_id)

    async def keep_generated(
        self, store_id: str, key: str, name: str, content_type: str, content: bytes, *, by: str
    ) -> str:
        """Stores a document Parley made for a store (an invoice to attach), once per
        ``key``: the same key gives the same file id, so a repeated request attaches
        the same file. Only trusted callers reach this: no upload limits apply."""
        file_id = await self._files.save(
            f"generated/{store_id}/{key}",
            name,
            content_type,
            content,
            store_id=store_id,
            uploaded_by=by,
        )
        log.info("generated file kept", file_id=file_id, store_id=store_id, size=len(content))
        return file_id

    async def open_link(self, token: str) -> FileDownload:
        """The file a download link grants; LinkRefused (invalid or expired) otherwise.

        Without a signing key nothing is accepted. A genuine link to a file that is gone
        is refused as invalid too: the buyer learns nothing about which files exist.
        """
        if self._signer is None:
            raise LinkInvalid("download links are not configured")
        file_id = self._signer.verify(token, self._clock())
        try:
            return await self._files.download(file_id)
        except FileNotStored as exc:
            raise LinkInvalid("the file is gone") from exc


async def check_attachments(
    files: FileService | None,
    store_id: str,
    file_ids: Iterable[str],
    max_count: int,
    *,
    with_invoice: bool = False,
) -> list[str]:
    """The ids, each once, in order, if all are files of ``store_id``.

    ``with_invoice``: the reply also carries the order's invoice, made after this check,
    which counts towards ``max_count``. Raises
    :class:`~parley_gateway.domain.ReplyRejected` naming ``attachment_ids``.
    """
    ids = list(dict.fromkeys(file_ids))
    if len(ids) + with_invoice > max_count:
        with_it = " (the invoice included)" if with_invoice else ""
        raise ReplyRejected(
            "attachment_ids", f"a reply attaches at most {max_count} files{with_it}", "too_many"
        )
    if not ids:
        return []
    if files is None:
        raise ReplyRejected("attachment_ids", "attachments are not available", "unavailable")
    for file_id in ids:
        info = await files.describe(file_id)
        # Another store's file is refused like an unknown one: ids are not a way to probe.
        if info is None or info.store_id != store_id:
            raise ReplyRejected(
                "attachment_ids",
                f"{file_id} is not a file uploaded for this discussion's store",
                "unknown_attachment",
            )
    return ids
