"""The pages' Content-Security-Policy: everything from the site itself, and no inline script.

Escaping (netsim/render/escape.py) is the first defence against markup a scenario or a post
smuggles in; this policy is the second. It lets a page load scripts, styles, images, fonts and
frames only from the site, fetch only from the site, and run no inline script and no inline
event handler, so `<script>` or `onerror=` that got through anyway does nothing.

The theme's own inline scripts are files now (overrides/partials/javascripts/). One inline
script remains: the iframe-worker shim (docs/assets/vendor/) runs the search worker in an
iframe when the site is opened from a folder (file://), and writes a short bootstrap script
into that iframe, which inherits this policy. The bootstrap is allowed by its SHA-256, computed
from the vendored shim itself and the worker's address on that page, so only that exact script
runs. `mkdocs serve` injects its live-reload script; hooks.py gives it a fresh nonce per page.

Zensical's theme (the `modern` variant of 0.0.73) draws its search dialog in a shadow root and
styles it with a `<style>` element whose text is a string in its bundle. That one stylesheet is
allowed by its SHA-256, read from the bundle the build copied (`theme_style_hashes`); any other
inline style is still refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",  # the theme's icons are data: URLs in its CSS
    "font-src": "'self'",
    "connect-src": "'self'",
    "worker-src": "'self'",
    "frame-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}
# The theme's configuration is the last `__config` of a page (page content comes before it);
# its worker address is checked against the only shape the theme writes.
CONFIG = re.compile(r'<script id="__config" type="application/json">(.*?)</script>', re.S)
WORKER = re.compile(r"(?:\./|(?:\.\./)*|/(?:[\w.-]+/)*)assets/javascripts/workers/search\.[0-9a-f]+\.min\.js")
BOOTSTRAP = re.compile(r"document\.write\(`<html><body><script>(.*?)<\\/script>")
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def policy(script_hashes: list[str], style_hashes: tuple[str, ...] = ()) -> str:
    directives = dict(DIRECTIVES)
    directives["script-src"] = " ".join([directives["script-src"], *script_hashes])
    directives["style-src"] = " ".join([directives["style-src"], *style_hashes])
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def add_to_page(html: str, shim: str, style_hashes: tuple[str, ...] = ()) -> str:
    """The page with its policy as the first thing after `<meta charset>`, before any script."""
    configs = CONFIG.findall(html)
    hashes = []
    if configs:
        worker = json.loads(configs[-1]).get("search", "")
        if not WORKER.fullmatch(worker):
            raise ValueError(f"unexpected search worker address {worker!r}")
        hashes.append(script_hash(shim_bootstrap(shim, worker)))
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy(hashes, style_hashes)}">'
    if '<meta charset="utf-8">' not in html:
        raise ValueError("no <meta charset> to put the Content-Security-Policy after")
    return html.replace('<meta charset="utf-8">', '<meta charset="utf-8">\n    ' + meta, 1)


# Where the theme's bundle adds a stylesheet of its own: `C("style",{},NAME.toString())`, NAME
# a string literal in single quotes elsewhere in the bundle (Zensical 0.0.73's search dialog).
BUNDLE_STYLE = re.compile(r'\(\s*"style"\s*,\s*\{\s*\}\s*,\s*([\w$]+)\.toString\(\)\s*\)')


def theme_style_hashes(bundle: str) -> tuple[str, ...]:
    """The SHA-256 of each stylesheet the theme's bundle injects as an inline `<style>`.

    A bundle that adds a style this function cannot read is an error, not a policy that silently
    refuses the theme's search dialog its look.
    """
    hashes = []
    for name in BUNDLE_STYLE.findall(bundle):
        found = re.search(r"(?<![\w$.])" + re.escape(name) + r"='((?:[^'\\\n]|\\.)*)'", bundle)
        if found is None:
            raise ValueError(f"the theme's bundle injects the style {name!r} but does not define it as a string")
        hashes.append(script_hash(_js_string(found.group(1))))
    if "attachShadow" in bundle and '"style"' in bundle and not hashes:
        raise ValueError("the theme's bundle styles a shadow root in a way this policy does not know")
    return tuple(hashes)


def _js_string(body: str) -> str:
    """The value of a single-quoted JavaScript string literal's body (the escapes minifiers write)."""
    simple = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif e == "u" and body[i + 2] == "{":
            end = body.index("}", i)
            out.append(chr(int(body[i + 3 : end], 16)))
            i = end + 1
        elif e == "u":
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif e == "\n":  # a line continuation
            i += 2
        else:
            out.append(simple.get(e, e))
            i += 2
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")  # \uD83D\uDE00: one character


def script_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def shim_bootstrap(shim: str, worker: str) -> str:
    """The script the shim writes into its iframe for `worker`, exactly as the browser will see it.

    Its template names the shim's own functions (their source text, as JavaScript prints a
    function) and the worker's address.
    """
    found = BOOTSTRAP.search(shim)
    if found is None:
        raise ValueError("the iframe-worker shim no longer writes the bootstrap this policy knows")
    return PLACEHOLDER.sub(lambda m: _function_source(shim, m.group(1)) or worker, found.group(1))


def _function_source(code: str, name: str) -> str | None:
    """`function NAME(...){...}` as written in `code` (braces balanced), or None."""
    start = code.find(f"function {name}(")
    if start < 0:
        return None
    depth = 0
    for i in range(code.index("{", start), len(code)):
        depth += {"{": 1, "}": -1}.get(code[i], 0)
        if depth == 0:
            return code[start : i + 1]
    return None
