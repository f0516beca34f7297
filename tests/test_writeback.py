"""Cache files are written behind the build by a thread of their own (netsim/pages/writeback.py):
every write lands, whole, by the end of the build, and a write that fails fails the build there."""

from __future__ import annotations

from pathlib import Path

import pytest

from netsim.pages import writeback


def test_every_write_is_on_disk_after_flush_and_readable_before(tmp_path: Path) -> None:
    paths = [tmp_path / f"d{n % 7}" / f"f{n}.svg" for n in range(200)]
    for n, path in enumerate(paths):
        writeback.write(path, f"<svg>{n}</svg>".encode())
        # Until it is on disk, this process reads it from memory; then from the file.
        seen = writeback.pending(path)
        assert seen == f"<svg>{n}</svg>".encode() or path.read_bytes() == f"<svg>{n}</svg>".encode()
    writeback.flush()
    assert [p.read_bytes() for p in paths] == [f"<svg>{n}</svg>".encode() for n in range(200)]
    assert all(writeback.pending(p) is None for p in paths)
    assert not list(tmp_path.rglob("*.tmp"))  # written under a temporary name, renamed into place


def test_a_write_that_fails_fails_the_flush(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    writeback.write(tmp_path / "a-file" / "x.svg", b"<svg/>")
    with pytest.raises(OSError):
        writeback.flush()
    writeback.flush()  # reported once; the next build starts clean
