"""Generates the AsyncAPI 3.0 document of Parley's topics from the contracts.

``python -m parley_schemas.asyncapi > libs/schemas/asyncapi.yaml`` — generated, not
hand-written, so the document cannot drift from the models; a unit test compares.
"""

from __future__ import annotations

import json
from typing import Any

from .examples import PUBLIC_TYPES, example
from .topics import ALL_TOPICS


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        channel_id = topic.name.replace(".", "_")
        channel_messages = {}
        for record_type in topic.record_types:
            message_id = record_type.name.removeprefix("com.parley.").replace(".", "_")
            messages[message_id] = {
                "name": record_type.name,
                "title": record_type.model.__name__,
                "summary": (record_type.model.__doc__ or "").strip().splitlines()[0]
                if record_type.model.__doc__
                else record_type.model.__name__,
                "contentType": "application/cloudevents+json",
                "headers": {
                    "type": "object",
                    "properties": {
                        "content-type": {"const": "application/cloudevents+json"},
                        "traceparent": {"type": "string", "description": "W3C trace context"},
                    },
                },
                "payload": {"$ref": f"jsonschema/{record_type.name}.json"},
                "bindings": {"kafka": {"key": {"type": "string", "description": topic.key}}},
            }
            if record_type in PUBLIC_TYPES:
                messages[message_id]["examples"] = [
                    {"name": message_id, "payload": example(record_type)}
                ]
            channel_messages[message_id] = {"$ref": f"#/components/messages/{message_id}"}
        channels[channel_id] = {
            "address": topic.name,
            "description": topic.description,
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    # Replication decides min.insync.replicas too (see Topic.config).
                    "topicConfiguration": {
                        "cleanup.policy": ["compact" if topic.compact else "delete"],
                        "retention.ms": topic.retention_ms
                        if topic.retention_ms is not None
                        else -1,
                    },
                    "bindingVersion": "0.5.0",
                }
            },
        }
        operations[f"consume_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Parley conversation events and commands",
            "version": "1.0.0",
            "description": (
                "Every record is a CloudEvents 1.0 envelope in structured mode (binary "
                "mode is refused); extension attributes (lower-case a-z0-9 names, string, "
                "integer or boolean values) are allowed and kept; "
                "a breaking change gets a new record type and topic version."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> str:
    """JSON is valid YAML; keeping JSON avoids a YAML dependency in the contracts."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
