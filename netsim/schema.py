"""Typed dataclass fields that document themselves: one declaration gives the parser,
the error messages, the JSON Schema for editors and the contributor's field reference.

A field is declared with `option(doc, default)`; its type hint says what is accepted.
Formats that plain types cannot say (a MAC, an address with prefix) are `Annotated` markers.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import math
import re
import types
import typing
from dataclasses import MISSING, dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from netsim.addresses import normalise_mac, parse_endpoint
from netsim.errors import ScenarioError
from netsim.yamlsource import Path_, Source


@dataclass(frozen=True)
class Format:
    """A string format beyond its type: how to check it and what to say when it fails.

    `pattern` must match the whole value (re.fullmatch: a trailing newline does not pass).
    `editor` is for a format the reader parses instead (an address, a forward): a looser pattern
    that the JSON Schema gives editors, so a typo shows while typing. The reader's check is the
    truth; `editor` only ever lets more through (tests/test_schema_file.py holds it to that).
    """

    name: str
    expected: str
    pattern: str | None = None
    editor: str | None = None


@dataclass(frozen=True)
class Range:
    """A number's bounds, inclusive, and where they come from (the kernel's, or a stated limit)."""

    low: float
    high: float
    why: str


@dataclass(frozen=True)
class Most:
    """At most this many items in a list or mapping: a stated limit, so no input can be huge."""

    count: int


# Names end up in argument vectors, sysctl paths and file names: a conservative whitelist
# inside what the kernel's dev_valid_name() allows (not empty, under IFNAMSIZ = 16 bytes with
# the NUL, no '/', ':' or whitespace, not '.' or '..'). No '.' either: it would split a sysctl path.
# Not `all` or `default`: devinet_sysctl_register() (net/ipv4/devinet.c) refuses them with EINVAL
# (sysctl_dev_name_is_allowed(), include/net/ip.h), as they name net.ipv4.conf's own directories.
IFNAME_PATTERN = r"(?!(?:all|default)$)[A-Za-z][A-Za-z0-9_-]{0,14}"
HOST_PATTERN = r"[A-Za-z][A-Za-z0-9_-]{0,31}"
TEXT_LIMIT = 200  # characters of a title or label
LONG_TEXT_LIMIT = 1000  # characters of a description

# What ipaddress.IPv4Address takes: four decimal octets, 0-255, no leading zeros (Python 3.9.5+).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_PATTERN = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
# After the slash IPv4Interface and IPv4Network take a prefix length or a netmask (or hostmask).
_MASK = rf"/(?:[0-9]+|{IPV4_PATTERN})"

MAC_FORMAT = Format("mac", "a MAC address (six hex pairs)", r"[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}")
CIDR_FORMAT = Format(
    "ipv4-interface", "an IPv4 address with prefix, like 10.88.0.1/16", editor=f"{IPV4_PATTERN}{_MASK}"
)
IPV4_FORMAT = Format("ipv4", "an IPv4 address, like 10.88.0.1", editor=IPV4_PATTERN)
ENDPOINT_FORMAT = Format("endpoint", "an IPv4 address and port, like 10.88.0.1:19001", editor=rf"{IPV4_PATTERN}:[0-9]+")
IFNAME_FORMAT = Format(
    "ifname", "an interface name: a letter, then up to 14 letters, digits, - or _ (Linux's 15 bytes)", IFNAME_PATTERN
)
HOST_FORMAT = Format("host", "a host name: a letter, then up to 31 letters, digits, - or _", HOST_PATTERN)
STEP_ID_FORMAT = Format("step-id", "a step id: up to 64 lower-case letters, digits and -", r"[a-z0-9][a-z0-9-]{0,63}")
PLUG_FORMAT = Format("plug", "'BRIDGE.PORT' or 'HOST.INTERFACE'", rf"{HOST_PATTERN}\.{IFNAME_PATTERN}")
# IPv4Network takes an address alone as its /32.
ROUTE_TO_FORMAT = Format(
    "route-to", "'default' or a network like 10.89.0.0/16", editor=f"default|{IPV4_PATTERN}(?:{_MASK})?"
)
NETWORK_FORMAT = Format("ipv4-network", "a network like 10.88.0.0/16", editor=f"{IPV4_PATTERN}(?:{_MASK})?")
DST_FORMAT = Format("dst", "a MAC, a host's name or 'broadcast'", rf"[0-9a-fA-F:-]{{17}}|{HOST_PATTERN}")
FORWARD_FORMAT = Format(
    "ssh-forward",
    "an ssh -L forward, [BIND:]PORT:HOST:HOSTPORT, with BIND empty, '*', 'localhost' or an IPv4 address and "
    "HOST 'localhost' or an IPv4 address, like 10.88.0.1:19001:localhost:9001",
    editor=rf"(?:(?:{IPV4_PATTERN}|localhost|\*)?:)?[0-9]+:(?:{IPV4_PATTERN}|localhost):[0-9]+",
)
# A host name as /etc/hosts and DNS take it (RFC 1123 2.1, RFC 1035 2.3.1): dot-separated labels
# of letters, digits and inner hyphens, each at most 63 characters, 253 in all (checked below).
# It is written into /etc/hosts and onto a command line: nothing else may pass.
DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DNS_NAME_LIMIT = 253
DNS_NAME_FORMAT = Format(
    "dns-name",
    "a host name such as host.containers.internal: labels of letters, digits and inner hyphens, "
    "each at most 63 characters, joined by dots, 253 characters in all",
    rf"{DNS_LABEL}(?:\.{DNS_LABEL})*",
)
# A program's command name as the kernel keeps it (TASK_COMM_LEN is 16 bytes with the NUL) and
# `ss -p` prints it inside quotes: no quote, comma or bracket may pass, nor anything HTML minds.
PROGRAM_FORMAT = Format(
    "program",
    "a command name: a letter or digit, then up to 14 letters, digits, ., - or _ (Linux's comm)",
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,14}",
)
TEXT_FORMAT = Format("text", f"one line of text, at most {TEXT_LIMIT} characters, no control or invisible characters")
LONG_TEXT_FORMAT = Format(
    "long-text", f"text of at most {LONG_TEXT_LIMIT} characters, no control or invisible characters"
)

Mac = Annotated[str, MAC_FORMAT]
Cidr = Annotated[str, CIDR_FORMAT]
IPv4 = Annotated[str, IPV4_FORMAT]
Endpoint = Annotated[str, ENDPOINT_FORMAT]
IfName = Annotated[str, IFNAME_FORMAT]
HostName = Annotated[str, HOST_FORMAT]
StepId = Annotated[str, STEP_ID_FORMAT]
Plug = Annotated[str, PLUG_FORMAT]
RouteTo = Annotated[str, ROUTE_TO_FORMAT]
Network = Annotated[str, NETWORK_FORMAT]
Dst = Annotated[str, DST_FORMAT]
Text = Annotated[str, TEXT_FORMAT]
LongText = Annotated[str, LONG_TEXT_FORMAT]
ForwardSpec = Annotated[str, FORWARD_FORMAT]
DnsName = Annotated[str, DNS_NAME_FORMAT]
ProgramName = Annotated[str, PROGRAM_FORMAT]


def option(doc: str, default: Any = MISSING, *, factory: Any = MISSING) -> Any:
    """A dataclass field with its documentation attached."""
    meta = {"doc": doc}
    if factory is not MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# Control characters, and the invisible ones that reorder or hide text (bidirectional overrides and
# isolates, zero-width marks, the BOM): a caption, an SVG label or an alt text would read other than
# it is written (the "Trojan Source" trick, CVE-2021-42574).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _check_text(value: str, limit: int) -> str | None:
    """One line of printable text: surrounding whitespace (a folded block's last newline) removed."""
    value = value.strip()
    if len(value) > limit or _CONTROL.search(value):
        return None
    return value


def bad_ifname(name: str) -> str:
    """Why a name is no interface name here: the kernel's own rule first, then ours."""
    why = (
        "the kernel refuses it (dev_valid_name(): at most 15 characters, no '/', ':' or space)"
        if len(name) > 15 or any(c in name for c in "/: \t\n") or name in ("", ".", "..")
        else "the kernel would take it, but scripts here keep to letters, digits, - and _, starting with a letter"
    )
    if name in ("all", "default"):
        why = (
            "the kernel refuses it (EINVAL, RTNETLINK answers: Invalid argument): net.ipv4.conf.all and .default are "
            "sysctl directories of their own (devinet_sysctl_register(), net/ipv4/devinet.c)"
        )
    if name == "lo":
        why = "every namespace has its own lo already"
    return f"{_found(name)} is not a usable interface name: {why}"


def bad_port(value: str) -> str | None:
    """Why an otherwise well-formed ADDRESS:PORT is refused for its port, or None."""
    host, _, port = value.rpartition(":")
    if not (port.isascii() and port.isdigit()) or len(port) > 6:
        return None
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return None
    if int(port) == 0:
        return (
            f"{_found(value)}: port 0 is not modelled (a listener bound to port 0 gets a free port the kernel "
            "picks, inet_csk_get_port(); a SYN to port 0 is answered like one to a closed port); "
            "expected a port from 1 to 65535, like 10.88.0.1:19001"
        )
    if int(port) > 65535:
        return (
            f"{_found(value)}: port {int(port)} is beyond 65535, a TCP port's 16 bits; expected a port from 1 to 65535"
        )
    return None


def _check_format(fmt: Format, value: str) -> str | None:
    """The normalised value, or None when it does not have the format."""
    if fmt is TEXT_FORMAT:
        return _check_text(value, TEXT_LIMIT)
    if fmt is LONG_TEXT_FORMAT:
        return _check_text(value, LONG_TEXT_LIMIT)
    if len(value) > LONG_TEXT_LIMIT:  # no format below is that long; do not hand megabytes to a parser
        return None
    if fmt.pattern is not None and not re.fullmatch(fmt.pattern, value):
        return None
    if fmt is DNS_NAME_FORMAT and len(value) > DNS_NAME_LIMIT:
        return None
    if fmt is MAC_FORMAT or fmt is DST_FORMAT:
        mac = normalise_mac(value)
        return mac if mac is not None or fmt is MAC_FORMAT else value
    if fmt.pattern is not None:
        return value
    if fmt is FORWARD_FORMAT:
        from netsim.sshforward import parse as parse_forward

        forward = parse_forward(value)
        return forward.text() if forward else None
    if fmt is ENDPOINT_FORMAT:
        parsed = parse_endpoint(value)
        return f"{parsed[0]}:{parsed[1]}" if parsed else None
    try:
        if fmt is CIDR_FORMAT:
            if "/" not in value:
                return None
            return str(ipaddress.IPv4Interface(value))
        if fmt is IPV4_FORMAT:
            return str(ipaddress.IPv4Address(value))
        if fmt is ROUTE_TO_FORMAT:
            return value if value == "default" else str(ipaddress.IPv4Network(value))
        if fmt is NETWORK_FORMAT:
            return str(ipaddress.IPv4Network(value))
    except ValueError:
        return None
    raise AssertionError(fmt)


def _describe(tp: Any) -> str:
    """What a person should have written, for error messages."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        marker = args[1]
        if isinstance(marker, Range):
            return f"{_describe(args[0])} from {_number(marker.low)} to {_number(marker.high)}"
        if isinstance(marker, Most):
            return f"{_describe(args[0])} (at most {marker.count})"
        return marker.expected
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is list:
        inner = _describe(args[0])
        return "a list of mappings" if inner == "a mapping" else f"a list of {inner}"
    if origin is dict:
        return f"a mapping of names to {_describe(args[1])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {str: "text", int: "a whole number", bool: "true or false", float: "a number"}[tp]


def _number(x: float) -> str:
    """A bound as a reader writes it: whole numbers in full (4194304, not 4.1943e+06)."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _found(value: Any) -> str:
    """What was found, in one short line whatever it is (an error message repeats it)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return "a number too large to be meant"
    text = repr(value)  # repr escapes newlines and control characters
    return text if len(text) <= 60 else text[:57] + "..."


def build(tp: Any, value: Any, path: Path_, src: Source) -> Any:
    """Check `value` against type `tp` and construct it; raise ScenarioError at `path`."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        marker = args[1]
        if isinstance(marker, Range):
            try:
                number = build(args[0], value, path, src)
            except ScenarioError:
                if isinstance(value, int | float) and not isinstance(value, bool):
                    raise  # a number, but not one of this kind (1.5 for a whole one, inf): its own words
                # not a number at all: say the range too, as for one outside it
                raise src.error(path, f"{_found(value)} is not {_describe(tp)}") from None
            if not marker.low <= number <= marker.high:
                raise src.error(path, f"{_found(value)} is out of range; expected {_describe(tp)} ({marker.why})")
            return number
        if isinstance(marker, Most):
            if isinstance(value, list | dict) and len(value) > marker.count:
                raise src.error(path, f"{len(value)} items; expected at most {marker.count}")
            return build(args[0], value, path, src)
        if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 10**30:
            # YAML read it as a number (an id like 404): it was meant as text, as written
            value = src.texts.get(path, str(value))
        if not isinstance(value, str):
            hint = " (YAML reads yes, no, on and off as true or false: put quotes around it)"
            raise src.error(
                path, f"{_found(value)} is not {marker.expected}" + (hint if isinstance(value, bool) else "")
            )
        checked = _check_format(marker, value)
        if checked is None and marker is IFNAME_FORMAT:
            raise src.error(path, bad_ifname(value))
        if checked is None and marker is ENDPOINT_FORMAT and (why := bad_port(value)):
            raise src.error(path, why)
        if checked is None:
            raise src.error(path, f"{_found(value)} is not {marker.expected}")
        return checked
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:  # plain optional: the inner type's own message is the precise one
            return build(rest[0], value, path, src)
        for arg in rest:
            try:
                return build(arg, value, path, src)
            except ScenarioError:  # try the next alternative; report them all below
                continue
        raise src.error(path, f"{_found(value)} is not {_describe(tp)}")
    if origin is Literal:
        if value not in args:
            raise src.error(path, f"{_found(value)} is not {_describe(tp)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise src.error(path, f"{_found(value)} is not {_describe(tp)}")
        return [build(args[0], item, (*path, i), src) for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise src.error(path, f"{_found(value)} is not {_describe(tp)}")
        if get_origin(args[0]) is Annotated:  # a name as a key: checked like any other name
            for k in value:
                build(args[0], k, (*path, k), src)
        return {k: build(args[1], v, (*path, k), src) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, value, path, src)
    if tp is bool:
        if not isinstance(value, bool):
            raise src.error(path, f"{_found(value)} is not true or false")
        return value
    if tp is int or tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float) if tp is float else int):
            raise src.error(path, f"{_found(value)} is not {_describe(tp)}")
        try:
            number = tp(value)
        except OverflowError:  # an int beyond any float
            raise src.error(path, f"{_found(value)} is not a finite number") from None
        if tp is float and not math.isfinite(number):
            raise src.error(path, f"{_found(value)} is not a finite number")
        return number
    if tp is str:  # plain text: held to the same one-line rule as Text, so a new field is safe
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            hint = " (YAML reads yes, no, on and off as true or false: put quotes around it)"
            raise src.error(path, f"{_found(value)} is not text" + (hint if isinstance(value, bool) else ""))
        return build(Text, value, path, src)
    raise TypeError(f"unsupported field type {tp!r}")


@functools.cache
def _declared(cls: Any) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A dataclass's type hints and fields, worked out once (get_type_hints is slow)."""
    return get_type_hints(cls, include_extras=True), {f.name: f for f in dataclasses.fields(cls)}


def _build_dataclass(cls: Any, value: Any, path: Path_, src: Source) -> Any:
    if not isinstance(value, dict):
        raise src.error(path, f"{_found(value)} is not a mapping")
    hints, fields = _declared(cls)
    for key in value:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise src.error((*path, key), f"unknown key; expected one of: {known}")
    kwargs = {}
    for name, f in fields.items():
        if name in value:
            kwargs[name] = build(hints[name], value[name], (*path, name), src)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise src.error((*path, name), f"missing; expected {_describe(hints[name])}")
    obj = cls(**kwargs)
    object.__setattr__(obj, "_path", path)  # kept so later checks can point at the line
    object.__setattr__(obj, "_where", (src.file, src.line(path)))
    return obj


def path_of(obj: Any) -> Path_:
    """The YAML path a built dataclass came from (empty for one made in code)."""
    return getattr(obj, "_path", ())


def error_at(obj: Any, field: str, message: str) -> ScenarioError:
    """A ScenarioError pointing at the file and line a built dataclass came from."""
    file, line = getattr(obj, "_where", ("scenario", 0))
    from netsim.yamlsource import dotted

    return ScenarioError(file, line, dotted((*path_of(obj), field)) if field else dotted(path_of(obj)), message)


# --- JSON Schema, generated from the same declarations -----------------------------------


def json_schema(tp: Any) -> dict[str, Any]:
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        marker = args[1]
        if isinstance(marker, Range):
            return {**json_schema(args[0]), "minimum": marker.low, "maximum": marker.high}
        if isinstance(marker, Most):
            inner = json_schema(args[0])
            key = "maxItems" if inner.get("type") == "array" else "maxProperties"
            return {**inner, key: marker.count}
        return _format_schema(marker)
    if origin in (Union, types.UnionType):
        alts = [json_schema(a) for a in args if a is not type(None)]
        if type(None) in args:
            alts.append({"type": "null"})
        return alts[0] if len(alts) == 1 else {"anyOf": alts}
    if origin is Literal:
        return {"enum": list(args)}
    if origin is list:
        return {"type": "array", "items": json_schema(args[0])}
    if origin is dict:
        out = {"type": "object", "additionalProperties": json_schema(args[1])}
        if get_origin(args[0]) is Annotated:  # a name as a key: the reader checks it like any other name
            out["propertyNames"] = {k: v for k, v in json_schema(args[0]).items() if k != "type"}
        return out
    if dataclasses.is_dataclass(tp):
        hints = get_type_hints(tp, include_extras=True)
        props = {}
        required = []
        for f in dataclasses.fields(tp):
            prop = json_schema(hints[f.name])
            prop["description"] = f.metadata.get("doc", "")
            if f.default is not MISSING and f.default is not None:
                prop["default"] = f.default
            if f.default is MISSING and f.default_factory is MISSING:
                required.append(f.name)
            props[f.name] = prop
        out = {"type": "object", "properties": props, "additionalProperties": False}
        if tp.__doc__:
            out["description"] = typing.cast(str, tp.__doc__).strip().splitlines()[0]
        if required:
            out["required"] = required
        return out
    if tp is str:  # the reader holds plain text to the one-line rule of Text
        return json_schema(Text)
    return {
        int: {"type": "integer"},
        bool: {"type": "boolean"},
        float: {"type": "number"},
    }[tp]


def _format_schema(fmt: Format) -> dict[str, Any]:
    """A string format for editors. Never stricter than the reader (`build`), which editors cannot
    replace: YAML 1.2, which editors speak, reads some values as numbers where the reader (YAML 1.1,
    with the text as written) sees text, and JSON Schema cannot say what the reader parses."""
    out: dict[str, Any] = {"type": "string", "description": fmt.expected}
    if _check_format(fmt, "1") is not None:
        # A number may be meant as text (an id 404): the reader takes it as written, if not too
        # large to be meant, and if its text has the format (a negative one, or one with a point).
        whole = _check_format(fmt, "1.5") is None
        out["type"] = ["string", "integer" if whole else "number"]
        if _check_format(fmt, "-1") is not None:
            out["exclusiveMinimum"] = -(10**30)
        else:
            out["minimum"] = 0
        out["exclusiveMaximum"] = 10**30
    if fmt in (TEXT_FORMAT, LONG_TEXT_FORMAT):
        # _check_text(): one line of no control or invisible character, its length counted once the
        # surrounding whitespace (a folded block's last newline) is stripped. The limit is in the
        # pattern, not maxLength, which would count that whitespace too.
        limit = TEXT_LIMIT if fmt is TEXT_FORMAT else LONG_TEXT_LIMIT
        out["pattern"] = rf"^\s*[^{_CONTROL.pattern[1:-1]}]{{0,{limit}}}\s*$"
    elif fmt.pattern or fmt.editor:
        out["pattern"] = f"^(?:{fmt.pattern or fmt.editor})$"
    return out


def field_reference(cls: Any, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(dotted name, type, default, doc) for every field, nested, for the contributor guide."""
    rows: list[tuple[str, str, str, str]] = []
    hints = get_type_hints(cls, include_extras=True)
    for f in dataclasses.fields(cls):
        name = f"{prefix}{f.name}"
        tp = hints[f.name]
        default = "" if f.default in (MISSING, None) else repr(f.default)
        if f.default is MISSING and f.default_factory is MISSING:
            default = "required"
        rows.append((name, _describe(tp), default, f.metadata.get("doc", "")))
        inner = _inner_dataclass(tp)
        if inner is not None:
            suffix = (
                ".*."
                if get_origin(_strip_optional(tp)) is dict
                else ("[]." if get_origin(_strip_optional(tp)) is list else ".")
            )
            rows.extend(field_reference(inner, name + suffix))
    return rows


def _strip_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        rest = [a for a in get_args(tp) if a is not type(None)]
        tp = rest[0] if len(rest) == 1 else tp
    if get_origin(tp) is Annotated and isinstance(get_args(tp)[1], Range | Most):
        return _strip_optional(get_args(tp)[0])
    return tp


def _inner_dataclass(tp: Any) -> Any:
    tp = _strip_optional(tp)
    if dataclasses.is_dataclass(tp):
        return tp
    if get_origin(tp) in (list, dict):
        inner = get_args(tp)[-1]
        return inner if dataclasses.is_dataclass(inner) else None
    return None
