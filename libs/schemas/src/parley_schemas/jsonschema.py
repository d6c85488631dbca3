"""JSON Schema export of every record, the artefact internal consumers code against.

``python -m parley_schemas.jsonschema <dir>`` writes one file per record type;
the files are committed under libs/schemas/jsonschema/ and a unit test fails when
the models drift from them or change incompatibly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .compat import breaking_changes
from .envelope import Envelope
from .topics import RECORD_TYPES


def schema_for(type_name: str) -> dict[str, Any]:
    record_type = RECORD_TYPES[type_name]
    schema = Envelope[record_type.model].model_json_schema(mode="serialization")  # type: ignore[name-defined]
    schema["$id"] = f"https://parley.example/schemas/{type_name}.json"
    schema["title"] = type_name
    schema["properties"]["type"] = {"const": type_name, "type": "string", "title": "Type"}
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    return {name: schema_for(name) for name in sorted(RECORD_TYPES)}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class BreakingChange(RuntimeError):
    """A model change that would break consumers of an already published record type."""


def write_all(directory: Path) -> list[Path]:
    """Writes every schema, refusing to overwrite one with a breaking change."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        path = directory / f"{name}.json"
        if path.exists():
            problems = breaking_changes(json.loads(path.read_text()), schema)
            if problems:
                raise BreakingChange(
                    f"{name} would break its consumers ({'; '.join(problems)}); "
                    "publish a new versioned record type instead"
                )
        path.write_text(render(schema))
        written.append(path)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "libs/schemas/jsonschema")
    try:
        for p in write_all(out):
            print(p)
    except BreakingChange as exc:
        raise SystemExit(str(exc)) from exc
