"""File input for tools: a local path, base64 content, or a `file://` resource link — never a URL fetch.

A path must lie inside an allowed root: the folders in the configuration (CLEAVR_MCP_ALLOWED_ROOTS) plus the
roots the MCP client declares. The file is opened once, by walking from the root's directory fd one component at a
time with O_NOFOLLOW (no symbolic link is followed below a root), and every check (type, size, inside the root)
runs on that fd; the bytes are read from it and from nothing else. Checking a path and then opening it again would
let a file be swapped for a link to somewhere else in between (a found TOCTOU race).

The result is a `HeldFile`: name, size, SHA-256 and the bytes themselves, read once. Whatever is shown to a person
(name, size, SHA-256 prefix) and whatever is uploaded come from the same object, so what is sent is exactly what
was shown. Every check runs before anything is uploaded, and the bytes go from disk to the API without passing
through the model.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, Field, model_validator

from ..pdfcheck import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PAGES,
    InvalidFileError,
    inspect_image,
    inspect_pdf,
    sniff_kind,
)

Purpose = Literal["invoice", "evidence"]


class FileSource(BaseModel):
    """Where to read a file from: exactly one of path, uri or content_base64."""

    model_config = {"extra": "forbid"}

    path: str | None = Field(None, description="Local path on this server's machine, in an allowed folder (preferred)")
    uri: str | None = Field(None, description="A file:// link from the client's roots")
    content_base64: str | None = Field(None, description="Only for remote clients that cannot share a path")
    filename: str | None = Field(None, description="Defaults to the path's name", max_length=255)

    @model_validator(mode="after")
    def _exactly_one(self) -> FileSource:
        given = [name for name in ("path", "uri", "content_base64") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of path, uri or content_base64")
        return self


SHA256_SHOWN_CHARS = 16  # 64 bits: enough that no one can make a different file that shows the same prefix


@dataclass(frozen=True)
class HeldFile:
    """A file read once and held in memory: what is shown (name, size, SHA-256) is what is sent (`data`)."""

    filename: str
    data: bytes = field(repr=False)
    kind: str  # pdf | png | jpeg
    pages: int | None
    path: Path | None  # where it was read from (None for content_base64); never read again
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256_prefix(self) -> str:
        return self.sha256[:SHA256_SHOWN_CHARS]

    def describe(self) -> str:
        """One line for a person: `evidence.pdf (44 KB, SHA-256 1a2b3c4d5e6f7a8b)`."""
        return f"{self.filename} ({human_size(self.size)}, SHA-256 {self.sha256_prefix})"

    def summary(self) -> dict[str, object]:
        """What an approval screen shows about the file (never the bytes)."""
        return {"filename": self.filename, "size": self.size, "sha256": self.sha256, "kind": self.kind,
                "pages": self.pages}


LoadedFile = HeldFile  # the earlier name


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1048576:.1f} MB"


def changed_files(held: list[HeldFile], shown_sha256: list[str]) -> list[int]:
    """Indices of the files whose content differs from the SHA-256 shown earlier (or that were added/removed)."""
    count = max(len(held), len(shown_sha256))
    return [i for i in range(count)
            if i >= len(held) or i >= len(shown_sha256) or held[i].sha256 != shown_sha256[i]]


class FileInputError(Exception):
    def __init__(self, code: str, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.index = 0  # which of several files (set by callers that load a list)


# getattr: the flags are POSIX; where they (or dir_fd) are missing, local paths are refused rather than read unsafely.
_NOFOLLOW, _DIRECTORY = getattr(os, "O_NOFOLLOW", 0), getattr(os, "O_DIRECTORY", 0)
_CAN_WALK = bool(_NOFOLLOW and _DIRECTORY) and os.open in os.supports_dir_fd
_DIR_FLAGS = os.O_RDONLY | _DIRECTORY | getattr(os, "O_CLOEXEC", 0) | _NOFOLLOW
# O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer (it is refused as not a file right after).
_FILE_FLAGS = (os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_NOCTTY", 0))


def _no_roots() -> FileInputError:
    from ..domain.tenancy import current_principal

    if not current_principal().every_creditor:  # a hosted customer: no server folder is ever theirs to name
        return FileInputError(
            "PATH_NOT_ALLOWED",
            "This server opens no file by path for you (its folders hold every customer's files): send the file "
            "itself as content_base64 with its filename.", "path")
    return FileInputError(
        "PATH_NOT_ALLOWED",
        "No folder is allowed for file access. Set CLEAVR_MCP_ALLOWED_ROOTS (e.g. ~/Documents) or use a client "
        "that declares roots, or send content_base64 instead.", "path")


def _split_under_root(raw: Path, roots: list[Path]) -> tuple[Path, list[str]]:
    """(root, components below it) for an absolute path, lexically: no `..` survives, no link is looked at yet.

    A root is trusted configuration, so it matches as written and as resolved (`/tmp` and `/private/tmp` alike).
    """
    if not roots:
        raise _no_roots()
    if not raw.is_absolute():
        raise FileInputError("PATH_NOT_ALLOWED", f"Give an absolute path (got {raw}).", "path")
    if "\x00" in str(raw):  # no file has such a name (found by tests/reliability fuzzing)
        raise FileInputError("PATH_NOT_ALLOWED", "The path contains a NUL character; no file has such a name.",
                             "path")
    wanted = Path(os.path.normpath(raw))
    forms: list[Path] = []
    for root in roots:
        written = Path(os.path.normpath(os.path.abspath(os.path.expanduser(root))))
        forms += [written, written.resolve()]
    candidates = [(form, wanted.relative_to(form)) for form in forms if wanted.is_relative_to(form)]
    if not candidates:
        # The path may reach a root through a link above it (`~/link-to-docs/x.pdf`): find the longest prefix that
        # *is* a root. Only the choice of root depends on that lookup; the root is then opened by its own name.
        for cut in range(len(wanted.parts) - 1, 0, -1):
            prefix = Path(*wanted.parts[:cut]).resolve()
            if prefix in forms:
                candidates.append((prefix, Path(*wanted.parts[cut:])))
                break
    if not candidates:
        listed = ", ".join(str(r) for r in roots)
        raise FileInputError("PATH_NOT_ALLOWED", f"{raw} is outside the allowed folders ({listed}).", "path")
    root, rest = max(candidates, key=lambda c: len(c[0].parts))  # the deepest root: the fewest components to walk
    return root, [part for part in rest.parts if part not in ("", ".")]


def _link_refusal(raw: Path, component: str) -> FileInputError:
    return FileInputError(
        "PATH_NOT_ALLOWED", f"{raw} goes through a symbolic link ({component}); links are not followed inside the "
        "allowed folders. Give the file's real path.", "path")


def _open_below(root: Path, parts: list[str], raw: Path) -> int:
    """An fd on the file, opened by walking from the root fd; no component below the root may be a link."""
    if not parts:
        raise FileInputError("NOT_A_FILE", f"{raw} is a directory.", "path")
    if not _CAN_WALK:
        raise FileInputError("PATH_NOT_ALLOWED", "This system cannot open a file without following links (no "
                             "O_NOFOLLOW/dir_fd), so local paths are refused: send content_base64 instead.", "path")
    try:
        fd = os.open(root, os.O_RDONLY | _DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileInputError("FILE_NOT_FOUND", f"The allowed folder {root} cannot be opened ({exc.strerror}).",
                             "path") from None
    try:
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                child = os.open(part, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and _is_link(part, fd)):
                    raise _link_refusal(raw, part) from None
                if exc.errno == errno.ENOENT:
                    raise FileInputError("FILE_NOT_FOUND", f"{raw} does not exist.", "path") from None
                if exc.errno == errno.ENOTDIR:
                    raise FileInputError("FILE_NOT_FOUND", f"{raw} does not exist ({part} is not a folder).",
                                         "path") from None
                raise FileInputError("FILE_UNREADABLE", f"{raw} cannot be read ({exc.strerror}).", "path") from None
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def _fd_is_inside(fd: int, root: Path) -> bool:
    """Defence in depth where the OS can tell an fd's path (Linux /proc): the opened file lies under the root."""
    try:
        where = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return True  # no /proc: the O_NOFOLLOW walk from the root fd is the guarantee
    return Path(where).is_relative_to(root.resolve())


