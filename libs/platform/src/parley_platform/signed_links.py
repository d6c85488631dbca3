"""Signed, expiring download links for stored files (F18).

Where a marketplace cannot carry a reply's attachment, the responder appends a link
to the text, and the buyer, who has no API key, downloads the file from the gateway
through it. Both services hold the same secret (``LINK_SIGNING_KEY``); this module is
the one definition of the token both sign and check, so neither service imports the
other.

A token is ``<file id>.<expiry, Unix seconds>.<signature>``: the signature is
HMAC-SHA256 under the secret over a version label, the file id and the expiry, in
unpadded base64url. Changing any character of the id or the expiry breaks the
signature, so a buyer cannot turn one link into another file or a longer life. The
token says nothing secret (a file id is an opaque ObjectId) and needs no server-side
state, so links keep working across restarts and replicas; they cannot be revoked one
by one before they expire (rotating the key revokes them all).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_LINK_TTL_SECONDS = 7 * 24 * 3600
MIN_KEY_BYTES = 16
_LABEL = b"parley-download-link-v1"
_FILE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{1,64})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$")


class LinkSettings(BaseSettings):
    """The settings the responder (signs) and the gateway (checks) share.

    Mixed into each service's settings so both read the same variables.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", validate_default=True)

    link_signing_key: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key of download links; the same value in the responder and the "
        f"gateway, at least {MIN_KEY_BYTES} bytes. Empty: no links are made or accepted",
    )
    link_ttl_seconds: int = Field(
        default=DEFAULT_LINK_TTL_SECONDS, gt=0, description="How long a download link works"
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The gateway's public root URL, as buyers reach it (links point there)",
    )

    @field_validator("link_signing_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        # Checked here, at load, rather than when the signer is built in a lifespan.
        key = value.get_secret_value()
        if key and len(key.encode()) < MIN_KEY_BYTES:
            raise PydanticCustomError(
                "link_signing_key",
                f"must be at least {MIN_KEY_BYTES} bytes (or empty: no download links)",
            )
        return value

    @field_validator("public_base_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise PydanticCustomError("public_base_url", "must start with http:// or https://")
        return value

    def link_signer(self) -> LinkSigner | None:
        """The signer, or None when no key is configured."""
        key = self.link_signing_key.get_secret_value()
        return LinkSigner(key.encode()) if key else None


class LinkRefused(Exception):
    """The link cannot be honoured; ``expired`` tells a stale link from a forged one."""

    expired = False


class LinkInvalid(LinkRefused):
    """Malformed, signed with another key, or altered."""


class LinkExpired(LinkRefused):
    """Genuine, but past its expiry."""

    expired = True


@dataclass(frozen=True)
class LinkSigner:
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_BYTES:
            raise ValueError(f"a link signing key needs at least {MIN_KEY_BYTES} bytes")

    def sign(self, file_id: str, expires_at: datetime) -> str:
        """The token of a link to ``file_id`` that works until ``expires_at``."""
        if not _FILE_ID.match(file_id):
            raise ValueError(f"not a file id that can go in a link: {file_id!r}")
        expiry = int(expires_at.timestamp())
        return f"{file_id}.{expiry}.{self._signature(file_id, expiry)}"

    def verify(self, token: str, now: datetime) -> str:
        """The file id the token grants; LinkInvalid or LinkExpired otherwise.

        The signature is checked first (in constant time), so a forged token is
        always "invalid" whatever expiry it claims.
        """
        match = _TOKEN.match(token)
        if match is None:
            raise LinkInvalid("malformed link")
        file_id, expiry_text, signature = match.groups()
        expiry = int(expiry_text)
        if not hmac.compare_digest(signature, self._signature(file_id, expiry)):
            raise LinkInvalid("bad signature")
        if now.timestamp() >= expiry:
            raise LinkExpired(f"expired at {datetime.fromtimestamp(expiry, UTC).isoformat()}")
        return file_id

    def _signature(self, file_id: str, expiry: int) -> str:
        message = b"\x1f".join((_LABEL, file_id.encode(), str(expiry).encode()))
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link_expiry(now: datetime, ttl_seconds: int) -> datetime:
    return now + timedelta(seconds=ttl_seconds)


def download_url(public_base_url: str, token: str) -> str:
    """Where the gateway serves the token (``GET /links/{token}``)."""
    return f"{public_base_url.rstrip('/')}/links/{token}"
