"""Section 7, "Bounds of a well-formed trace", from the command line: every
hostile file under tests/hostile/ (and those too big or too odd to commit,
made here at run time) is refused by `vmss-spec replay` with exit status 2,
exactly one line on stderr naming the place (a JSON pointer, `FILE: byte
offset N` or `FILE:line:col`), nothing on stdout and never a traceback; the
valid encodings under tests/hostile/valid/ replay exactly like UTF-8."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from model.trace import MAX_FILE_BYTES, TraceError, load_trace, load_trace_bytes, read_trace_bytes
from vmss_spec.cli import main

HOSTILE = Path(__file__).resolve().parent / "hostile"
VALID = HOSTILE / "valid"
ROOT = HOSTILE.parent.parent

NESTED_ARRAYS = "/" + "/".join(["0"] * 64)
NESTED_OBJECTS = "/" + "/".join(["a"] * 64)
FORMAT_AND_SCALE_SET = '"format": "vmss-upgrade-trace/1", "scale_set": {"instances": 1, '

# Each file: the place its one line names (after the file name: ": PLACE: " or,
# for JSON syntax, ":LINE:COL: "), and words of the problem.
REFUSED: dict[str, tuple[str, str]] = {
    # the bytes
    "bytes-ff.json": ("byte offset 0", "byte 0xff is not UTF-8"),
    "bytes-bad-utf8-midway.json": ("byte offset 144", "byte 0xc3 is not UTF-8"),
    "bytes-utf8-encoded-surrogate.json": ("byte offset 360", "byte 0xed is not UTF-8"),
    "bytes-nul-in-string.json": ("byte offset 360", "control character U+0000"),
    "bytes-utf16le-without-bom.json": ("byte offset 1", "need a byte order mark"),
    "bytes-utf16be-without-bom.json": ("byte offset 0", "need a byte order mark"),
    "bytes-utf32le-without-bom.json": ("byte offset 1", "need a byte order mark"),
    "bytes-utf16le-bom-odd-length.json": ("byte offset 1646", "not UTF-16 LE text"),
    "bytes-utf16le-bom-lone-surrogate.json": ("byte offset 722", "illegal UTF-16 surrogate"),
    "bytes-utf8-in-utf16-bom.json": (":1:1", "not JSON"),
    "empty.json": (":1:1", "not JSON: Expecting value"),
    "only-bom.json": (":1:1", "not JSON: Expecting value"),
    "whitespace-only.json": (":3:1", "not JSON: Expecting value"),
    # JSON
    "json-trailing-garbage.json": (":53:1", "not JSON: Extra data"),
    "json-two-documents.json": (":53:1", "not JSON: Extra data"),
    "json-truncated.json": (":22:2", "not JSON"),
    "json-nesting-1000.json": (NESTED_ARRAYS, "nesting deeper than 64"),
    "json-nesting-5000-objects.json": (NESTED_OBJECTS, "nesting deeper than 64"),
    "json-nesting-65.json": ("/scale_set/deep" + "/0" * 62, "nesting deeper than 64"),
    "json-nesting-65-objects.json": ("/scale_set/deep" + "/x" * 62, "nesting deeper than 64"),
    "json-duplicate-key-top.json": ("/", "duplicate key 'format'"),
    "json-duplicate-key-scale-set.json": ("/scale_set", "duplicate key 'instances'"),
    "json-duplicate-key-event.json": ("/events/1", "duplicate key 'at'"),
    "json-duplicate-credential.json": ("/scale_set/credentials", "duplicate key 'sas'"),
    "json-nan.json": ("/events/1/at", "NaN is not a JSON number"),
    "json-infinity.json": ("/events/1/at", "Infinity is not a JSON number"),
    "json-minus-infinity.json": (
        "/scale_set/credentials/sas/expires_at",
        "-Infinity is not a JSON number",
    ),
    "json-float-at.json": ("/events/1/at", "200.0 is not of type 'integer'"),
    "json-float-instances.json": ("/scale_set/instances", "4.0 is not of type 'integer'"),
    "json-exponent-count.json": ("/events/0/count", "is not of type 'integer'"),
    "json-exponent-overflow.json": ("/events/2/at", "1e400 is not of type 'integer'"),
    "json-huge-integer-literal.json": ("/events/2/at", "an integer of 5,001 digits"),
    "json-huge-negative-integer.json": (
        "/scale_set/credentials/sas/expires_at",
        "an integer of 5,000 digits",
    ),
    "json-not-an-object.json": ("/", "is not of type 'object'"),
    "json-bare-string.json": ("/", "is not of type 'object'"),
    # times
    "time-at-too-large.json": ("/events/0/at", "greater than the maximum of 3155760000"),
    "time-at-one-past-bound.json": ("/events/2/at", "3155760001 is greater than the maximum"),
    "time-at-negative.json": ("/events/0/at", "-1 is less than the minimum of 0"),
    "time-until-too-large.json": ("/until", "greater than the maximum of 3155760000"),
    "time-expires-at-too-large.json": (
        "/scale_set/credentials/sas/expires_at",
        "greater than the maximum of 3155760000",
    ),
    "time-regenerate-expires-at-too-large.json": (
        "/events/3/expires_at",
        "greater than the maximum of 3155760000",
    ),
    # the epoch
    "epoch-year-9999.json": ("/scale_set/epoch", "year 9999 is outside 1970 to 9000"),
    "epoch-year-9001.json": ("/scale_set/epoch", "year 9001 is outside 1970 to 9000"),
    "epoch-year-1969.json": ("/scale_set/epoch", "year 1969 is outside 1970 to 9000"),
    "epoch-year-0001.json": ("/scale_set/epoch", "year 1 is outside 1970 to 9000"),
    "epoch-without-offset.json": ("/scale_set/epoch", "not an RFC 3339 date-time with an offset"),
    "epoch-date-only.json": ("/scale_set/epoch", "not an RFC 3339 date-time with an offset"),
    "epoch-offset-24-hours.json": ("/scale_set/epoch", "not an RFC 3339 date-time"),
    "epoch-trailing-newline.json": ("/scale_set/epoch", "not an RFC 3339 date-time"),
    "epoch-february-30.json": ("/scale_set/epoch", "day is out of range for month"),
    "epoch-not-a-string.json": ("/scale_set/epoch", "is not of type 'string'"),
    # versions
    "version-5000-digits.json": ("/scale_set/catalog/0", "(5,001 characters) is not a version"),
    "version-9-parts.json": ("/events/0/version", "'1.2.3.4.5.6.7.8.9' is not a version"),
    "version-10-digit-part.json": ("/events/0/version", "'1.0.1234567890' is not a version"),
    "version-arabic-indic-digits.json": ("/events/0/version", "is not a version"),
    "version-fullwidth-digits.json": ("/scale_set/catalog/0", "is not a version"),
    "version-empty-part.json": ("/events/0/version", "'1..2' is not a version"),
    "version-empty.json": ("/events/0/version", "'' is not a version"),
    "version-trailing-newline.json": ("/events/0/version", "'1.0.1\\n' is not a version"),
    "version-sign.json": ("/events/0/version", "'+1.0.1' is not a version"),
    # names and strings
    "name-credential-lone-surrogate.json": ("/scale_set/credentials", "lone surrogate (U+D800)"),
    "name-event-credential-lone-surrogate.json": ("/events/3/name", "lone surrogate (U+DC00)"),
    "name-location-escape-codes.json": ("/scale_set/location", "control character (U+001B)"),
    "name-extension-newline.json": (
        "/scale_set/extensions/0/name",
        "control character (U+000A)",
    ),
    "name-publisher-del.json": ("/scale_set/image/publisher", "control character (U+007F)"),
    "name-sku-c1-control.json": ("/scale_set/image/sku", "control character (U+0085)"),
    "name-offer-nul-escape.json": ("/scale_set/image/offer", "control character (U+0000)"),
    "name-image-version-tab.json": ("/scale_set/image/version", "control character (U+0009)"),
    "name-image-id-carriage-return.json": ("/scale_set/image/id", "control character (U+000D)"),
    "name-credential-key-escape.json": ("/scale_set/credentials", "control character (U+001B)"),
    "name-257-characters.json": ("/scale_set/location", "longer than 256 characters"),
    "name-257-characters-astral.json": ("/scale_set/image/publisher", "longer than 256"),
    "name-empty-location.json": ("/scale_set/location", "'' should be non-empty"),
    "name-empty-credential.json": ("/scale_set/credentials", "'' should be non-empty"),
    # data disks, counts, instance ids
    "data-disks-10000000.json": (
        "/scale_set/data_disks_per_instance",
        "10000000 is greater than the maximum of 64",
    ),
    "data-disks-65.json": ("/scale_set/data_disks_per_instance", "greater than the maximum of 64"),
    "count-scale-out-0.json": ("/events/3/count", "0 is less than the minimum of 1"),
    "count-scale-in-1001.json": ("/events/3/count", "1001 is greater than the maximum of 1000"),
    "count-scale-out-10000000.json": ("/events/3/count", "greater than the maximum of 1000"),
    "ids-1001.json": ("/events/3/instances", "1,001 items are more than 1,000"),
    "ids-id-too-large.json": ("/events/3/instances/0", "greater than the maximum of 1000000000"),
    "ids-empty.json": ("/events/3/instances", "[] should be non-empty"),
    "ids-negative.json": ("/events/3/instances/0", "-1 is less than the minimum of 0"),
    "ids-bool.json": ("/events/3/instances/0", "True is not of type 'integer'"),
}


def _expected_start(path: Path | str, place: str) -> str:
    separator = "" if place.startswith(":") else ": "  # FILE:LINE:COL or FILE: PLACE
    return f"vmss-spec replay: {path}{separator}{place}: "


def assert_refused(
    path: Path | str, place: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra in ([], ["--json"]):
        status = main(["replay", str(path), *extra])
        out, err = capsys.readouterr()
        assert status == 2, (extra, err)
        assert out == ""
        assert err.count("\n") == 1 and err.endswith("\n"), err
        assert "Traceback" not in err
        assert err.startswith(_expected_start(path, place)), err
        assert words in err, err


def test_the_corpus_and_the_table_agree() -> None:
    assert sorted(p.name for p in HOSTILE.glob("*.json")) == sorted(REFUSED)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_hostile_file_is_refused_in_one_line(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    place, words = REFUSED[name]
    assert_refused(HOSTILE / name, place, words, capsys)


# ----------------------------------------------------------------- made at run time
def test_file_of_65_mib_is_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as file:
        file.truncate(65 * 1024 * 1024)  # sparse: no 65 MiB written or read
    assert_refused(path, "byte offset 67108864", "at most 64 MiB", capsys)
    main(["replay", str(path)])
    assert "68,157,440 bytes" in capsys.readouterr().err


def test_file_one_byte_over_64_mib_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "over.json"
    with path.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)
    assert_refused(path, "byte offset 67108864", "67,108,865 bytes", capsys)


def test_dev_zero_is_read_no_further_than_the_bound(capsys: pytest.CaptureFixture[str]) -> None:
    assert_refused("/dev/zero", "byte offset 67108864", "at most 64 MiB", capsys)


def test_a_pipe_is_read_no_further_than_the_bound(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    written = []

    def writer() -> None:
        chunk = b" " * (1 << 20)
        try:
            with fifo.open("wb") as file:
                for _ in range(80):  # 80 MiB offered, at most 64 MiB + 1 byte taken
                    file.write(chunk)
                    written.append(len(chunk))
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with pytest.raises(TraceError, match=r"byte offset 67108864: a trace is at most 64 MiB"):
            load_trace(fifo)
    finally:
        thread.join(timeout=60)
    assert sum(written) < 80 << 20


def test_a_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["replay", str(tmp_path)])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err == f"vmss-spec replay: {tmp_path}: cannot read: Is a directory\n"
    assert main(["replay", str(tmp_path), "--json"]) == 2


def test_a_missing_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.json"
    for extra in ([], ["--json"]):
        assert main(["replay", str(path), *extra]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == f"vmss-spec replay: {path}: cannot read: No such file or directory\n"


def test_more_than_a_million_events_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "many.json"
    event = '{"at":0,"event":"update_model"}'
    path.write_text(
        "{"
        + FORMAT_AND_SCALE_SET
        + '"image": {"id": "x"}}, "events": ['
        + ",".join([event] * 1_000_001)
        + "]}"
    )
    assert_refused(path, "/events", "1,000,001 items are more than 1,000,000", capsys)


def test_a_file_name_with_a_newline_still_gives_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "two\nlines\x1b[31m.json"
    path.write_bytes(b"\xff")
    assert main(["replay", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "two\\nlines\\x1b[31m.json: byte offset 0: " in err


@pytest.mark.parametrize(
    "name",
    [
        "bytes-ff.json",
        "json-nesting-1000.json",
        "json-huge-integer-literal.json",
        "name-credential-lone-surrogate.json",
        "data-disks-10000000.json",
    ],
)
def test_the_installed_command_gives_no_traceback(name: str) -> None:
    """The reproductions of the issue, in a process of their own."""
    done = subprocess.run(
        [sys.executable, "-m", "vmss_spec.cli", "replay", str(HOSTILE / name)],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.count(b"\n") == 1 and b"Traceback" not in done.stderr


# ----------------------------------------------------------------- valid encodings
ENCODINGS = sorted(p.name for p in VALID.glob("trace-*.json"))


def test_every_encoding_of_section_7_is_in_the_corpus() -> None:
    assert ENCODINGS == [
        "trace-utf16be-bom.json",
        "trace-utf16le-bom.json",
        "trace-utf32be-bom.json",
        "trace-utf32le-bom.json",
        "trace-utf8-bom.json",
        "trace-utf8.json",
    ]


@pytest.mark.parametrize("name", ENCODINGS)
def test_valid_encoding_replays_exactly_like_utf8(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {}
    for path in (VALID / "trace-utf8.json", VALID / name):
        for extra in ([], ["--json"]):
            status = main(["replay", str(path), *extra])
            out, err = capsys.readouterr()
            assert (status, err) == (0, "")
            outputs[path.name, tuple(extra)] = out
    assert outputs[name, ("--json",)] == outputs["trace-utf8.json", ("--json",)]
    assert outputs[name, ()] == outputs["trace-utf8.json", ()]
    assert json.loads(outputs[name, ("--json",)])["runs"][0]["code"] == "Completed"
    original = load_trace(VALID / "trace-utf8.json")
    assert load_trace_bytes((VALID / name).read_bytes(), name) == original


def test_read_trace_bytes_takes_a_stream_up_to_the_bound() -> None:
    import io

    data = (VALID / "trace-utf8.json").read_bytes()
    assert read_trace_bytes(io.BytesIO(data), "-") == data
    with pytest.raises(TraceError, match=r"^-: byte offset 67108864: "):
        read_trace_bytes(io.BytesIO(bytes(MAX_FILE_BYTES + 1)), "-")


# ----------------------------------------------------------------- at the bounds
def test_a_trace_at_every_bound_loads_replays_and_prints_its_history(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Section 1 and 7: at 3,155,760,000 s from an epoch in the year 9000 (the
    latest instant, 23:59:59.999999999 at -23:59) the run and its history are
    still dates (the year 9101): no OverflowError. Names of 256 characters,
    versions of 8 parts of 9 digits, 1000 ids of 10^9, 64 data disks and a
    count of 1000 are all well formed (the ids and the count are refused as
    events, D9, D16)."""
    path = VALID / "bounds-at-the-limits.json"
    assert main(["replay", str(path)]) == 0
    text, err = capsys.readouterr()
    assert err == ""
    assert "9101-01-01T23:59:59.999999-23:59" in text
    assert main(["replay", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    entry = doc["history"]["value"][0]["properties"]
    assert entry["runningStatus"]["startTime"] == "9101-01-01T23:59:59.999999-23:59"
    assert entry["runningStatus"]["endTime"].startswith("9101-01-02T")
    assert doc["runs"][0]["start"] == 3_155_760_000
    assert [r["reason"].split(":")[0] for r in doc["rejected"]] == ["no such instance", "V9"]
    assert len(doc["instances"][0]["data_disks"]) == 64
    assert len(doc["history"]["value"][0]["location"]) == 256
