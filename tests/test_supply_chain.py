"""What the project installs is pinned, hashed and split by need; what it vendors is recorded (issue 11)."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKED = ["requirements-build.txt", "requirements-test.txt", "requirements-mutants.txt"]
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)")


def pins(name: str) -> dict[str, tuple[str, list[str]]]:
    """{package: (version, [sha256, ...])} of one locked file; every line accounted for."""
    out: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found = REQUIREMENT.match(stripped)
        if found:
            current = found.group(1).lower().replace("_", "-")
            out[current] = (found.group(2), [])
        elif stripped.startswith("--hash=sha256:") and current:
            out[current][1].append(stripped.split(":", 1)[1].rstrip(" \\"))
        else:
            raise AssertionError(f"{name}: {stripped!r} is neither a pinned requirement nor its hash")
    return out


@pytest.mark.parametrize("name", LOCKED)
def test_every_requirement_is_pinned_with_hashes(name: str) -> None:
    locked = pins(name)
    assert locked
    unhashed = [p for p, (_v, hashes) in locked.items() if not hashes]
    assert not unhashed, f"{name}: no hash for {unhashed}"
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for _v, hashes in locked.values() for h in hashes)


def test_requirements_txt_is_the_build_set_and_the_test_set() -> None:
    lines = [x for x in (ROOT / "requirements.txt").read_text().splitlines() if x and not x.startswith("#")]
    assert lines == ["-r requirements-build.txt", "-r requirements-test.txt"]


def test_a_reader_building_the_site_installs_no_test_tool() -> None:
    build, test = pins("requirements-build.txt"), pins("requirements-test.txt")
    for needed in ("mkdocs", "mkdocs-material", "mkdocs-macros-plugin", "pygraphviz", "pyyaml", "jinja2", "pygments"):
        assert needed in build, f"the build needs {needed}"
    for tool in ("pytest", "pytest-xdist", "hypothesis", "playwright", "ruff", "scapy"):
        assert tool not in build and tool in test, tool
    shared = set(build) & set(test)
    assert all(build[p][0] == test[p][0] for p in shared), "the two sets pin a shared package differently"


def test_the_makefile_installs_only_with_require_hashes() -> None:
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    pip = re.compile(r"(?:\$\(PIP\)|pip install)[^\n]*")
    installs = pip.findall(text)
    assert any("-r requirements-build.txt" in i for i in installs)
    for line in installs:
        if line.startswith("$(PIP)"):
            assert "--require-hashes" in re.search(r"^PIP\s*:=(.*)$", text, re.M).group(1)  # type: ignore[union-attr]
        elif " -e ." in line:  # the project itself, from this checkout: no dependencies, no download
            assert "--no-deps" in line and "--no-build-isolation" in line, line
        elif "pip-tools" in line:  # `make lock`: the maintainers' tool that writes the hashes
            continue
        else:
            assert "--require-hashes" in line, line
    build_rule = re.search(r"^\$\(BUILD_STAMP\):.*?(?=^\S)", text, re.M | re.S)
    assert build_rule and "requirements-test" not in build_rule.group(0)
    assert re.search(r"^build: \$\(BUILD_STAMP\)", text, re.M) and re.search(r"^serve: \$\(BUILD_STAMP\)", text, re.M)


def test_the_vendored_shim_is_the_recorded_release() -> None:
    vendor = ROOT / "docs" / "assets" / "vendor"
    record = (vendor / "iframe-worker-ORIGIN.txt").read_text(encoding="utf-8")
    assert "iframe-worker 1.0.4" in record
    recorded = re.search(r"sha256\s+([0-9a-f]{64})\s+iframe-worker-shim\.js", record)
    assert recorded, "the origin record names no sha256"
    assert hashlib.sha256((vendor / "iframe-worker-shim.js").read_bytes()).hexdigest() == recorded.group(1)


def test_apt_runs_only_in_the_setup_of_what_needs_it_and_says_so() -> None:
    """apt-get appears in one helper (which prints a line before installing) and its callers are
    test setups (browser, lab, try-it, attack corpus); nothing a reader runs installs packages, not even the lab."""
    found = subprocess.run(
        ["git", "grep", "-l", "-e", "apt-get", "--", "*.py", "*.sh", "Makefile", ".ci"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert set(found) - {"tests/test_supply_chain.py"} <= {"netsim/lab/netns.py", "tests/browser.py"}, found
    helper = (ROOT / "netsim" / "lab" / "netns.py").read_text(encoding="utf-8")
    body = helper[helper.index("def apt_install") :]
    body = body[: body.index("\ndef ")]
    assert body.index("print(") < body.index('"apt-get", *wait, "install"'), "the line is printed before apt runs"
    installers = ("apt_install(", "ensure_nft(", "ensure_dnsmasq(", "ensure_tools(")
    callers = subprocess.run(
        ["git", "grep", "-l", *(arg for name in installers for arg in ("-e", name))],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    outside = [c for c in callers if not c.startswith("tests/") and c != "netsim/lab/netns.py"]
    assert not outside, f"apt is run from {outside}: only test setups may install"
    from netsim.render.labscript import render
    from netsim.scenario import load_scenario

    for scenario in sorted((ROOT / "diagrams").glob("*.yaml")):
        assert "apt" not in render(load_scenario(scenario)).split(), scenario.name


def test_the_checkout_tracks_no_symlink_and_no_virtualenv() -> None:
    """A committed symlink points into one machine (a `.venv` linked to a developer's virtualenv
    once broke every clean clone); the repository holds files only."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to ask git about")
    listed = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    links = [line.split("\t", 1)[1] for line in listed.splitlines() if line.startswith("120000 ")]
    assert not links, f"symlinks are tracked: {links}; `git rm --cached` them"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    venvs = [p for p in tracked.splitlines() if p.split("/", 1)[0] in (".venv", ".venv-mutants")]
    assert not venvs, f"a virtualenv is tracked: {venvs[:5]}"
