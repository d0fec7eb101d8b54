"""Section 7's bounds, fuzzed: whatever bytes `load_trace_bytes` is given, it
returns a Trace or raises TraceError (one line, printable as UTF-8), never
anything else; a Trace it returns replays, and its result and timeline
render, without raising. Inputs: (a) arbitrary bytes, alone or spliced into
a valid trace; (b) arbitrary JSON values (huge integers, NaN, surrogates,
control characters) in every accepted and refused encoding; (c) the traces
under examples/ mutated structurally (replace, delete or insert a value,
duplicate a key in the text, move an event, push a number or a string past
its bound, nest deeply). And the fast compiled check agrees with the JSON
Schema's own validator on every mutated document."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.jsontext import _too_deep_in_text
from model.jsontext import scan as _scan
from model.replay import Replay
from model.trace import TraceError, load_trace_bytes, result_to_json
from model.trace_schema import _schema, validator
from model.trace_schema import fast_valid as _fast_valid
from vmss_spec.replay import replay

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {p.name: json.loads(p.read_text()) for p in sorted((ROOT / "examples").glob("*.json"))}
SOURCE = "fuzz.json"

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Raw:
    """JSON text written as is: a number literal Python would not print."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:20]!r})"


class Pairs:
    """An object written with its keys in this order, one of them twice."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def __repr__(self) -> str:
        return f"Pairs({[k for k, _ in self.pairs]!r})"


def dump(value: Any, ascii_only: bool) -> str:
    """JSON text of a value that may hold Raw, Pairs, NaN and lone surrogates."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs | dict):
        pairs = value.pairs if isinstance(value, Pairs) else value.items()
        inner = ", ".join(
            f"{json.dumps(k, ensure_ascii=ascii_only)}: {dump(v, ascii_only)}" for k, v in pairs
        )
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)  # NaN, Infinity as Python writes them


def _field_names() -> list[str]:
    names: set[str] = set()
    stack: list[Any] = [_schema()]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(names)


FIELDS = _field_names()
EVENT_KINDS = sorted(_schema()["$defs"]["event"]["properties"]["event"]["enum"])
BOUNDARY_INTS = [
    *(-1, 0, 1, 4, 5, 20, 63, 64, 65, 99, 100, 101, 999, 1000, 1001),
    *(10**9, 10**9 + 1, 3_155_760_000, 3_155_760_001, 2**31, 2**63, -(2**63), 10**30),
]
ODD_STRINGS = [
    "",
    "latest",
    "1.0.1",
    "x" * 256,
    "x" * 257,
    "\x1b[31mred\x1b[0m",
    "line\nbreak",
    "\ud800",
    "\udfff tail",
    "\x7f",
    "\x85",
    "\u2028",
    "\U0001f600" * 3,
    "1.2.3.4.5.6.7.8.9",
    "1.2.3.4.5.6.7.8",
    "1.0.1234567890",
    "\u0661.\u0662",
    "1" + "0" * 5000,
    "2018-10-01T00:00:00Z",
    "2018-10-01T00:00:00",
    "9000-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59+00:00",
    "1970-01-01T00:00:00+23:59",
    "P40D",
    "PT0S\n",
    "P" + "9" * 5000 + "D",
    *EVENT_KINDS,
    *FIELDS,
]

