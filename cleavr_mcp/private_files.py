"""Files and folders only this user can read, private from the moment they exist.

The data folder holds the confirmation key, OAuth tokens and SQLite databases that name debtors. Creating a file
with the default mode and `chmod`-ing it afterwards leaves a window in which another local user can open it (and
an fd opened then stays usable), and SQLite's `-wal`/`-shm` files copy the database's mode when they are created.
So every such file is created 0600 and the folder 0700 from the start (`os.open`/`mkdir` with the mode), never
through the process-wide umask (changing it would race with other threads).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import stat
from pathlib import Path
from typing import Any

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _tighten(path: Path, mode: int) -> None:
    """Remove group/other access from an existing path of ours (left by an older version)."""
    with contextlib.suppress(OSError):
        st = os.lstat(path)
        ours = not hasattr(os, "getuid") or st.st_uid == os.getuid()
        if ours and not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077:
            os.chmod(path, mode)


def private_dir(path: Path, *, tighten: bool = True) -> Path:
    """Create `path` 0700 (parents with the default mode); with `tighten`, an existing one of ours becomes 0700."""
    path = Path(path)
    existed = path.is_dir()
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if tighten or not existed:
        _tighten(path, DIR_MODE)  # mkdir's mode passes through the umask; a 0277 umask would still be private
    return path


def create_private_file(path: Path) -> Path:
    """Make sure `path` exists with mode 0600 (created so, never loosened first); its content is untouched."""
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def connect_private_sqlite(path: Path, **kwargs: Any) -> sqlite3.Connection:
    """`sqlite3.connect` on a database file created 0600 first, so its -wal and -shm are 0600 too."""
    path = Path(path)
    private_dir(path.parent, tighten=False)  # a folder the user chose for a database is not ours to chmod
    create_private_file(path)
    for suffix in SQLITE_SIDE_FILES:  # stale side files from an older version keep their mode: fix it
        _tighten(path.with_name(path.name + suffix), FILE_MODE)
    return sqlite3.connect(path, **kwargs)


def read_or_create_secret(path: Path, make=lambda: secrets.token_hex(32)) -> str:
    """The secret kept in `path`, generated on first use: written 0600 to a temporary file, then linked into place
    (which fails if another process got there first: then theirs is used). Never readable by others, even briefly."""
    path = Path(path)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(make())
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    _tighten(path, FILE_MODE)
    return path.read_text().strip()
