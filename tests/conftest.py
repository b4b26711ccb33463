import os

import pytest

# Tests never read the developer's ~/.local/share/cleavr-mcp or .env: each test session gets its own data dir.
os.environ.setdefault("CLEAVR_MCP_DATA_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), f"cleavr-mcp-tests-{os.getpid()}"))


@pytest.fixture
def anyio_backend():
    return "asyncio"


# PostgreSQL: a throwaway cluster per test session, a database per test, `database_url` = both backends.
from tests.pg import database_url, postgres_cluster, postgres_url  # noqa: E402,F401

# Approvals (server/approvals): a client that cannot elicit gets the approval page, which the server opens with
# Python's webbrowser. No test may start a real browser by accident: $BROWSER is a command that does nothing
# (tests that look at the page record the URL instead).
os.environ["BROWSER"] = "true"
