"""The pages are written fresh: no passage repeats the source essay word for word."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT.parent / "shared" / "tools" / "seed-overlap"


def test_no_page_repeats_the_source_essay() -> None:
    if not TOOL.exists():
        pytest.skip(f"seed-overlap not found at {TOOL}: the shared/ folder is not beside this checkout")
    result = subprocess.run(
        [sys.executable, str(TOOL), str(ROOT / "docs")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
