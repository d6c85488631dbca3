"""The reference consumer (examples/unread_counter) on the catalogue's own examples:
it needs nothing but the events, and a duplicate changes nothing."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from parley_schemas import (
    DISCUSSION_CREATED,
    DISCUSSION_DELETED,
    DISCUSSION_READ_CHANGED,
    DISCUSSION_STATUS_CHANGED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
)
from parley_schemas.examples import example

SOURCE = Path(__file__).resolve().parents[3] / "examples" / "unread_counter" / "counter.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unread_counter", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(record_type: Any, event_id: str, **data: Any) -> dict[str, Any]:
    value = example(record_type)
    value["id"] = event_id
    value["data"].update(data)
    return value


def test_it_imports_no_parley_code() -> None:
    tree = ast.parse(SOURCE.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.startswith("parley")]


def test_a_day_of_events_gives_the_unread_count_per_store() -> None:
    counter = load().UnreadCounter()
    script = [
        event(DISCUSSION_CREATED, "1", discussion_id="a", store_id="s1"),
        event(MESSAGE_RECEIVED, "2", discussion_id="a", store_id="s1"),
        event(DISCUSSION_CREATED, "3", discussion_id="b", store_id="s1"),
        event(DISCUSSION_CREATED, "4", discussion_id="c", store_id="s2"),
        event(DISCUSSION_READ_CHANGED, "5", discussion_id="a", store_id="s1", read=True),
        event(MESSAGE_SENT, "6", discussion_id="a", store_id="s1"),  # a reply: no change
        event(DISCUSSION_STATUS_CHANGED, "7", discussion_id="b", store_id="s1", read=True),
        event(MESSAGE_RECEIVED, "8", discussion_id="b", store_id="s1"),  # unread again
        event(DISCUSSION_DELETED, "9", discussion_id="c", store_id="s2"),
        event(DISCUSSION_READ_CHANGED, "5", discussion_id="a", store_id="s1", read=False),
        {"id": "10", "type": "com.example.unknown.v1", "data": {"x": 1}},
    ]
    for value in script:
        counter.apply(json.loads(json.dumps(value)))

    assert counter.unread() == {"s1": 1}  # b; the duplicate id 5 was skipped
