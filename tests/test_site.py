"""The built site as a reader gets it: strict build, no third-party requests, feed, figures."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import pytest
from sitecopy import ROOT, copy_small_site, mkdocs_build, stopped_by_warnings

from netsim.scenario import load_scenario

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


@pytest.fixture
def site(built_site: Path) -> Path:
    return built_site


def test_no_page_loads_anything_from_another_host(site: Path) -> None:
    # Links a reader may follow are fine; what a page *loads* (scripts, styles, images, fonts) is not.
    loads = re.compile(r"<(?:script|img|iframe|source|video|audio)[^>]*\bsrc=\"(?:https?:)?//")
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not loads.search(html), f"{page.relative_to(site)} loads from another host"
        for tag in re.findall(r"<link\b[^>]*>", html):
            rel = re.search(r'rel="([^"]*)"', tag)
            if rel and rel.group(1) in ("canonical", "alternate", "prev", "next"):
                continue  # addresses, not requests
            assert not re.search(r'href="(?:https?:)?//', tag), f"{page.relative_to(site)}: {tag}"
    for css in site.rglob("*.css"):
        assert not re.search(r"url\((['\"])?https?://", css.read_text(encoding="utf-8")), css.name
        assert "fonts.googleapis" not in css.read_text(encoding="utf-8")


def test_pages_link_to_files_so_the_site_works_from_a_folder(site: Path) -> None:
    html = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="posts/margarets-room.html"' in html


def test_diagrams_show_the_scenarios_addresses_and_badges(site: Path) -> None:
    html = (site / "posts" / "margarets-room.html").read_text(encoding="utf-8")
    files = sorted(
        set(re.findall(r'<a class="ns-open ns-(?:wide|narrow)" href="\.\./(figures/[0-9a-f]{20}\.svg)"', html))
    )
    assert len(files) >= 15
    svgs = [(site / f).read_text(encoding="utf-8") for f in files]
    assert all(svg.startswith("<svg") for svg in svgs)
    text = " ".join(re.findall(r">([^<>]+)</text>", " ".join(svgs)))
    for value in ("10.88.0.1", "10.88.0.3", "aa:42:81:9c:0e:33", "ba:11:22:33:44:55", "127.0.0.1:19001"):
        assert value in text, value


def test_post_one_has_every_figure_and_every_claim_ticked(site: Path) -> None:
    source = (ROOT / "docs" / "posts" / "margarets-room.md").read_text(encoding="utf-8")
    html = (site / "posts" / "margarets-room.html").read_text(encoding="utf-8")
    figures = re.findall(r'<figure class="ns-figure .*?</figure>', html, re.S)
    steps = len(load_scenario(ROOT / "diagrams" / "margarets-room.yaml").steps)
    assert len(figures) == source.count("{{ figure(") + steps  # the inline figures and the stepper
    inline = set(re.findall(r'<a class="ns-open ns-(?:wide|narrow)" href="([^"]+\.svg)"><svg ', html))
    shared = 0
    for fig in figures:
        for layout in ("wide", "narrow"):  # both layouts inline, each with its text alternative,
            drawn = re.search(
                rf'<a class="ns-open ns-{layout}" href="[^"]+\.svg"[^>]*><svg [^>]*class="ns-svg" '
                r'width="\d+" height="\d+" role="img" aria-label="[^"]{20,}"',
                fig,
            )
            # or, in a later step of the stepper, the file of a drawing the page draws inline
            pointer = re.search(
                rf'<a class="ns-open ns-{layout} ns-shared" href="([^"]+\.svg)"><img src="\1" width="\d+" '
                r'height="\d+" alt="[^"]{20,}"',
                fig,
            )
            assert drawn or (pointer and pointer.group(1) in inline), fig[:300]
            shared += drawn is None
        assert "<figcaption>" in fig
    assert shared > 0  # post one shows several of its steps in the prose as well
    assert html.count('class="ns-claim"') == source.count("{{ claim(")
    assert "ns-error" not in html.replace(".ns-error", "")
    assert (
        'Get "https://host.containers.internal:19001/ping": dial tcp 10.88.0.1:19001: connect: connection refused'
        in (html.replace("&quot;", '"'))
    )


def test_the_index_lists_the_posts_with_date_and_reading_time(site: Path) -> None:
    html = (site / "index.html").read_text(encoding="utf-8")
    assert re.search(r"Margaret's room</a></strong> · 2026-11-28 · \d+ min read", html.replace("&#39;", "'"))
    post = (site / "posts" / "margarets-room.html").read_text(encoding="utf-8")
    assert re.search(r"Post 1 of the series · 2026-11-28 · \d+ min read", post)


def test_the_rss_feed_has_every_post(site: Path) -> None:
    channel = ET.parse(site / "feed.xml").getroot().find("channel")
    assert channel is not None
    titles = [item.findtext("title") for item in channel.findall("item")]
    posts = sorted((ROOT / "docs" / "posts").glob("*.md"))
    expected = {}
    for post in posts:
        meta = post.read_text(encoding="utf-8").split("---")[1]
        if re.search(r"^draft: true\b", meta, re.M):
            continue  # a draft is left out of the build and the feed
        number = int(re.search(r"^number: (\d+)$", meta, re.M).group(1))
        expected[number] = re.search(r"^title: (.+)$", meta, re.M).group(1)
    assert titles == [expected[n] for n in sorted(expected, reverse=True)]  # newest first
    assert "Margaret's room" in titles
    assert 'type="application/rss+xml"' in (site / "index.html").read_text(encoding="utf-8")


def test_the_scenario_schema_is_published_with_the_site(site: Path) -> None:
    schema = json.loads((site / "scenario.schema.json").read_text())
    assert schema["title"] == "netsim scenario"


def test_light_and_dark_schemes_and_search_are_there(site: Path) -> None:
    html = (site / "index.html").read_text(encoding="utf-8")
    assert 'data-md-color-scheme="slate"' in html or "slate" in html
    assert (site / "search" / "search_index.json").exists()


# --- Failing claims and bad scenarios: a box while writing, a failure in strict builds -------


def _break(tmp_path: Path, file: str, old: str, new: str) -> Path:
    root = copy_small_site(tmp_path / "src")  # posts 1-3 (tests/sitecopy.py): a box is per page
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


def test_a_false_claim_is_a_visible_box_without_strict_and_a_failure_with_it(tmp_path: Path) -> None:
    root = _break(
        tmp_path,
        "docs/posts/margarets-room.md",
        'claim("alice-replies", decision="forward", copies_to=["bob"])',
        'claim("alice-replies", decision="flood", copies_to=["bob"])',
    )
    # Exactly as the README and docs/contributing.md tell contributors: `make build` (what
    # `make test` runs too), never a variant with -q, which mkdocs 1.6 lets pass with warnings.
    strict = make_build(root)
    assert strict.returncode != 0, strict.stdout + strict.stderr
    assert re.search(r"docs/posts/margarets-room\.md:\d+: claim alice-replies", strict.stderr)
    assert re.search(r"Aborted with \d+ warnings? in strict mode", strict.stdout + strict.stderr)
    # Stopped by its warnings alone, it wrote what a build without --strict (make serve) shows.
    html = (root / "site" / "posts" / "margarets-room.html").read_text(encoding="utf-8")
    assert 'class="ns-error"' in html and "the simulation did" in unescape(re.sub(r"<[^>]+>", "", html))


def make_build(root: Path) -> subprocess.CompletedProcess[str]:
    """`make build` in a copy of the site, with the Makefile and the venv it would use."""
    shutil.copy2(ROOT / "Makefile", root / "Makefile")
    for req in ROOT.glob("requirements*"):
        shutil.copy2(req, root / req.name)
    (root / ".venv").symlink_to((ROOT / ".venv").resolve())
    # -o: the venv is already installed; never let the test reinstall a shared one.
    return subprocess.run(
        ["make", "-o", ".venv/.installed", "-o", ".venv/.installed-build", "build"],
        cwd=root,
        capture_output=True,
        text=True,
        env=ENV,
        check=False,
    )


def test_a_bad_scenario_is_a_visible_box_and_fails_strict(tmp_path: Path) -> None:
    root = _break(tmp_path, "diagrams/margarets-room.yaml", "mac: aa:42:81:9c:0e:33", "mac: aa:42:81:9c:0e")
    strict = mkdocs_build(root, tmp_path / "b")
    assert stopped_by_warnings(strict), strict.stdout + strict.stderr  # so b/ is what make serve shows
    line = 1 + (ROOT / "diagrams/margarets-room.yaml").read_text().splitlines().index(
        "      eth0: {mac: aa:42:81:9c:0e:33, address: 10.88.0.3/16, plug: podman0.seat3}"
    )
    assert f"diagrams/margarets-room.yaml:{line}: hosts.alice.interfaces.eth0.mac" in strict.stderr
    html = unescape(re.sub(r"<[^>]+>", "", (tmp_path / "b" / "posts" / "margarets-room.html").read_text("utf-8")))
    assert "is not a MAC address (six hex pairs)" in html


def test_a_strict_build_stopped_by_warnings_writes_what_a_lenient_build_writes(tmp_path: Path) -> None:
    """What sitecopy.stopped_by_warnings relies on, so that one strict build can stand for both:
    mkdocs writes every file before a strict build's warnings stop it, and --strict changes
    nothing else. Pinned on a small site of mkdocs' own theme (a broken link warns)."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "mkdocs.yml").write_text("site_name: pin\nvalidation: {links: {not_found: warn}}\n")
    (tmp_path / "docs" / "index.md").write_text("# Pin\n\n[gone](missing.md)\n")
    (tmp_path / "docs" / "other.md").write_text("# Other\n\nText.\n")
    strict = mkdocs_build(tmp_path, tmp_path / "strict")
    lenient = mkdocs_build(tmp_path, tmp_path / "lenient", strict=False)
    assert stopped_by_warnings(strict), strict.stderr
    assert lenient.returncode == 0 and not stopped_by_warnings(lenient), lenient.stderr
    assert "missing.md" in strict.stderr
    files = {p.relative_to(tmp_path / "lenient") for p in (tmp_path / "lenient").rglob("*") if p.is_file()}
    assert files == {p.relative_to(tmp_path / "strict") for p in (tmp_path / "strict").rglob("*") if p.is_file()}
    dated = re.compile(rb"Build Date UTC : [^\n]*")  # mkdocs' theme stamps each page with the time

    def content(site: str, file: Path) -> bytes:
        return dated.sub(b"", (tmp_path / site / file).read_bytes())

    for file in files:  # the sitemap's gzip header carries a time too
        if file.suffix != ".gz":
            assert content("lenient", file) == content("strict", file), file


