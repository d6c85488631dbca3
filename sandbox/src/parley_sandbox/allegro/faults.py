"""Fault targets of the Allegro family, for the shared faults and fault routes.

Operations are named after the reference's operationIds (shortened), plus ``token``
for the OAuth endpoint. Faults that corrupt a JSON answer apply only to calls that
answer JSON, never to file downloads.
"""

from __future__ import annotations

from parley_sandbox.faults import FaultTargets

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
FAULT_TARGETS = FaultTargets(OPERATIONS, JSON_OPERATIONS)
