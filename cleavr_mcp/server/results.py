"""A tool's typed result serialised once per call.

For a result model the SDK serialises the model twice (to indented JSON for the text block, then `model_dump` for
`structuredContent`), each pass calling our Python serialisers (money, dates) again, after a revalidation pass and
a walk through the content-block cases. `OnceConverted` dumps the model once and writes the text block from that
dump: the same text, the same structured content (tests/server/test_results_once.py compares them with the SDK's
conversion), in about a third of the time. Anything else (error results, InputRequiredResult, subclasses, wrapped
primitives) takes the SDK's own path unchanged.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, TextContent


class OnceConverted(FuncMetadata):
    def convert_result(self, result: Any) -> Any:
        if self.wrap_output or self.output_schema is None or type(result) is not self.output_model:
            return super().convert_result(result)
        structured = result.model_dump(mode="json", by_alias=True)
        text = pydantic_core.to_json(structured, indent=2).decode()
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def convert_once(metadata: FuncMetadata) -> FuncMetadata:
    """`metadata` with the one-pass conversion (its fields, hence its schemas and validators, unchanged)."""
    if isinstance(metadata, OnceConverted):
        return metadata
    return OnceConverted(**{name: getattr(metadata, name) for name in type(metadata).model_fields})
