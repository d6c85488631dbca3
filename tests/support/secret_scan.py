"""Scanning what services wrote (log files, exported spans) for secrets.

A :class:`SecretLedger` holds the secret values a test run handed out or learnt
(credentials, keys, API keys, link tokens, cursors) under a label; :meth:`leaks` finds
each of them in a text as written, URL-encoded or (for a ``Basic`` credential pair)
base64-encoded, and also finds secret *shapes* whose value the ledger cannot know (an
API key, a download-link token, a ``pwd=`` query value that is not masked).

The scan reports where each leak is, never the secret itself: the report ends up in
CI output.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

from support.otlp import ReceivedSpan

# Shapes of a secret whose value a test may not know (an API key made by a README
# block, a link token the responder signed), left unmasked.
UNMASKED_SHAPES = {
    "API key": re.compile(r"\bprl_(?!<redacted>)[A-Za-z0-9_-]{8,}"),
    "download-link token": re.compile(r"/links/(?!<redacted>|\{token\})[A-Za-z0-9._~-]{16,}"),
    "credential query parameter": re.compile(
        r"\b(?:pwd|password|token|access_token|refresh_token|client_secret|api_key)="
        r"(?!<redacted>|%3Credacted%3E)[^&\s\"'<>]+",
        re.I,
    ),
    "bearer credential": re.compile(r"\bBearer\s+(?!<redacted>)[A-Za-z0-9._~+/=-]{12,}"),
}
MIN_SECRET_LENGTH = 8  # shorter values would match by chance


@dataclass(frozen=True)
class Leak:
    label: str  # what leaked (never its value)
    where: str  # file:line or span service/name

    def __str__(self) -> str:
        return f"{self.label} in {self.where}"


class SecretLedger:
    """The run's known secrets, by label. Thread-safe: httpx hooks add to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: dict[str, str] = {}  # a written form -> its label

    def add(self, label: str, value: str) -> None:
        if len(value) < MIN_SECRET_LENGTH:
            raise ValueError(f"{label}: a secret this short would match by chance")
        with self._lock:
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                self._forms.setdefault(form, label)

    def add_basic(self, label: str, user: str, password: str) -> None:
        """A pair sent as HTTP Basic credentials: the password and the encoded pair."""
        self.add(label, password)
        self.add(f"{label} (Basic)", base64.b64encode(f"{user}:{password}".encode()).decode())

    def __len__(self) -> int:
        with self._lock:
            return len(set(self._forms.values()))

    def labels(self) -> set[str]:
        with self._lock:
            return set(self._forms.values())

    def leaks(self, text: str, where: str) -> Iterator[Leak]:
        with self._lock:
            forms = list(self._forms.items())
        for form, label in forms:
            if form in text:
                yield Leak(label, where)
        for label, shape in UNMASKED_SHAPES.items():
            if shape.search(text):
                yield Leak(f"unmasked {label}", where)

    def scan_logs(self, paths: Iterable[Path]) -> tuple[int, list[Leak]]:
        """Every line of every file; answers how many lines were read and the leaks."""
        lines, found = 0, []
        for path in paths:
            text = path.read_text(errors="replace")
            for number, line in enumerate(text.splitlines(), 1):
                lines += 1
                found += self.leaks(line, f"{path.name}:{number}")
        return lines, found

    def scan_spans(self, spans: Iterable[ReceivedSpan]) -> list[Leak]:
        found: list[Leak] = []
        for span in spans:
            where = f"span {span.service}:{span.name!r}"
            for text in span.texts():
                found += self.leaks(text, where)
        return found


def summary(leaks: list[Leak], limit: int = 40) -> str:
    """One line per leak (label and place), deduplicated, at most ``limit`` of them."""
    distinct = sorted({str(leak) for leak in leaks})
    more = f"\n… and {len(distinct) - limit} more" if len(distinct) > limit else ""
    return "\n".join(distinct[:limit]) + more
