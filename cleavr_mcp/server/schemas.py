"""Keep tools/list small: the schemas pydantic generates carry titles and null-unions the model does not need.

Input schemas: drop property titles and `default: null`, and turn `anyOf [X, null]` into X (an optional field is
simply not required). Output schemas keep their null-unions (clients validate structuredContent against them)
and only lose the titles.
"""

from __future__ import annotations

from typing import Any


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def compact(schema: Any, *, drop_nulls: bool) -> Any:
    if isinstance(schema, list):
        return [compact(s, drop_nulls=drop_nulls) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and value is None and drop_nulls:
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties"):
            out[key] = {name: compact(sub, drop_nulls=drop_nulls) for name, sub in value.items()}
            continue
        out[key] = compact(value, drop_nulls=drop_nulls)
    if drop_nulls and isinstance(out.get("anyOf"), list):
        options = [o for o in out["anyOf"] if not _is_null(o)]
        if len(options) == 1 and len(options) < len(out["anyOf"]):
            merged = {k: v for k, v in out.items() if k != "anyOf"}
            return {**options[0], **merged}
    return out
