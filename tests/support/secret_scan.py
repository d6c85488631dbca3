"""Scanning what services wrote (log files, exported spans) for secrets.

A :class:`SecretLedger` holds the secret values a test run handed out or learnt
(credentials, keys, API keys, link tokens, cursors) under a label; :meth:`leaks` finds
each of them in a text as written, URL-encoded or (for a ``Basic`` credential pair)
base64-encoded, and also finds secret *shapes* whose value the ledger cannot know (an
API key, a download-link token, a ``pwd=`` query value that is not masked).

Kafka records are scanned too (:func:`topic_texts`), for credentials only: a download
link is a message's content there (the reply that carries it to the buyer), as it is
in the discussion the API shows.

The scan reports where each leak is, never the secret itself: the report ends up in
CI output.
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

from aiokafka import AIOKafkaConsumer, TopicPartition

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
        self._content: set[str] = set()  # labels a message may carry by design

    def add(self, label: str, value: str, *, message_content: bool = False) -> None:
        """``message_content``: the value may be in a message's text by design (a
        download link in a reply), so records are not scanned for it."""
        if len(value) < MIN_SECRET_LENGTH:
            raise ValueError(f"{label}: a secret this short would match by chance")
        with self._lock:
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                self._forms.setdefault(form, label)
            if message_content:
                self._content.add(label)

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

    def leaks(self, text: str, where: str, *, credentials_only: bool = False) -> Iterator[Leak]:
        """The secrets in ``text``; ``credentials_only`` leaves out what a message may
        carry by design (link tokens)."""
        with self._lock:
            forms = [(f, label) for f, label in self._forms.items()]
            content = set(self._content)
        for form, label in forms:
            if form in text and not (credentials_only and label in content):
                yield Leak(label, where)
        for label, shape in UNMASKED_SHAPES.items():
            if credentials_only and label == "download-link token":
                continue
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

    def scan_records(self, records: Iterable[tuple[str, str]]) -> list[Leak]:
        """(where, text) of Kafka records, for credentials (see the module's docstring)."""
        found: list[Leak] = []
        for where, text in records:
            found += self.leaks(text, where, credentials_only=True)
        return found


async def _topic_texts(bootstrap: str, prefix: str) -> list[tuple[str, str]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith(prefix)]
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(cluster.partitions_for_topic(topic) or set())
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        left = {tp for tp, end in ends.items() if end > 0}
        texts: list[tuple[str, str]] = []
        while left:
            batch = await consumer.getmany(*left, timeout_ms=1000)
            if not batch:
                break
            for tp, messages in batch.items():
                for m in messages:
                    parts = [m.key or b"", m.value or b"", *(v for _, v in m.headers or ())]
                    text = " ".join(part.decode(errors="replace") for part in parts)
                    texts.append((f"record {tp.topic}[{tp.partition}]@{m.offset}", text))
                    if m.offset + 1 >= ends[tp]:
                        left.discard(tp)
        return texts
    finally:
        await consumer.stop()


def topic_texts(bootstrap: str, prefix: str) -> list[tuple[str, str]]:
    """Every record now in the topics named ``prefix…``, as (where, text), read in a
    thread of its own so a caller outside (or inside) an event loop can use it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _topic_texts(bootstrap, prefix)).result()


def summary(leaks: list[Leak], limit: int = 40) -> str:
    """One line per leak (label and place), deduplicated, at most ``limit`` of them."""
    distinct = sorted({str(leak) for leak in leaks})
    more = f"\n… and {len(distinct) - limit} more" if len(distinct) > limit else ""
    return "\n".join(distinct[:limit]) + more