def _read_inside(raw: Path, roots: list[Path], max_bytes: int) -> tuple[Path, bytes]:
    """Open once below a root, check type, size and root on the fd, and read the bytes from that fd only."""
    root, parts = _split_under_root(raw, roots)
    path = root.joinpath(*parts)
    fd = _open_below(root, parts, raw)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise FileInputError("NOT_A_FILE", f"{raw} is {what}.", "path")
        if not _fd_is_inside(fd, root):
            raise FileInputError("PATH_NOT_ALLOWED", f"{raw} is outside the allowed folders.", "path")
        if st.st_size > max_bytes:
            raise FileInputError("TOO_LARGE", f"{raw} is {st.st_size / 1048576:.1f} MB; the limit is "
                                 f"{max_bytes / 1048576:.0f} MB.", "path")
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > max_bytes:  # grew while reading
        raise FileInputError("TOO_LARGE", f"{raw} is larger than {max_bytes / 1048576:.0f} MB.", "path")
    return path, b"".join(chunks)


def _decode_base64(text: str, max_bytes: int) -> bytes:
    # Checked before decoding: 4 base64 characters carry 3 bytes.
    if len(text) * 3 // 4 > max_bytes + 3:
        raise FileInputError("TOO_LARGE", f"content_base64 decodes to more than {max_bytes / 1048576:.0f} MB.",
                             "content_base64")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise FileInputError("BAD_BASE64", "content_base64 is not valid base64.", "content_base64") from None