TEXT = st.text(st.characters(exclude_categories=()), max_size=12) | st.sampled_from(ODD_STRINGS)
INTEGERS = st.integers() | st.sampled_from(BOUNDARY_INTS)
HUGE = st.integers(4295, 4400).map(lambda n: Raw("9" * n)) | st.sampled_from(
    [Raw("-" + "1" * 5000), Raw("1" + "0" * 20000)]
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [Raw("1e400"), Raw("-1e400"), Raw("10.0"), Raw("1E2"), Raw("-0"), Raw("5e-324")]
)
SCALARS = st.none() | st.booleans() | INTEGERS | HUGE | FLOATS | TEXT
NESTED = st.integers(60, 70).map(lambda n: Raw("[" * n + "]" * n)) | st.integers(900, 5000).map(
    lambda n: Raw('{"a": ' * n + "0" + "}" * n)
)
VALUES = st.recursive(
    SCALARS | NESTED,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
# Plain JSON data, as json.loads gives it, without fractions (the fast check
# takes 10.0 for an integer; the loader sends every fraction to jsonschema).
PLAIN = st.recursive(
    st.none() | st.booleans() | INTEGERS | TEXT,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
ENCODINGS = st.sampled_from(
    ["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-32", "utf-16-le", "utf-16-be", "utf-32-be"]
)
# Mostly what the loader takes, so that most mutations reach the schema and replay.
MOSTLY_ACCEPTED = st.sampled_from(
    ["utf-8", "utf-8", "utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-32", "utf-16-le"]
)


def check(data: bytes) -> Replay | None:
    """The property: a Trace that replays and renders, or a one-line TraceError."""
    try:
        trace = load_trace_bytes(data, SOURCE)
    except TraceError as exc:
        message = str(exc)
        assert message.startswith(SOURCE), message
        assert len(message.splitlines()) == 1, message
        message.encode("utf-8")  # stderr can print it
        return None
    rep = replay(trace)
    result_to_json(rep.result).encode("ascii")
    rep.text().encode("utf-8")  # stdout can print it
    return rep


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="surrogatepass")


# ----------------------------------------------------------------- (a) bytes
BOMS = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"]


@FUZZ
@given(st.sampled_from(BOMS), st.binary(max_size=3000))
def test_arbitrary_bytes(bom: bytes, data: bytes) -> None:
    check(bom + data)


@FUZZ
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_bytes_spliced_into_a_valid_trace(name: str, data: st.DataObject) -> None:
    raw = encode(json.dumps(EXAMPLES[name], indent=1), data.draw(ENCODINGS))
    at = data.draw(st.integers(0, len(raw)))
    cut = data.draw(st.integers(0, 8))
    check(raw[:at] + data.draw(st.binary(max_size=8)) + raw[at + cut :])


# ----------------------------------------------------------------- (b) JSON values
@FUZZ
@given(VALUES, st.booleans(), ENCODINGS)
def test_arbitrary_json_values(value: Any, ascii_only: bool, encoding: str) -> None:
    check(encode(dump(value, ascii_only), encoding))


@FUZZ
@given(VALUES, st.sampled_from(["scale_set", "events", "until", "format"]), st.booleans())
def test_arbitrary_json_values_in_a_trace(value: Any, field: str, ascii_only: bool) -> None:
    doc = copy.deepcopy(EXAMPLES["rolling-upgrade-10.json"])
    doc[field] = value
    check(encode(dump(doc, ascii_only), "utf-8"))


# ----------------------------------------------------------------- (c) mutated examples
def paths(doc: Any) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(doc, ())]
    while stack:
        value, path = stack.pop()
        found.append(path)
        if isinstance(value, dict):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
    return sorted(found, key=lambda p: [str(part) for part in p])


