"""Section 7, "Bounds of a well-formed trace": a trace file's bytes read as
one JSON document.

The bytes are decoded (UTF-8 with or without a byte order mark, UTF-16 and
UTF-32 with one; the size checked before the file is read whole), parsed
with no duplicate key, no NaN or Infinity and at most ``MAX_DEPTH`` levels
of nesting, and scanned for control characters in strings. Whatever is
wrong raises ``TraceError`` with one line naming the place. The bounds of
values are the JSON Schema's, in ``model.trace``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any


class TraceError(ValueError):
    """A malformed trace: exit status 2, one line naming the place."""


# Section 7, "Bounds of a well-formed trace". The byte and JSON bounds are
# enforced here; the bounds of values (times, names, versions, ids, counts,
# data disks, the number of events) are in the JSON Schema; the epoch's
# calendar and years, and the rules across fields, in _check_semantics.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
EPOCH_YEARS = (1970, 9000)

# Byte order marks, longest first: UTF-32 LE's begins with UTF-16 LE's.
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32 BE"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32 LE"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xfe\xff", "utf-16-be", "UTF-16 BE"),
    (b"\xff\xfe", "utf-16-le", "UTF-16 LE"),
)
# C0 controls other than tab, line feed and carriage return: JSON text never
# holds one raw (inside a string it is escaped, outside a string it is not
# allowed). In UTF-8 these bytes are never part of a longer sequence.
_CONTROLS = "".join(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]))
_CONTROL_SET = _CONTROLS.encode()
_CONTROL_BYTES = re.compile(b"[" + re.escape(_CONTROLS.encode()) + b"]")
_CONTROL_CHARS = re.compile("[" + re.escape(_CONTROLS) + "]")


def too_large(source: str, size: int | None) -> TraceError:
    has = f"{size:,} bytes" if size is not None else "more"
    return TraceError(
        f"{source}: byte offset {MAX_FILE_BYTES}: a trace is at most 64 MiB "
        f"({MAX_FILE_BYTES:,} bytes); this one has {has}"
    )


def decode(data: bytes, source: str) -> str:
    """Section 7: UTF-8 with or without a byte order mark, or UTF-16 / UTF-32
    with one; anything else is refused at the byte offset of the first bad byte."""
    if len(data) > MAX_FILE_BYTES:
        raise too_large(source, len(data))
    skip, codec, label = 0, "utf-8", "UTF-8"
    for bom, name, what in _BOMS:
        if data.startswith(bom):
            skip, codec, label = len(bom), name, what
            break
    body = memoryview(data)[skip:]
    bad: UnicodeDecodeError | None = None
    try:
        text = str(body, codec)
    except UnicodeDecodeError as exc:
        bad = exc
        text = str(body[: exc.start], codec)  # the good part before it
    if codec == "utf-8":
        end = skip + len(body) if bad is None else skip + bad.start
        clean = len(data.translate(None, _CONTROL_SET)) == len(data)  # faster than search
        control = None if clean else _CONTROL_BYTES.search(data, skip, end)
        offset = None if control is None else control.start()
    else:
        control = _CONTROL_CHARS.search(text)
        offset = None if control is None else skip + len(text[: control.start()].encode(codec))
    if control is not None:
        code = ord(control.group())
        hint = " (UTF-16 and UTF-32 need a byte order mark)" if code == 0 and skip == 0 else ""
        raise TraceError(
            f"{source}: byte offset {offset}: control character U+{code:04X} "
            f"is not allowed in JSON text{hint}"
        )
    if bad is not None:
        offset = skip + bad.start
        if codec == "utf-8":
            raise TraceError(
                f"{source}: byte offset {offset}: byte 0x{data[offset]:02x} is not UTF-8 "
                "(a trace is UTF-8, or UTF-16 or UTF-32 with a byte order mark)"
            )
        raise TraceError(f"{source}: byte offset {offset}: not {label} text ({bad.reason})")
    return text


class _Duplicate(dict):
    """An object in which ``key`` appeared more than once."""

    key: str = ""


class _Constant:
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's json reads them, JSON has none."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def __repr__(self) -> str:
        return self.literal


class _HugeInteger:
    """An integer literal longer than Python converts (sys.get_int_max_str_digits)."""

    __slots__ = ("digits",)

    def __init__(self, literal: str) -> None:
        self.digits = len(literal.lstrip("-"))


class _Float(float):
    """A number too large for a float (1e400), shown as it was written."""

    def __new__(cls, literal: str) -> _Float:
        number = super().__new__(cls, literal)
        number.literal = literal
        return number

    def __repr__(self) -> str:
        return self.literal


def _integer(literal: str) -> int | _HugeInteger:
    limit = sys.get_int_max_str_digits()
    if limit and len(literal.lstrip("-")) > limit:
        return _HugeInteger(literal)
    return int(literal)


def loads_json(text: str, source: str) -> tuple[Any, bool]:
    """Parse one JSON document; returns it and whether the parser met anything
    that scan must look at (a duplicate key, NaN or Infinity, a fraction or
    an exponent, a huge integer). Syntax errors name ``source:line:col``."""
    flagged = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal flagged
        obj = dict(items)
        if len(obj) == len(items):
            return obj
        flagged = True
        seen: set[str] = set()
        duplicate = _Duplicate(obj)
        duplicate.key = next(k for k, _ in items if k in seen or seen.add(k))
        return duplicate

    def constant(literal: str) -> _Constant:
        nonlocal flagged
        flagged = True
        return _Constant(literal)

    def number(literal: str) -> float:
        nonlocal flagged
        flagged = True
        value = float(literal)
        return value if math.isfinite(value) else _Float(literal)  # 1e400, not inf

    hooks: dict[str, Any] = {
        "object_pairs_hook": pairs,
        "parse_constant": constant,
        "parse_float": number,
    }
    try:
        try:
            data = json.JSONDecoder(**hooks).decode(text)
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            # An integer literal past Python's digit limit: read again, marking it.
            data = json.JSONDecoder(**hooks, parse_int=_integer).decode(text)
            flagged = True
    except json.JSONDecodeError as exc:
        raise TraceError(f"{source}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except RecursionError:
        where = _too_deep_in_text(text) or f"/: nesting deeper than {MAX_DEPTH}"
        raise TraceError(f"{source}: {where}") from None
    return data, flagged


_STRUCTURE = re.compile(r'[\[\]{}",]')
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _too_deep_in_text(text: str) -> str | None:
    """The place of the first value nested deeper than MAX_DEPTH, found by a
    scan of the text that does not recurse (the parser gave up on the depth);
    None if there is none before the text stops being JSON."""
    path: list[Any] = []  # the current child of each open array or object
    in_object: list[bool] = []
    expect_key = False
    pos = 0
    while (match := _STRUCTURE.search(text, pos)) is not None:
        char, pos = match.group(), match.end()
        if char == '"':
            rest = _STRING_REST.match(text, pos)
            if rest is None:
                break
            if expect_key:
                try:
                    path[-1] = json.loads(text[pos - 1 : rest.end()])
                except ValueError:
                    path[-1] = text[pos : rest.end() - 1]
                expect_key = False
            pos = rest.end()
        elif char in "[{":
            if len(in_object) == MAX_DEPTH:
                return f"{pointer(path)}: nesting deeper than {MAX_DEPTH}"
            in_object.append(char == "{")
            path.append("" if char == "{" else 0)
            expect_key = char == "{"
        elif char in "]}":
            if not in_object:
                break
            in_object.pop()
            path.pop()
            expect_key = False
        elif in_object:  # a comma
            if in_object[-1]:
                expect_key = True
            else:
                path[-1] += 1
    return None


def scan(data: Any, at: tuple[Any, ...] = (), prune: Any = None) -> tuple[str | None, bool]:
    """Walk a value found at path ``at`` without recursing, in document order:
    the first JSON-level problem (nesting deeper than MAX_DEPTH, a duplicate
    key, NaN or Infinity, an integer too long to convert), and whether it holds
    a number with a fraction or an exponent (no field takes one: the schema
    names the type). The children of the container at path ``prune`` are not
    visited (the events, each checked on its own)."""
    bits = sys.get_int_max_str_digits() * 3.3219  # 0: no limit
    has_float = False

    def problem(value: Any, where: tuple[Any, ...]) -> str | None:
        if isinstance(value, dict | list):
            if len(where) >= MAX_DEPTH:
                return f"{pointer(where)}: nesting deeper than {MAX_DEPTH}"
            if isinstance(value, _Duplicate):
                return f"{pointer(where)}: duplicate key {short(value.key)}"
        elif isinstance(value, _Constant):
            return (
                f"{pointer(where)}: {value.literal} is not a JSON number "
                "(no NaN or Infinity in a trace)"
            )
        elif isinstance(value, _HugeInteger):
            return f"{pointer(where)}: an integer of {value.digits:,} digits is out of range"
        elif isinstance(value, int) and bits and value.bit_length() > bits:
            # Only from Python data (JSON text gives _HugeInteger): too long to print.
            return f"{pointer(where)}: an integer of more than {bits / 3.3219:,.0f} digits"
        return None

    found = problem(data, at)
    if found is not None or not isinstance(data, dict | list):
        return found, isinstance(data, float)
    stack: list[tuple[tuple[Any, ...], Any]] = [(at, _children(data, at == prune))]
    while stack:
        path, children = stack[-1]
        for key, child in children:
            kind = type(child)
            if kind is str or kind is bool or child is None:
                continue
            if kind is int and not (bits and child.bit_length() > bits):
                continue
            where = (*path, key)
            found = problem(child, where)
            if found is not None:
                return found, has_float
            if isinstance(child, dict | list):
                stack.append((where, _children(child, where == prune)))
                break
            has_float = has_float or isinstance(child, float)
        else:
            stack.pop()
    return None, has_float


def _children(value: dict[str, Any] | list[Any], pruned: bool) -> Any:
    if pruned:
        return iter(())
    return iter(value.items()) if isinstance(value, dict) else enumerate(value)


def display(text: str) -> str:
    """Text for a one-line message: control characters, lone surrogates and
    other unprintable characters escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def pointer(path: Any) -> str:
    """A JSON pointer (RFC 6901), each segment shown printable and at most 64 characters."""
    segments = []
    for part in path:
        text = str(part).replace("~", "~0").replace("/", "~1")
        if len(text) > 64:
            text = text[:48] + f"...({len(text):,} characters)"
        segments.append(display(text))
    return "/" + "/".join(segments)


def short(value: Any, limit: int = 60) -> str:
    """repr() for a message: a long string, list, object or integer is cut short."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = str(value)
        return digits if len(digits) <= 24 else f"{digits[:12]}...({len(digits):,} digits)"
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        head = repr(value[: limit // 2])
        return f"{head[:-1]}...{head[-1]} ({len(value):,} characters)"
    if isinstance(value, list):
        head = ", ".join(short(item, 20) for item in value[:3])
        return f"[{head}, ...] ({len(value):,} items)"
    if isinstance(value, dict):
        head = ", ".join(f"{short(key, 20)}: ..." for key in list(value)[:3])
        return f"{{{head}, ...}} ({len(value):,} fields)"
    return text[:limit] + "..."


# ----------------------------------------------------------------- the JSON Schema
