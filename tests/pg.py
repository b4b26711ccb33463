"""A throwaway PostgreSQL cluster for tests and the replica soak: initdb + pg_ctl on a free loopback port in a temp
dir, fsync off, torn down at the end. As root (CI), the server runs as an unprivileged system user (`postgres`
when Debian's package created it, else `cleavr-pg`), since PostgreSQL refuses to run as root.

    with throwaway_cluster() as cluster:       # or the `postgres_cluster` session fixture (tests/conftest.py)
        url = cluster.new_database()           # postgresql://… to an empty database of its own
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "cleavr"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> tuple[list[str], str | None]:
    """The command prefix that drops root, and the user it drops to (None: we are not root)."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "cleavr-pg"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"], name
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "cleavr-pg"],
                   check=True, capture_output=True)
    return ["runuser", "-u", "cleavr-pg", "--"], "cleavr-pg"


@dataclass
class Cluster:
    bindir: Path
    root: Path
    port: int
    prefix: list[str]

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str | None = None) -> str:
        import psycopg

        name = name or f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args],
                              check=check, capture_output=True, text=True)


@contextlib.contextmanager
def throwaway_cluster(bindir: Path, *, max_connections: int = 300, durable: bool = False) -> Iterator[Cluster]:
    """`durable`: PostgreSQL's defaults (fsync, synchronous commit) - for benchmarks; tests turn them off."""
    prefix, user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="cleavr-pg-"))
    try:
        if user is not None:
            shutil.chown(root, user)
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(root / "data"), "-U", SUPERUSER,
                        "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
                       check=True, capture_output=True, text=True)
        port = _free_port()
        cluster = Cluster(bindir=bindir, root=root, port=port, prefix=prefix)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        started = cluster.pg_ctl("-o", options, "-l", str(root / "server.log"), "-w", "-t", "60", "start",
                                 check=False)
        if started.returncode != 0:
            log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr}\n{log}")
        try:
            yield cluster
        finally:
            cluster.pg_ctl("-m", "immediate", "-w", "stop", check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- pytest fixtures (imported by tests/conftest.py) ------------------------------------------------------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    from tests.deps import missing, postgres_bindir

    bindir = postgres_bindir()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("postgres", "psycopg is not installed (pip install 'cleavr-mcp[postgres]')")
    with throwaway_cluster(bindir) as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """An empty database of this test's own on the session's cluster."""
    url = postgres_cluster.new_database()
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each test using it runs once per backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite3'}"
    return request.getfixturevalue("postgres_url")