def check_content(data: bytes, purpose: Purpose, *, max_bytes: int = DEFAULT_MAX_BYTES,
                  max_pages: int = DEFAULT_MAX_PAGES) -> tuple[str, int | None]:
    """(kind, pages) of acceptable content, or FileInputError with the reason."""
    try:
        kind = sniff_kind(data)
        if purpose == "evidence" and kind in ("png", "jpeg"):
            inspect_image(data, max_bytes=max_bytes)
            return kind, None
        info = inspect_pdf(data, max_bytes=max_bytes, max_pages=max_pages)
        return "pdf", info.pages
    except InvalidFileError as exc:
        raise FileInputError(f"INVALID_FILE_{exc.reason_code}", exc.message) from None


def load_file(source: FileSource, purpose: Purpose, roots: list[Path], *, max_bytes: int = DEFAULT_MAX_BYTES) -> HeldFile:
    """Read (once) and check a file from any of the three sources; raises FileInputError (nothing uploaded)."""
    path: Path | None = None
    if source.content_base64:
        data = _decode_base64(source.content_base64, max_bytes)
        name = source.filename or ("invoice.pdf" if purpose == "invoice" else "evidence")
    else:
        if source.uri:
            parsed = urlparse(source.uri)
            if parsed.scheme != "file":
                raise FileInputError("URL_NOT_ALLOWED", "Only file:// links are accepted; this server never fetches "
                                     "URLs. Download the file first and pass its path.", "uri")
            raw = Path(unquote(parsed.path))
        else:
            raw = Path(os.path.expanduser(source.path or ""))
        path, data = _read_inside(raw, roots, max_bytes)
        name = source.filename or path.name
    if not data:
        raise FileInputError("INVALID_FILE_EMPTY", "The file is empty.")
    kind, pages = check_content(data, purpose, max_bytes=max_bytes)
    return HeldFile(filename=name, data=data, kind=kind, pages=pages, path=path)


async def allowed_roots(ctx, configured: list[Path]) -> list[Path]:
    """Configured folders plus the roots the client declares (when it can be asked on this connection) — the
    latter only for the caller on this machine (stdio, loopback without auth): an authenticated caller is remote,
    its roots name its own machine's folders, and honouring them would open any folder of the server's to it."""
    from ..domain.tenancy import current_principal

    principal = current_principal()
    if not principal.every_creditor:
        return []  # the folders are the whole server's, holding every creditor's files: this caller sends content
    roots = list(configured)
    if principal.source != "local":
        return roots
    caps = ctx.client_capabilities
    if caps is not None and caps.roots is not None and getattr(ctx.session, "can_send_request", False):
        try:
            listed = await ctx.session.list_roots()
        except Exception:  # noqa: BLE001 - a client that fails to list roots just contributes none
            listed = None
        for root in getattr(listed, "roots", None) or []:
            parsed = urlparse(str(root.uri))
            if parsed.scheme == "file":
                roots.append(Path(unquote(parsed.path)))
    return roots
