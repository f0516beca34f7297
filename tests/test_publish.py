"""Publishing: a build never bakes this machine's address into the site, and the GitHub Actions
workflow that tests and publishes it is valid."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import prerun
import pytest
import yaml
from sitecopy import ROOT, copy_small_site

WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"
LOCAL_LINK = re.compile(r'(?:href|src|content|xml:base)="https?://(?:127\.|localhost|\[::1\])|<(?:loc|link)>https?://')


def build(root: Path, out: Path, site_url: str | None, repo_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "REPO_URL")} | {"NO_MKDOCS_2_WARNING": "1"}
    if site_url is not None:
        env["SITE_URL"] = site_url
    if repo_url is not None:
        env["REPO_URL"] = repo_url
    return prerun.python(["-m", "mkdocs", "build", "--strict", "-d", str(out)], cwd=root, env=env)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "http://localhost:8000/", "http://[::1]/"])
def test_a_build_for_this_machines_address_is_refused_before_anything_is_written(tmp_path: Path, url: str) -> None:
    refused = build(copy_small_site(tmp_path / "src"), tmp_path / "site", url)  # posts 1-3: tests/sitecopy.py
    assert refused.returncode == 1
    assert f"site_url is {url}, an address on this machine" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "site").exists()


def test_without_site_url_nothing_in_the_site_is_absolute(built_site: Path) -> None:
    site = built_site  # the strict build of the checkout with SITE_URL unset (tests/conftest.py)
    for page in site.rglob("*"):
        if page.suffix in (".html", ".xml", ".json", ".txt"):
            text = page.read_text(encoding="utf-8")  # (prose may name 127.0.0.1:8000; no link may)
            assert not LOCAL_LINK.search(text), (page, LOCAL_LINK.search(text))
            assert 'rel="canonical"' not in text and 'property="og:url"' not in text, page
    assert "<loc>" not in (site / "sitemap.xml").read_text()
    links = re.findall(r"<link>(.*?)</link>", (site / "feed.xml").read_text())
    assert "posts/margarets-room.html" in links and not any("://" in link for link in links)
    page = (site / "posts" / "margarets-room.html").read_text()
    assert '<meta property="og:image" content="../previews/posts/margarets-room.png">' in page
    # No REPO_URL: no link to a source repository anywhere (the project records none).
    assert not any('class="md-source"' in p.read_text(encoding="utf-8") for p in site.rglob("*.html"))


def test_with_site_url_the_feed_canonical_links_and_sitemap_use_it(tmp_path: Path) -> None:
    repo = "https://github.com/example/bottom-six"
    # Posts 1-3 (tests/sitecopy.py): every page's links are made the same way, however many there are.
    built = build(copy_small_site(tmp_path / "src"), tmp_path / "site", "https://example.org/six", repo)
    assert built.returncode == 0, built.stderr
    site = tmp_path / "site"
    assert "<link>https://example.org/six/posts/margarets-room.html</link>" in (site / "feed.xml").read_text()
    page = (site / "posts" / "margarets-room.html").read_text()
    assert '<link rel="canonical" href="https://example.org/six/posts/margarets-room.html">' in page
    assert "<loc>https://example.org/six/posts/margarets-room.html</loc>" in (site / "sitemap.xml").read_text()
    # A shared link's picture must be absolute to be fetched: it is, once the site knows its address.
    image = "https://example.org/six/previews/posts/margarets-room.png"
    assert f'<meta property="og:image" content="{image}">' in page
    assert f'<meta name="twitter:image" content="{image}">' in page
    # REPO_URL: the header (and the phone's menu) link to the source, and the theme fetches nothing
    # about it from GitHub's API (the site makes no request to another host).
    assert page.count(f'<a href="{repo}" title="Go to repository" class="md-source">') == 2
    assert 'data-md-component="source"' not in page


def lint(workflow: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema (pinned) against the GitHub Actions workflow schema it ships with."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_workflow_file_is_valid() -> None:
    result = lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_refuses_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "publish.yml"
    broken.write_text(WORKFLOW.read_text().replace("    runs-on: ubuntu-24.04\n", "    runs_on: ubuntu-24.04\n", 1))
    result = lint(broken)
    assert result.returncode == 1
    assert "runs_on" in result.stdout + result.stderr


def test_the_workflow_tests_then_publishes_site_with_the_repositorys_address() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text())
    test_runs = [step.get("run", "") for step in flow["jobs"]["test"]["steps"]]
    assert any(run.endswith("make test") for run in test_runs)
    publish = flow["jobs"]["publish"]
    assert publish["needs"] == "test"
    steps = publish["steps"]
    configure = next(s for s in steps if s.get("uses", "").startswith("actions/configure-pages@"))
    make_build = next(s for s in steps if s.get("run") == "make build")
    assert make_build["env"]["SITE_URL"] == "${{ steps." + configure["id"] + ".outputs.base_url }}"
    assert make_build["env"]["REPO_URL"] == "${{ github.server_url }}/${{ github.repository }}"
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "site"
    assert steps[-1]["uses"].startswith("actions/deploy-pages@")
