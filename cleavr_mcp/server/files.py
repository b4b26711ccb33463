"""File input for tools: a local path, base64 content, or a `file://` resource link — never a URL fetch.

Paths are resolved (symlinks included) and must lie inside an allowed root: the folders in the configuration
(CLEAVR_MCP_ALLOWED_ROOTS) plus the roots the MCP client declares. Every check runs before anything is uploaded,
and the bytes go from disk to the API without passing through the model.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass
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

    path: str | None = Field(
        None, description="Local file path on the machine running this server (inside an allowed folder)",
        examples=["/Users/marie/Documents/facture-2025-001.pdf"],
    )
    uri: str | None = Field(None, description="A file:// resource link (from the client's roots)",
                            examples=["file:///Users/marie/Documents/facture-2025-001.pdf"])
    content_base64: str | None = Field(
        None, description="The file itself, base64-encoded — only for remote clients that cannot share a path"
    )
    filename: str | None = Field(None, description="Name to give the file (defaults to the path's name)",
                                 max_length=255)

    @model_validator(mode="after")
    def _exactly_one(self) -> FileSource:
        given = [name for name in ("path", "uri", "content_base64") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of path, uri or content_base64")
        return self


@dataclass(frozen=True)
class LoadedFile:
    filename: str
    data: bytes
    kind: str  # pdf | png | jpeg
    pages: int | None
    path: Path | None  # set when read from disk

    @property
    def size(self) -> int:
        return len(self.data)


class FileInputError(Exception):
    def __init__(self, code: str, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.index = 0  # which of several files (set by callers that load a list)


def _resolve_inside(raw: Path, roots: list[Path]) -> Path:
    if not roots:
        raise FileInputError(
            "PATH_NOT_ALLOWED",
            "No folder is allowed for file access. Set CLEAVR_MCP_ALLOWED_ROOTS (e.g. ~/Documents) or use a client "
            "that declares roots, or send content_base64 instead.", "path")
    if not raw.is_absolute():
        raise FileInputError("PATH_NOT_ALLOWED", f"Give an absolute path (got {raw}).", "path")
    try:
        resolved = raw.resolve(strict=False)  # follows symlinks: an escape through a link lands outside the roots
    except ValueError:  # an embedded NUL byte: no file has such a name (found by tests/reliability fuzzing)
        raise FileInputError("PATH_NOT_ALLOWED", "The path contains a NUL character; no file has such a name.",
                             "path") from None
    for root in roots:
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    listed = ", ".join(str(r) for r in roots)
    raise FileInputError("PATH_NOT_ALLOWED", f"{raw} is outside the allowed folders ({listed}).", "path")


def _read_regular_file(path: Path, max_bytes: int) -> bytes:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileInputError("FILE_NOT_FOUND", f"{path} does not exist.", "path") from None
    except OSError as exc:
        raise FileInputError("FILE_UNREADABLE", f"{path} cannot be read ({exc.strerror}).", "path") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise FileInputError("NOT_A_FILE", f"{path} is {what}.", "path")
    if st.st_size > max_bytes:
        raise FileInputError("TOO_LARGE", f"{path} is {st.st_size / 1048576:.1f} MB; the limit is "
                             f"{max_bytes / 1048576:.0f} MB.", "path")
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while reading
        raise FileInputError("TOO_LARGE", f"{path} is larger than {max_bytes / 1048576:.0f} MB.", "path")
    return data


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


def load_file(source: FileSource, purpose: Purpose, roots: list[Path], *, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadedFile:
    """Read and check a file from any of the three sources; raises FileInputError (nothing uploaded)."""
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
        path = _resolve_inside(raw, [r.expanduser().resolve() for r in roots])
        data = _read_regular_file(path, max_bytes)
        name = source.filename or path.name
    if not data:
        raise FileInputError("INVALID_FILE_EMPTY", "The file is empty.")
    kind, pages = check_content(data, purpose, max_bytes=max_bytes)
    return LoadedFile(filename=name, data=data, kind=kind, pages=pages, path=path)


async def allowed_roots(ctx, configured: list[Path]) -> list[Path]:
    """Configured folders plus the roots the client declares (when it can be asked on this connection)."""
    roots = list(configured)
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