def test_the_macros_module_reloads_netsim_when_its_files_change(tmp_path: Path) -> None:
    """mkdocs-macros loads macros.py afresh on every `make serve` rebuild: netsim's modules are
    imported again when its files changed since the last import, and kept when they did not."""
    import importlib.util

    modules: list[object] = []

    def load() -> object:
        spec = importlib.util.spec_from_file_location("macros", ROOT / "macros.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
        return sys.modules["netsim.pages.pagestore"]  # one of the modules macros.py imports at once

    saved = {name: mod for name, mod in sys.modules.items() if name == "netsim" or name.startswith("netsim.")}
    loaded = sys.modules.get("_bottom_six_netsim")
    recorded = dict(loaded.__dict__) if loaded is not None else None
    try:
        first = load()
        assert load() is first  # nothing changed: the modules are kept
        sys.modules["_bottom_six_netsim"].digest = "netsim as it was before an edit"
        assert load() is not first  # an edit: imported again
        # The digest is of netsim's files: an edit to one changes it.
        copy = tmp_path / "netsim"
        shutil.copytree(ROOT / "netsim", copy, ignore=shutil.ignore_patterns("__pycache__"))
        macros = modules[-1]
        macros.ROOT = tmp_path  # type: ignore[attr-defined]
        before = macros._netsim_files()  # type: ignore[attr-defined]
        (copy / "bridge.py").write_text((copy / "bridge.py").read_text() + "\n# an edit\n")
        assert macros._netsim_files() != before  # type: ignore[attr-defined]
    finally:  # give the other tests back the modules they imported
        for name in [m for m in sys.modules if m == "netsim" or m.startswith("netsim.")]:
            del sys.modules[name]
        sys.modules.update(saved)
        if loaded is not None and recorded is not None:
            loaded.__dict__.update(recorded)


def test_post_one_offers_the_script_the_tests_run(site: Path) -> None:
    from netsim.render.labscript import render
    from netsim.scenario import load_scenario

    script = (site / "scripts" / "margarets-room.sh").read_text(encoding="utf-8")
    assert script == render(load_scenario(ROOT / "diagrams" / "margarets-room.yaml"))
    html = (site / "posts" / "margarets-room.html").read_text(encoding="utf-8")
    assert 'href="../scripts/margarets-room.sh" download' in html
    text = re.sub(r"<[^>]+>", "", html)  # the code block is highlighted token by token
    assert "exec unshare --net --mount --propagation private" in text


def test_pages_have_social_titles_and_descriptions(site: Path) -> None:
    html = (site / "posts" / "margarets-room.html").read_text(encoding="utf-8").replace("&#39;", "'")
    assert '<meta property="og:title" content="Margaret\'s room · The Bottom Six">' in html
    assert '<meta property="og:description" content="Why my terminal could reach an SSH tunnel' in html
    assert '<meta name="description" content="Why my terminal' in html


def test_glossary_terms_explain_themselves(site: Path) -> None:
    html = (site / "posts" / "margarets-room.html").read_text(encoding="utf-8")
    assert re.search(r'<abbr title="Address Resolution Protocol[^"]*">ARP</abbr>', html)
    assert re.search(r'<abbr title="Virtual Ethernet pair[^"]*">veth</abbr>', html)
    # "SYN-ACK" is its own term: once SYN's definition ("may I connect?") sat on the SYN of "SYN-ACK"
    # (abbr matches at word boundaries, longest term first). RST's must not contradict post three,
    # where a firewall rule sends one while something listens.
    three = (site / "posts" / "three-ways-to-say-no.html").read_text(encoding="utf-8")
    assert re.search(r'<abbr title="The second segment of a TCP handshake[^"]*">SYN-ACK</abbr>', three)
    for page in (html, three):
        assert "</abbr>-ACK" not in page
    rst = re.search(r'<abbr title="([^"]*)">RST</abbr>', three)
    assert rst and "firewall" in rst.group(1), rst


# netsim's own ids for outcomes, which the generated words must put in the kernel's words
NETSIM_IDS = r"\b(?:network-unreachable|host-unreachable|address-in-use|address-not-available|not-found|try-again)\b"


def test_generated_words_leak_no_python_and_no_netsim_ids(site: Path) -> None:
    """Every tick, figure label, caption and alt text netsim writes on every page is read by people:
    a cold reader found Python's None ('bob None'), 'lo .' for an empty list, '1 frame cross' and
    netsim's ids ('connect(): network-unreachable.', 'host-unreachable ✗') among them."""
    generated = re.compile(
        r'(?:data-tip|aria-label)="([^"]*)"|<figcaption>(.*?)</figcaption>|<caption>(.*?)</caption>'
        r'|<p class="ns-empty">(.*?)</p>|<text [^>]*>([^<]*)</text>',
        re.S,
    )
    pages = sorted(site.glob("posts/*.html"))
    assert len(pages) >= 8
    seen = 0
    for page in pages:
        for match in generated.finditer(page.read_text(encoding="utf-8")):
            text = unescape(re.sub(r"<[^>]+>", "", next(g for g in match.groups() if g is not None)))
            seen += 1
            for bad in (r"\bNone\b", r" \.(?:\s|$)", r"(?:^|[,;] )1 [\w-]+ cross\b", NETSIM_IDS, r"\bTTL None"):
                assert not re.search(bad, text), f"{page.name}: {bad!r} in {text!r}"
    assert seen > 1000, seen


def test_every_table_names_each_column(site: Path) -> None:
    # A screen reader reads a cell with its column's header; a table whose corner header is left
    # empty leaves its first column unnamed (Lighthouse: td-has-header, accessibility 96).
    empty = []
    for page in sorted(site.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        for head in re.findall(r"<thead>(.*?)</thead>", html, re.S):
            cells = re.findall(r"<th\b[^>]*>(.*?)</th>", head, re.S)
            if any(not re.sub(r"<[^>]+>", "", c).strip() for c in cells):
                empty.append((page.relative_to(site).as_posix(), [re.sub(r"<[^>]+>", "", c).strip() for c in cells]))
    assert not empty, f"tables with an unnamed column (page, headers): {empty}"


def test_nothing_runs_a_strict_build_with_quiet() -> None:
    """mkdocs 1.6 keeps -q's warnings out of the strict counter: `build --strict -q` passes false claims."""
    command = re.compile(r"mkdocs\W+(?:build|serve)\b[^\]\n]*", re.S)
    offenders = []
    for path in [ROOT / "Makefile", *ROOT.glob(".ci/*"), *ROOT.glob("*.md"), *ROOT.glob("*.py"), *ROOT.glob("*.yml")]:
        offenders += _quiet_strict(path, command)
    for folder in ("docs", "netsim", "tests", "benchmarks", "audit"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".sh", ".yml", ".yaml", ".toml") and "node_modules" not in path.parts:
                offenders += _quiet_strict(path, command)
    assert not offenders, f"--strict with -q passes false claims under mkdocs 1.6: {offenders}"


def _quiet_strict(path: Path, command: re.Pattern[str]) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = []
    for match in command.finditer(text):
        args = re.findall(r"(?<![\w-])--?[\w-]+", match.group(0))
        if "--strict" in args and ("-q" in args or "--quiet" in args):
            found.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}")
    return found


def test_only_the_first_step_of_a_stepper_is_live_the_rest_wait_in_noscript(site: Path) -> None:
    """netsim/pages/lazy.py: later steps, every step's bytes and the try-it script are noscript text
    until a reader asks for them (the page's live document stays small); without JavaScript the
    browser shows them as they are."""
    from netsim.pages import lazy

    for post in sorted((site / "posts").glob("*.html")):
        html = post.read_text(encoding="utf-8")
        name = re.search(r'<div class="ns-stepper" data-scenario="([^"]+)"', html).group(1)
        steps = len(load_scenario(ROOT / "diagrams" / f"{name}.yaml").steps)
        waiting = re.findall(r'<noscript class="ns-later" data-id="([^"]+)">(.*?)</noscript>', html, re.S)
        ids = [i for i, _inner in waiting]
        assert [i for i in ids if re.fullmatch(rf"{name}-step-\d+", i)] == [
            f"{name}-step-{n}" for n in range(2, steps + 1)
        ], post.name
        assert f"{name}-script" in ids, post.name
        # Each waiting step holds its whole figure, with the figure's id for a link to land on.
        for ident, inner in waiting:
            if ident.startswith(f"{name}-step-") and not ident.endswith("-bytes"):
                assert inner.startswith(f'<figure class="ns-figure ns-step" id="{ident}"'), ident
        live = re.sub(r"<noscript\b.*?</noscript>", "", html, flags=re.S)
        assert live.count('class="ns-figure ns-step"') == 1, post.name
        assert 'class="ns-frame"' not in live  # no byte is in the live page until asked for
        assert 'class="language-bash highlight"' not in live  # nor the try-it script
    with pytest.raises(ValueError, match="would end it early"):
        lazy.later("<p>x</p></NoScript><script>", "a-step")


def test_every_post_shares_its_first_diagram_as_a_picture(site: Path) -> None:
    """og:image: the first diagram of each post, drawn to a 1200 x 630 PNG at build time."""
    import hashlib
    import struct

    from netsim.pages.macros import render_page

    pictures = set()
    for post in sorted((site / "posts").glob("*.html")):
        html = post.read_text(encoding="utf-8")
        name = f"../previews/posts/{post.stem}.png"
        assert f'<meta property="og:image" content="{name}">' in html, post.name
        assert f'<meta name="twitter:image" content="{name}">' in html, post.name
        assert '<meta name="twitter:card" content="summary_large_image">' in html
        alt = re.search(r'<meta property="og:image:alt" content="([^"]+)">', html)
        assert alt and alt.group(1).startswith("A diagram from "), post.name
        png = (site / "previews" / "posts" / f"{post.stem}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", post.name
        assert struct.unpack(">II", png[16:24]) == (1200, 630), post.name
        pictures.add(hashlib.sha256(png).hexdigest())
        # It is the post's first figure: the step the first figure() call names.
        source = ROOT / "docs" / "posts" / f"{post.stem}.md"
        first = re.search(r'\{\{ figure\("(?:[\w-]+/)?([\w-]+)"', source.read_text(encoding="utf-8"))
        page = render_page(source, ROOT)
        assert page.first is not None and first is not None and page.first[1].id == first.group(1)
    assert len(pictures) == len(list((site / "posts").glob("*.html")))  # each post its own
    index = (site / "index.html").read_text(encoding="utf-8")  # a page without a diagram: no picture
    assert "og:image" not in index and '<meta name="twitter:card" content="summary">' in index
