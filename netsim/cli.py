"""`netsim` (or `python -m netsim`): start a post, run, check and describe scenarios."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from netsim.errors import NetsimError, ScenarioError
from netsim.scaffold import ScaffoldError

EXIT_BAD_INPUT = 2
EXIT_LAB_UNAVAILABLE = 3
EXIT_BROKEN_PIPE = 141


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netsim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    new = sub.add_parser("new", help="start a post: a scenario, a post that builds green, and its nav entry")
    new.add_argument("name", help="the post's name in file names and addresses, e.g. two-seats")
    new.add_argument("--title", help="the post's title (default: from the name)")

    run = sub.add_parser("run", help="simulate a scenario and print its trace")
    run.add_argument("file", type=Path)
    run.add_argument("--json", action="store_true", help="print the trace as JSON")

    check = sub.add_parser("check", help="validate scenario files (default: diagrams/*.yaml)")
    check.add_argument("files", type=Path, nargs="*")

    sub.add_parser("schema", help="print the JSON Schema of scenario files")

    script = sub.add_parser("script", help='print the "try it yourself" shell script of a scenario')
    script.add_argument("file", type=Path)

    lab = sub.add_parser("lab", help="replay a scenario in real Linux network namespaces")
    lab.add_argument("file", type=Path)
    # One view at a time: given both, --json was silently ignored and the comparison printed.
    view = lab.add_mutually_exclusive_group()
    view.add_argument("--json", action="store_true", help="print the kernel's trace as JSON")
    view.add_argument("--compare", action="store_true", help="compare the kernel with netsim")

    files = sub.add_parser(
        "site-files", help="after a build by another generator (Zensical): figures, scripts, captures, palette, CSP"
    )
    files.add_argument("site", type=Path, help="the built site's folder")

    guard = sub.add_parser(
        "guard-pages", help="refuse pages that use Jinja beyond literal macro calls (before a build)"
    )
    guard.add_argument("pages", type=Path, nargs="*", help="Markdown pages (default: docs/**/*.md)")

    claims = sub.add_parser(
        "claims", help="the claim audit: can every claim on every page fail? (exit 1 if one cannot)"
    )
    claims.add_argument("posts", type=Path, nargs="*", help="pages to audit (default: docs/posts/*.md)")
    claims.add_argument("--verbose", "-v", action="store_true", help="list every claim and what catches it")

    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except (ScenarioError, ScaffoldError) as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NetsimError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`netsim schema | head`): not netsim's error. Point stdout at
        # /dev/null so the interpreter's last flush cannot fail again, and exit as a program
        # killed by SIGPIPE would (128 + 13), which a shell's pipefail still sees.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug in netsim, never a traceback for what a file says
        if os.environ.get("NETSIM_DEBUG"):
            raise
        print(
            f"error: internal error, please report it (NETSIM_DEBUG=1 shows where): "
            f"{type(exc).__name__}: {one_line(str(exc))}",
            file=sys.stderr,
        )
        return 1


def one_line(text: str, limit: int = 2000) -> str:
    """A message on one line: control characters escaped, so input cannot forge more output."""
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def page_source(path: Path) -> str:
    """A Markdown page's text, its front matter parsed; what cannot be read is a one-line error
    with the file and line (guard-pages and claims read pages a user names, not only docs/)."""
    import yaml

    from netsim.pages.macros import split_front_matter

    expected = "expected a Markdown file such as docs/posts/x.md"
    if not path.is_file():
        raise ScenarioError(str(path), 0, "", f"no such page; {expected}")
    if path.suffix != ".md":  # a scenario named by mistake would be audited as a page with no claims, and pass
        raise ScenarioError(str(path), 0, "", f"is not a Markdown page (NAME.md); {expected}")
    raw = path.read_bytes()
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            str(path), line, "", f"byte {raw[exc.start]:#04x} is not UTF-8; {expected} in UTF-8"
        ) from None
    try:
        meta, _ = split_front_matter(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1  # the front matter begins on the page's line 2
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ScenarioError(str(path), line, "front matter", f"not valid YAML: {problem}") from None
    if not isinstance(meta, dict):
        raise ScenarioError(str(path), 2, "front matter", f"found {type(meta).__name__}; expected a mapping")
    return source


def _dispatch(args: argparse.Namespace) -> int:
    from netsim.scenario import load_scenario

    if args.command == "new":
        from netsim.scaffold import new_post

        written = new_post(Path.cwd(), args.name, args.title)
        for path in written:
            print(f"wrote {path.relative_to(Path.cwd())}")
        print("next: make serve, open the new post, and tell its story; `make check` before a pull request")
        return 0
    if args.command == "run":
        from netsim.render.text import render
        from netsim.simulation import run

        scenario = load_scenario(args.file)
        trace = run(scenario)
        print(trace.dumps() if args.json else render(scenario, trace))
        return 0
    if args.command == "check":
        files = args.files or sorted(Path("diagrams").glob("*.yaml"))
        if not files:
            raise ScenarioError("diagrams", 0, "", "no scenario files found; expected diagrams/*.yaml")
        from netsim.simulation import run

        for file in files:
            scenario = load_scenario(file)
            run(scenario)  # what only playing the story finds: a route or rename the kernel refuses then
            print(f"ok  {scenario.file}: {len(scenario.steps)} steps")
        if not args.files and (Path.cwd() / "decoder" / "messages.yaml").exists():
            from netsim import decoder
            from netsim.pages.book import Book

            words = decoder.load(Path.cwd())  # the error decoder's words, checked like a post's claims
            problems = decoder.check(words, Book(Path.cwd()))
            if problems:
                raise problems[0]
            print(f"ok  {words.file}: {len(words.entries)} entries, each outcome agrees with its scenario")
        return 0
    if args.command == "site-files":
        from netsim.pages import sitefiles

        try:
            counts = sitefiles.write(args.site, Path.cwd())
        except FileNotFoundError as exc:
            print(f"netsim: {exc}", file=sys.stderr)
            return 2
        made = f"{counts['pages']} pages, {counts['figures']} diagrams, {counts['posts']} posts"
        print(f"ok  {args.site}: {made}, scripts, captures, feed")
        return 0
    if args.command == "guard-pages":
        from netsim.pages import postguard
        from netsim.pages.macros import Page, split_front_matter

        pages = args.pages or sorted(Path("docs").rglob("*.md"))
        for path in pages:
            source = page_source(path)
            _, body = split_front_matter(source)
            postguard.check(body, str(path), postguard.body_offset(source, body), Page.MACROS)
        print(f"ok  {len(pages)} pages use only literal macro calls")
        return 0
    if args.command == "schema":
        from netsim.schemafile import schema_text

        sys.stdout.write(schema_text())
        return 0
    if args.command == "script":
        from netsim.render.labscript import render as render_script

        print(render_script(load_scenario(args.file)), end="")
        return 0
    if args.command == "lab":
        from netsim.lab.cli import lab_main

        return lab_main(args.file, as_json=args.json, compare=args.compare)
    if args.command == "claims":
        from netsim.claimaudit.audit import audit, render

        for post in args.posts:
            page_source(post)  # a page the audit cannot read is the user's error, said before it starts
        report = audit(Path.cwd(), args.posts or None)
        print(render(report, verbose=args.verbose))
        failed = [e for p in report.pages for e in p.errors]
        for error in failed:
            print(f"error: {error}", file=sys.stderr)
        return 0 if report.ok and not failed else 1
    raise AssertionError(args.command)
