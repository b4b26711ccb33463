"""Free-form JSON arguments (metadata) are bounded in the input schema the model reads and at validation: too
deep, too wide or too big is a quick VALIDATION_ERROR naming the field; nothing is sent."""

from __future__ import annotations

import time

import pytest

from cleavr_mcp.toolkit.errors import error_of

from .conftest import Human, client, demo_user, submission

pytestmark = pytest.mark.anyio


def _nested(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


HOSTILE_METADATA = {
    "nested-200": _nested(200),
    "nested-150": _nested(150),
    "nested-3": _nested(3),
    "list-in-list-200": {"a": eval("[" * 200 + "]" * 200)},  # noqa: S307 - a literal
    "wide-51-keys": {f"k{i}": i for i in range(51)},
    "long-list-1000": {"ids": list(range(1000))},
    "huge-string": {"note": "x" * 20_000},
    "many-mid-strings": {f"k{i}": "y" * 1000 for i in range(20)},
}


@pytest.mark.parametrize("name", sorted(HOSTILE_METADATA))
async def test_hostile_metadata_is_a_quick_validation_error(server, settings, admin, name):
    body = submission(demo_user(settings))
    body["metadata"] = HOSTILE_METADATA[name]
    human = Human()
    async with client(server, human=human) as c:
        started = time.monotonic()
        result = await c.call_tool("submit_receivable", {"receivable": body})
        rid = (await c.call_tool("submit_receivable", {"receivable": submission(demo_user(settings))})
               ).structured_content["receivable"]["id"]
        update = await c.call_tool("update_receivable_metadata", {"receivable_id": rid,
                                                                   "metadata": HOSTILE_METADATA[name]})
        elapsed = time.monotonic() - started
    for outcome, field in ((result, "receivable.metadata"), (update, "metadata")):
        assert outcome.is_error, outcome.content
        error = error_of(outcome)
        assert error["code"] == "VALIDATION_ERROR" and error["field"] == field, error
    assert human.asked and len(human.asked) == 1  # only the valid submission was put to the person
    assert await admin.receivable_count() == 1
    assert elapsed < 30


async def test_the_schema_bounds_metadata(server):
    async with client(server) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    from jsonschema import Draft202012Validator

    metadata = tools["update_receivable_metadata"].input_schema["properties"]["metadata"]
    assert metadata["maxProperties"] == 50
    check = Draft202012Validator(metadata)
    assert check.is_valid({"customer_id": "c_1", "tags": ["a", "b"], "refs": {"crm": "x"}, "n": 3, "ok": None})
    for too_deep in ({"a": {"b": {"c": 1}}}, {"a": [[1]]}, {"a": {"b": [1]}}, {"a": [{"b": 1}]}):
        assert not check.is_valid(too_deep), too_deep
    assert not check.is_valid({f"k{i}": i for i in range(51)})
    submit = tools["submit_receivable"].input_schema
    assert "maxProperties" in str(submit)


async def test_flat_metadata_still_works(server, settings):
    body = submission(demo_user(settings))
    body["metadata"] = {"customer_id": "c_1", "tags": ["a", "b"], "refs": {"crm": "x"}, "n": 3, "ok": True}
    async with client(server, human=Human()) as c:
        result = await c.call_tool("submit_receivable", {"receivable": body})
    assert not result.is_error, result.content


def test_a_100000_deep_value_is_refused_without_recursing():
    from pydantic import ValidationError

    from cleavr_mcp.cleavr.models import MetadataUpdate

    started = time.monotonic()
    with pytest.raises(ValidationError, match="nests deeper"):
        MetadataUpdate.model_validate({"metadata": _nested(100_000)})
    assert time.monotonic() - started < 5
