"""CLI subcommands (imported lazily by `cleavr_mcp.cli`, so `cleavr-mcp --help` stays fast)."""
