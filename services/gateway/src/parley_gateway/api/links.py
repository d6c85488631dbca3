"""Links the API hands out, built in one place so REST and GraphQL give the same ones."""

from __future__ import annotations

from urllib.parse import quote


def attachment_path(discussion_id: str, file_id: str, *, root_path: str = "") -> str:
    """Where an attachment downloads (GET, with the caller's API key).

    A path on the gateway rather than an absolute URL: the gateway cannot know the
    host and scheme clients reach it by behind proxies, while ``root_path`` (the
    mount prefix) keeps the path right when the gateway is served under one.
    """
    return (
        f"{root_path}/discussions/{quote(discussion_id, safe='')}"
        f"/attachments/{quote(file_id, safe='')}"
    )
