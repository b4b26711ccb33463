"""The data folder is 0700 and every file in it 0600 from the moment it exists (sandbox mode, first start).

Found by the attack review: after a first start the folder was 0755 and `server.sqlite3`, `events.sqlite3-wal` and
`-shm` were 0644; `confirmation.key` was written first and only then set to 0600. The test runs with a umask of 0
and with `chmod` disabled: a file that is private only because of the umask or a later chmod shows up as loose.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from mcp import Client

from cleavr_mcp.config import Settings
from cleavr_mcp.private_files import read_or_create_secret
from cleavr_mcp.server.app import build_server
from cleavr_mcp.testing import demo_user

pytestmark = pytest.mark.anyio


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def no_umask_no_chmod(monkeypatch):
    """umask 0 and chmod a no-op: only a file created private stays private."""
    old = os.umask(0)

    def refuse(*args, **kwargs):
        raise AssertionError("chmod after creation: the file existed with a looser mode first")

    monkeypatch.setattr(os, "chmod", refuse)
    monkeypatch.setattr(Path, "chmod", refuse)
    try:
        yield
    finally:
        os.umask(old)


async def test_first_start_in_sandbox_mode_creates_everything_private(tmp_path, no_umask_no_chmod):
    docs = tmp_path / "docs"
    docs.mkdir()
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", allowed_roots=[docs])
    async with Client(build_server(settings)) as c:
        assert not (await c.call_tool("get_user_status", {"user_id": demo_user(settings)})).is_error
        assert not (await c.call_tool("list_receivables", {})).is_error
        assert not (await c.call_tool("list_events", {})).is_error
        # while the databases are open their -wal and -shm exist: check them too
        found = sorted(p for p in settings.data_dir.rglob("*"))
        names = {p.name for p in found}
        assert {"confirmation.key", "server.sqlite3", "sandbox.sqlite3"} <= names, names
        assert any(n.endswith("-wal") for n in names) and any(n.endswith("-shm") for n in names), names
        assert mode(settings.data_dir) == 0o700
        loose = {str(p.relative_to(settings.data_dir)): oct(mode(p)) for p in found
                 if mode(p) != (0o700 if p.is_dir() else 0o600)}
        assert loose == {}, loose


def test_an_old_loose_data_dir_is_tightened(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "confirmation.key").write_text("k" * 64)
    os.chmod(data / "confirmation.key", 0o644)
    settings = Settings(_env_file=None, data_dir=data)
    from cleavr_mcp.toolkit.state import confirmation_key

    assert confirmation_key(settings) == b"k" * 64
    assert mode(data) == 0o700 and mode(data / "confirmation.key") == 0o600


def test_concurrent_first_starts_agree_on_one_confirmation_key(tmp_path):
    path = tmp_path / "confirmation.key"
    keys: list[str] = []
    threads = [threading.Thread(target=lambda: keys.append(read_or_create_secret(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confirmation.key"]  # no temporary file left behind
