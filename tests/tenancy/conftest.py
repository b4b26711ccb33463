"""The tenancy proofs share one world per module: a seeded embedded sandbox, the principals file, the real HTTP
server (tests/tenancy/world.py)."""

from __future__ import annotations

import pytest

from .world import running_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_world(tmp_path_factory.mktemp("tenancy")) as w:
        yield w
