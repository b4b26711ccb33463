"""Business rules computed from API data (no MCP, no I/O): tools call these, then shape the result."""