def get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def mutate(doc: dict[str, Any], data: st.DataObject, values: st.SearchStrategy[Any]) -> None:
    """One structural change somewhere in ``doc`` (in place)."""
    everywhere = paths(doc)
    inner = [p for p in everywhere if p]
    kind = data.draw(
        st.sampled_from(
            ["replace", "delete", "insert", "at", "move", "number", "string", "kind", "duplicate"]
        )
    )
    events = doc.get("events") if isinstance(doc.get("events"), list) else []
    if kind == "replace" and inner:
        path = data.draw(st.sampled_from(inner))
        get(doc, path[:-1])[path[-1]] = data.draw(values)
    elif kind == "delete" and inner:
        path = data.draw(st.sampled_from(inner))
        del get(doc, path[:-1])[path[-1]]
    elif kind == "insert":
        containers = [p for p in everywhere if isinstance(get(doc, p), dict | list)]
        target = get(doc, data.draw(st.sampled_from(containers)))
        if isinstance(target, dict):
            target[data.draw(st.sampled_from(FIELDS) | TEXT)] = data.draw(values)
        else:
            target.insert(data.draw(st.integers(0, len(target))), data.draw(values))
    elif kind == "at" and events and isinstance(events[-1], dict):
        k = data.draw(st.integers(0, len(events) - 1))
        if isinstance(events[k], dict):
            events[k]["at"] = data.draw(INTEGERS)
    elif kind == "move" and len(events) > 1:
        k = data.draw(st.integers(0, len(events) - 1))
        events.insert(data.draw(st.integers(0, len(events) - 1)), events.pop(k))
    elif kind == "number":
        numbers = [p for p in inner if type(get(doc, p)) is int]
        if numbers:
            path = data.draw(st.sampled_from(numbers))
            get(doc, path[:-1])[path[-1]] = data.draw(st.sampled_from(BOUNDARY_INTS))
    elif kind == "string":
        strings = [p for p in inner if isinstance(get(doc, p), str)]
        if strings:
            path = data.draw(st.sampled_from(strings))
            get(doc, path[:-1])[path[-1]] = data.draw(TEXT)
    elif kind == "kind" and events and isinstance(events[0], dict):
        k = data.draw(st.integers(0, len(events) - 1))
        if isinstance(events[k], dict):
            events[k]["event"] = data.draw(st.sampled_from(EVENT_KINDS))
    elif kind == "duplicate":
        objects = [p for p in inner if isinstance(get(doc, p), dict) and get(doc, p)]
        if objects:
            path = data.draw(st.sampled_from(objects))
            pairs = list(get(doc, path).items())
            key = data.draw(st.sampled_from([k for k, _ in pairs]))
            pairs.insert(data.draw(st.integers(0, len(pairs))), (key, data.draw(values)))
            get(doc, path[:-1])[path[-1]] = Pairs(pairs)


@FUZZ
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_mutated_examples(name: str, data: st.DataObject) -> None:
    doc = copy.deepcopy(EXAMPLES[name])
    for _ in range(data.draw(st.sampled_from([1, 1, 1, 2, 3]))):
        mutate(doc, data, VALUES)
    check(encode(dump(doc, data.draw(st.booleans())), data.draw(MOSTLY_ACCEPTED)))


MAX_TIME = 3_155_760_000
IN_BOUNDS: dict[str, st.SearchStrategy[int]] = {
    "at": st.integers(0, MAX_TIME),
    "until": st.integers(0, MAX_TIME),
    "expires_at": st.integers(0, MAX_TIME) | st.just(MAX_TIME),
    "count": st.integers(1, 1000) | st.sampled_from([1, 1000]),
    "data_disks_per_instance": st.sampled_from([0, 1, 64]),
    "instances": st.integers(0, 1000),
    "update_domains": st.integers(1, 20),
    "os_disk_seconds": st.sampled_from([0, 1, MAX_TIME, 10**15, 10**100]),
    "extension_seconds": st.sampled_from([0, MAX_TIME, 10**15]),
    "app_start_seconds": st.sampled_from([0, MAX_TIME, 10**15]),
    "health_wait_seconds": st.sampled_from([0, 1, MAX_TIME, 10**15]),
    "interval_seconds": st.sampled_from([1, 119, 120, 10**15]),
}


