"""A file inside an allowed folder swapped for a symlink to a file outside, while it is being read.

Found by the attack review: the path was checked (resolved inside the root), then opened again by name, so a swap
in between made `extract_pdf` read the outside file (30 of 400 tries). Now the file is opened once, walking from
the root fd with O_NOFOLLOW, and checked and read on that fd: the outside bytes are never returned.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cleavr_mcp.toolkit.files import FileInputError, FileSource, load_file

from .pdfs import blank_pdf

MAX_TRIES = 3000
MAX_SECONDS = 6.0

# Runs in its own process (no GIL shared with the reader): flips `target` between a hard link to the inside PDF
# and a symlink to the outside PDF, each flip an atomic rename, until `stop` appears.
SWAPPER = textwrap.dedent("""
    import os, sys
    target, inside, outside, stop, ready = sys.argv[1:6]
    tmp_file, tmp_link = target + ".f", target + ".l"
    flips = 0
    while not os.path.exists(stop):
        os.link(inside, tmp_file)
        os.replace(tmp_file, target)
        os.symlink(outside, tmp_link)
        os.replace(tmp_link, target)
        flips += 1
        if flips == 10:
            open(ready, "w").close()
""")


@pytest.fixture
def layout(tmp_path):
    root, outside = tmp_path / "allowed", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / ".store").mkdir()
    inside_pdf, outside_pdf = blank_pdf("inside"), blank_pdf("OUTSIDE-SECRET")
    (root / ".store" / "real.pdf").write_bytes(inside_pdf)
    (outside / "secret.pdf").write_bytes(outside_pdf)
    return root, outside, inside_pdf, outside_pdf


def test_a_symlink_swapped_in_while_reading_never_yields_the_outside_file(layout, tmp_path):
    root, outside, inside_pdf, outside_pdf = layout
    target = root / "evidence.pdf"
    stop, ready = tmp_path / "stop", tmp_path / "ready"
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(target), str(root / ".store" / "real.pdf"),
                                str(outside / "secret.pdf"), str(stop), str(ready)])
    read_inside = refused = read_outside = tries = 0
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert swapper.poll() is None and time.monotonic() < deadline, "the swapper did not start"
            time.sleep(0.01)
        deadline = time.monotonic() + MAX_SECONDS
        while tries < MAX_TRIES and time.monotonic() < deadline:
            tries += 1
            try:
                loaded = load_file(FileSource(path=str(target)), "evidence", [root])
            except FileInputError as exc:
                assert exc.code in ("PATH_NOT_ALLOWED", "FILE_NOT_FOUND"), exc.message
                refused += 1
                continue
            if loaded.data == outside_pdf:
                read_outside += 1
            else:
                assert loaded.data == inside_pdf
                read_inside += 1
            if read_inside and refused and tries >= 400:
                break
    finally:
        stop.touch()
        swapper.wait(timeout=10)
    print(f"{tries} tries: {read_inside} inside, {refused} refused links, {read_outside} outside")
    assert read_outside == 0, f"read the outside file {read_outside} times in {tries} tries"
    assert read_inside and refused, "the race was not exercised both ways; the swapper was too slow"


def test_links_below_a_root_are_refused_even_when_they_point_inside(layout):
    root, outside, inside_pdf, _ = layout
    (root / "sub").mkdir()
    (root / "sub" / "doc.pdf").write_bytes(inside_pdf)
    (root / "inner-link.pdf").symlink_to(root / "sub" / "doc.pdf")
    (root / "dir-link").symlink_to(root / "sub")
    (root / "out-dir").symlink_to(outside)
    for path in (root / "inner-link.pdf", root / "dir-link" / "doc.pdf", root / "out-dir" / "secret.pdf"):
        with pytest.raises(FileInputError) as caught:
            load_file(FileSource(path=str(path)), "evidence", [root])
        assert caught.value.code == "PATH_NOT_ALLOWED" and "symbolic link" in caught.value.message, path
    assert load_file(FileSource(path=str(root / "sub" / "doc.pdf")), "evidence", [root]).data == inside_pdf


def test_a_root_reached_through_a_link_still_works(layout, tmp_path):
    root, _, inside_pdf, _ = layout
    (root / "a.pdf").write_bytes(inside_pdf)
    alias = tmp_path / "alias"
    alias.symlink_to(root)  # like macOS /tmp → /private/tmp: the root itself is trusted configuration
    assert load_file(FileSource(path=str(alias / "a.pdf")), "evidence", [root]).data == inside_pdf
    assert load_file(FileSource(path=str(root / "a.pdf")), "evidence", [alias]).data == inside_pdf


def test_a_fifo_is_refused_without_waiting_for_a_writer(layout):
    root, *_ = layout
    os.mkfifo(root / "pipe.pdf")
    started = time.monotonic()
    with pytest.raises(FileInputError) as caught:
        load_file(FileSource(path=str(root / "pipe.pdf")), "evidence", [root])
    assert caught.value.code == "NOT_A_FILE" and time.monotonic() - started < 2


def test_dot_dot_cannot_climb_out_of_a_root(layout):
    root, outside, *_ = layout
    for path in (f"{root}/../outside/secret.pdf", f"{root}/sub/../../outside/secret.pdf"):
        with pytest.raises(FileInputError) as caught:
            load_file(FileSource(path=path), "evidence", [root])
        assert caught.value.code == "PATH_NOT_ALLOWED"
    assert Path(outside / "secret.pdf").exists()
