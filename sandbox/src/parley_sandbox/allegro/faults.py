"""Fault injection for the Allegro family, on the shared fault queue.

Operations are named after the reference's operationIds (shortened), plus ``token``
for the OAuth endpoint. Faults that corrupt a JSON answer apply only to calls that
answer JSON, never to file downloads.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley_sandbox.faults import Fault, FaultKind

DOWNLOADS = frozenset({"downloadAttachment", "getIssueAttachment"})
JSON_OPERATIONS = frozenset(
    {
        "listThreads",
        "getThread",
        "listMessages",
        "newMessageInThread",
        "newAttachmentDeclaration",
        "uploadAttachment",
        "changeReadFlag",
        "getIssues",
        "getIssue",
        "getChat",
        "addMessageToIssue",
        "token",
    }
)
OPERATIONS = JSON_OPERATIONS | DOWNLOADS
_JSON_ONLY = frozenset({FaultKind.MALFORMED, FaultKind.GARBAGE})


@dataclass
class AllegroFault(Fault):
    """A :class:`Fault` that knows which Allegro operations answer JSON."""

    def applies_to(self, operation: str) -> bool:
        if self.operations and operation not in self.operations:
            return False
        return not (self.kind in _JSON_ONLY and operation not in JSON_OPERATIONS)
