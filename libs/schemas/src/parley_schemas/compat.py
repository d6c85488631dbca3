"""Finds changes between two JSON Schemas of one record type that would break a consumer.

A consumer coded against the old schema breaks when a field it reads disappears or
changes type, when a field becomes required that old producers never sent, or when an
enum gains or loses a value (it cannot parse the new one / relies on the old one).
Such a change needs a new record type and topic version instead.

Two rules concern the CloudEvents envelope itself:

- ``id``, ``specversion`` and ``time`` becoming required at the envelope's root is
  not a break: every envelope a Parley producer has ever written carried them
  (pydantic serialises defaults and default factories); the schemas published before
  simply did not declare it. Requiring them describes records that already exist.
- Allowing extension attributes (``additionalProperties`` from ``false`` to a schema)
  is compatible: the CloudEvents spec requires consumers to tolerate extensions they
  do not know. Taking that back — forbidding them, or narrowing the types their values
  may have — breaks every producer and consumer that adds one (the SDK's Kafka binding
  adds ``partitionkey``), so it is reported.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# Envelope attributes every Parley record always carried: requiring them breaks no one.
ALWAYS_SENT = frozenset({"$.id", "$.specversion", "$.time"})


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].split("/")[-1]
        node = root.get("$defs", {})[name]
    return node


def _types(node: Schema, root: Schema) -> set[str]:
    node = _resolve(node, root)
    if "anyOf" in node:
        found: set[str] = set()
        for option in node["anyOf"]:
            found |= _types(option, root)
        return found
    if "const" in node:
        return {f"const:{node['const']}"}
    kind = node.get("type")
    if isinstance(kind, list):
        return set(kind)
    return {kind or "any"}


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    problems: list[str] = []
    _compare(old, new, old, new, "$", problems)
    return problems


def _compare(
    old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, out: list[str]
) -> None:
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    if "enum" in old or "enum" in new:
        if set(old.get("enum", [])) != set(new.get("enum", [])):
            out.append(f"{path}: enum changed {old.get('enum')} -> {new.get('enum')}")
        return
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if not old_types <= new_types and "any" not in new_types:
        out.append(f"{path}: type changed {sorted(old_types)} -> {sorted(new_types)}")
        return
    if "anyOf" in old and "anyOf" in new:
        for o in old["anyOf"]:
            o_r = _resolve(o, old_root)
            match = next(
                (n for n in new["anyOf"] if _types(n, new_root) == _types(o_r, old_root)),
                None,
            )
            if match is not None:
                _compare(o_r, match, old_root, new_root, path, out)
        return
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_prop in old_props.items():
        if name not in new_props:
            out.append(f"{path}.{name}: removed")
            continue
        _compare(old_prop, new_props[name], old_root, new_root, f"{path}.{name}", out)
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        if f"{path}.{name}" not in ALWAYS_SENT:
            out.append(f"{path}.{name}: became required")
    _compare_extensions(old, new, old_root, new_root, path, out)
    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], old_root, new_root, f"{path}[]", out)


def _compare_extensions(
    old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, out: list[str]
) -> None:
    """Extension attributes once allowed stay allowed, with at least the same value types."""
    old_extra = old.get("additionalProperties", True)
    new_extra = new.get("additionalProperties", True)
    if old_extra is False:
        return
    if new_extra is False:
        out.append(f"{path}: extension attributes no longer accepted")
        return
    if isinstance(old_extra, dict) and isinstance(new_extra, dict):
        _compare(old_extra, new_extra, old_root, new_root, f"{path}.<extension>", out)
