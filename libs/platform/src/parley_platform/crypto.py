"""Encryption of marketplace credentials at rest (Fernet: AES-128-CBC + HMAC-SHA256).

Credentials are decrypted only in memory, right before a marketplace call, and the
key comes from the environment (a Kubernetes secret in production), never the repo.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken


class CredentialsUnreadable(RuntimeError):
    """The stored credentials cannot be decrypted with the configured key."""


class CredentialCipher:
    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("CREDENTIALS_KEY is not set: marketplace credentials cannot be stored")
        self._fernet = Fernet(key.encode())

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, credentials: dict[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, str]:
        try:
            data = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise CredentialsUnreadable("credentials were encrypted with another key") from exc
        return {str(k): str(v) for k, v in data.items()}
