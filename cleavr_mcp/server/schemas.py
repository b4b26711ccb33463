"""Keep tools/list small: the schemas pydantic generates carry titles and null-unions the model does not need.

Input schemas: drop property titles and `default: null`, and turn `anyOf [X, null]` into X (an optional field is
simply not required).

Output schemas (`output_shape`) describe the shape only: clients validate every result against them and a model
rarely reads them, so descriptions, examples, defaults, `required` and value constraints (enums, formats,
patterns, lengths, bounds) go, `$ref`s are inlined and null-unions become type lists (`"type": ["string", "null"]`). Less than half
the bytes, and a third of the client's validation time (a `$ref` or an `anyOf` costs its JSON-Schema validator far
more than a type list).
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


# Length limits a model never comes near (ids, invoice numbers, names, notes) are enforced by the server but not
# shown; tighter ones (postal codes, phones) are shown because a model could hit them.
GENEROUS_MAX_LENGTH = 64


def input_shape(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema as shown to the model: `compact`, without `minLength: 1`, generous `maxLength`s and
    `additionalProperties: false` (the server refuses unknown fields by name), and with each definition used once
    written in place (no `$ref` to follow)."""
    schema = compact(schema, drop_nulls=True)
    defs = schema.get("$defs", {})
    uses: dict[str, int] = {}
    for ref in _refs(schema):
        if ref.startswith("#/$defs/"):
            uses[ref[8:]] = uses.get(ref[8:], 0) + 1
    inline = {name for name, count in uses.items() if count == 1 and f"#/$defs/{name}" not in set(_refs(defs[name]))}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref[8:] in inline and ref.startswith("#/$defs/"):
            return walk({**defs[ref[8:]], **{k: v for k, v in node.items() if k != "$ref"}})
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$defs":
                continue
            if (key == "minLength" and value == 1 or key == "maxLength" and value >= GENEROUS_MAX_LENGTH
                    or key == "additionalProperties" and value is False):
                continue
            if key == "propertyNames" and isinstance(value, dict) and set(value) <= {"maxLength", "minLength"}:
                continue  # only length limits on key names, hidden like the others
            if key in ("properties", "patternProperties"):
                out[key] = {name: walk(sub) for name, sub in value.items()}
            else:
                out[key] = walk(value)
        return out

    shaped = walk(schema)
    kept = {name: walk(d) for name, d in defs.items() if name not in inline}
    if kept:
        shaped["$defs"] = kept
    return shaped


# Dropped from output schemas: annotations, and constraints the server's own result models already enforce; the
# shape stays (types, properties, items). `required` goes too: every field is always present in a result (defaults
# included), so it tells a reader nothing and cost a third of the bytes. Enums and formats go as well: the values
# are in each result itself (and in the input schemas and descriptions), and they cost another tenth.
_NOT_SHAPE = ("title", "description", "examples", "default", "required", "enum", "const", "format", "pattern", "minLength", "maxLength", "minimum", "maximum",
              "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems")
_NULL = {"type": "null"}


def _types(schema: dict[str, Any]) -> list[str] | None:
    t = schema.get("type")
    return [t] if isinstance(t, str) else list(t) if isinstance(t, list) else None


def _nullable(schema: dict[str, Any]) -> dict[str, Any] | None:
    """`schema` that also accepts null, as a type list; None when that cannot be said without anyOf."""
    types = _types(schema)
    if types is None:
        return None
    out = {**schema, "type": types if "null" in types else [*types, "null"]}
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    if "const" in out:
        return None
    return out


def _merge_any_of(options: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One schema for `anyOf` options that differ only in type (and null), else None (kept as anyOf)."""
    non_null = [o for o in options if o != _NULL]
    if len(non_null) == 1:
        return _nullable(non_null[0]) if len(non_null) < len(options) else non_null[0]
    if all(set(o) == {"type"} and isinstance(o["type"], str) for o in options):
        types = list(dict.fromkeys(o["type"] for o in options))  # options can differ only by a dropped format
        return {"type": types[0] if len(types) == 1 else types}
    return None


def output_shape(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema reduced to its shape (see the module docstring): it accepts every result `schema` accepts."""
    defs = schema.get("$defs", {})

    def walk(node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [walk(n, seen) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] not in seen:
            name = ref[8:]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return walk({**defs[name], **rest}, (*seen, name))
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _NOT_SHAPE or key == "$defs" or key == "additionalProperties" and value is True:
                continue  # (additionalProperties true is the default)
            if key in ("properties", "patternProperties"):
                out[key] = {name: walk(sub, seen) for name, sub in value.items()}
            else:
                out[key] = walk(value, seen)
        if isinstance(out.get("anyOf"), list) and (merged := _merge_any_of(out["anyOf"])) is not None:
            rest = {k: v for k, v in out.items() if k != "anyOf"}
            out = {**merged, **rest}
        return out

    shaped = walk(schema)
    if any("$ref" in text for text in _refs(shaped)):  # a recursive model: keep its definitions
        shaped["$defs"] = {name: walk(d) for name, d in defs.items()}
    return shaped


def _refs(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)

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