def push_to_bounds(doc: dict[str, Any], data: st.DataObject) -> None:
    """One change that keeps the trace well formed, or nearly (an event time
    may now go backwards, V9 may break): values at and near their bounds."""
    scale_set, events = doc["scale_set"], doc["events"]
    kind = data.draw(st.sampled_from(["number", "late", "epoch", "names", "ids", "pause", "big"]))
    if kind == "number":
        numbers = [p for p in paths(doc) if p and p[-1] in IN_BOUNDS and type(get(doc, p)) is int]
        if numbers:
            path = data.draw(st.sampled_from(numbers))
            get(doc, path[:-1])[path[-1]] = data.draw(IN_BOUNDS[path[-1]])
    elif kind == "late" and events:  # every event (and until) moved towards 100 years
        shift = data.draw(st.integers(0, MAX_TIME - max(e["at"] for e in events)))
        for event in events:
            event["at"] += shift
        if "until" in doc:
            doc["until"] = min(MAX_TIME, doc["until"] + shift)
    elif kind == "epoch":
        scale_set["epoch"] = data.draw(
            st.sampled_from(
                [
                    "9000-12-31T23:59:59.999999999-23:59",
                    "9000-01-01T00:00:00Z",
                    "1970-01-01T00:00:00+23:59",
                    "1970-01-01T00:00:00Z",
                ]
            )
        )
    elif kind == "names":
        name = data.draw(st.sampled_from(["n" * 256, "\U0001f600" * 256, "\u2028", "\u202eevil"]))
        scale_set["location"] = name
        for extension in scale_set.get("extensions", []):
            extension["name"] = name
    elif kind == "ids":
        ids = st.lists(st.integers(0, 10**9) | st.integers(0, 12), min_size=1, max_size=1000)
        for event in events:
            if "instances" in event:
                event["instances"] = data.draw(ids)
    elif kind == "pause":
        pause = data.draw(st.sampled_from(["PT0S", "PT1S", "P99999W", "P" + "9" * 60 + "D"]))
        scale_set.setdefault("policy", {})["pause_time_between_batches"] = pause
    else:
        scale_set.update(instances=1000, single_placement_group=False, data_disks_per_instance=64)
        scale_set["health_probe"] = {"kind": "application_health"}


@settings(FUZZ, max_examples=150)
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_examples_pushed_to_the_bounds_replay_without_a_crash(
    name: str, data: st.DataObject
) -> None:
    """Well-formed traces at the edges (100 years of seconds, epochs in 1970
    and 9000, 1000 instances with 64 data disks, 1000 ids up to 10^9, names of
    256 characters, durations far past any run) load, replay and render; the
    model does not crash on them (no `crash:` violation: that would be a bug)."""
    doc = copy.deepcopy(EXAMPLES[name])
    for _ in range(data.draw(st.integers(1, 4))):
        push_to_bounds(doc, data)
    rep = check(json.dumps(doc, ensure_ascii=False).encode())
    if rep is not None:
        assert [v for v in rep.result.violations if v.invariant.startswith("crash")] == []


@FUZZ
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_fast_check_agrees_with_the_json_schema(name: str, data: st.DataObject) -> None:
    """The compiled check (skeleton + one validator per event kind) says yes
    exactly when jsonschema, on the whole document, says yes."""
    doc = copy.deepcopy(EXAMPLES[name])
    for _ in range(data.draw(st.integers(0, 2))):
        mutate(doc, data, PLAIN)
    doc = json.loads(dump(doc, True))  # as Python's parser gives it (the last duplicate wins)
    errors = list(validator().iter_errors(doc))
    assert _fast_valid(doc) == (not errors), errors[:1]


@FUZZ
@given(
    st.recursive(
        st.none() | INTEGERS | TEXT | st.integers(55, 75).map(lambda n: Raw("[" * n + "]" * n)),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(FIELDS) | TEXT, inner, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_the_text_scan_finds_the_place_the_walk_finds(value: Any) -> None:
    """Too deep for the parser, the place is found in the text (no recursion):
    it is the place the walk over the parsed value names."""
    text = dump(value, False)
    problem, _ = _scan(json.loads(text))
    assert _too_deep_in_text(text) == problem


def test_every_example_loads_and_replays_through_the_fuzz_property() -> None:
    for name, doc in EXAMPLES.items():
        assert check(encode(json.dumps(doc), "utf-8")) is not None, name
