"""cleavr-mcp: an MCP server for debt recovery through the Cleavr Connect API."""

__version__ = "0.1.0"
