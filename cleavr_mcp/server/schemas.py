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


# --- Context budget -------------------------------------------------------------------------------------------
# What every conversation pays before the first call: the model is shown each tool's name, description and input
# schema; clients also fetch the output schemas and validate every result against them. Checked by
# tests/server/test_context_budget.py (bytes), printed per tool with cl100k tokens by benchmarks/context_cost.py.
SHOWN_BUDGET_BYTES = 20_000  # name + description + inputSchema, all tools together
SHOWN_PER_TOOL_BYTES = 3_000
OUTPUT_BUDGET_BYTES = 20_000  # outputSchema, all tools together


def json_size(value: Any) -> int:
    """Bytes of `value` as compact JSON (UTF-8), the form a client sends on to the model."""
    import json

    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def shown_to_model(tool: dict[str, Any]) -> dict[str, Any]:
    """The part of a tools/list entry (wire form) that a model is shown."""
    return {key: tool[key] for key in ("name", "description", "inputSchema") if key in tool}
