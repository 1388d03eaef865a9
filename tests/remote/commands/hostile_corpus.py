"""A hostile corpus of commands, generated: what an attacker or a careless operator could send a device.

Each Case says how it is sent (body `reply_to`, MQTT 5 response topic, retained, or a raw publish the broker
itself refuses) and what must happen: a reply with an error code and words in its reason, a reply `ok`, or
nothing at all (dropped, counted in the command stats). `schema_leaves()` walks the config schema, so the
`set` cases cover every key a remote `set` may not change, including keys added later.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from schema_leaves import PIPE, schema_leaves

from edge_agent.remote.commands.config_patch import remote_settable


@dataclass(frozen=True)
class Case:
    name: str
    verb: str
    payload: bytes
    # how it is sent: "plain" (no properties: 3.1.1-style), "v5" (response topic `response_topic`, or the
    # requester's own when None), "retained" (a retained publish), "broker_refuses" (a fresh client whose
    # publish the broker answers by dropping that client: the device never sees it)
    send: str = "plain"
    response_topic: str | bytes | None = None
    topic: str | None = None  # the command topic, when not <prefix>/<device>/cmd/<verb>
    # what must happen: "ok", an error code, or "none" (no reply anywhere)
    expect: str = "ok"
    words: str = ""  # each `|`-separated part must appear in the reason (unused for "ok")
    # where the reply goes: "requester" (v5 response topic), "default" (<prefix>/<device>/reply/<verb>),
    # or a topic the corpus subscribes to
    where: str = "default"
    counter: str | None = None  # a CommandStats counter that must grow by one


def body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def _ascii(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, ensure_ascii=True).encode()  # lone surrogates travel as \\udXXX escapes


# -- reply targets ----------------------------------------------------------------------------------------
BAD_REPLY_VALUES: list[tuple[str, Any, str]] = [
    ("nul", "ctl/a\x00b", "NUL"),
    ("nul-only", "\x00", "NUL"),
    ("nul-end", "ctl/x\x00", "NUL"),
    ("lone-high-surrogate", "ctl/\ud800", "surrogate"),
    ("lone-low-surrogate", "ctl/\udfff", "surrogate"),
    ("surrogate-escape", "\udc80x", "surrogate"),
    ("emoji-half", "ctl/\ud83d", "surrogate"),
    ("plus", "+", "wildcard"),
    ("hash", "#", "wildcard"),
    ("plus-level", "ctl/+", "wildcard"),
    ("hash-level", "ctl/#", "wildcard"),
    ("plus-mid", "ctl/+/b", "wildcard"),
    ("hash-first", "#/x", "wildcard"),
    ("plus-in-word", "ctl/a+b", "wildcard"),
    ("ctrl-01", "ctl/\x01", "control character"),
    ("ctrl-1f", "ctl/a\x1fb", "control character"),
    ("ctrl-newline", "ctl/a\nb", "control character"),
    ("ctrl-del", "ctl/a\x7f", "control character"),
    ("ctrl-c1", "ctl/a\x85", "control character"),
    ("nonchar-fffe", "ctl/\ufffe", "noncharacter"),
    ("nonchar-ffff", "ctl/\uffff", "noncharacter"),
    ("nonchar-fdd0", "ctl/a\ufdd0", "noncharacter"),
    ("nonchar-astral", "ctl/\U0001fffe", "noncharacter"),
    ("empty", "", "empty"),
    ("sys", "$SYS/broker/x", "$-topic"),
    ("share", "$share/g/ctl", "$-topic"),
    ("int", 5, "not a string"),
    ("float", 1.5, "not a string"),
    ("bool", True, "not a string"),
    ("list", ["ctl/x"], "not a string"),
    ("object", {"topic": "ctl/x"}, "not a string"),
]


def own_topics(device: str) -> list[tuple[str, str]]:
    """Topics inside the device's own namespace that a reply must never reach."""
    own = f"edge/{device}"
    return [
        ("own-results", f"{own}/{PIPE}/results"),
        ("own-events", f"{own}/{PIPE}/events"),
        ("own-status", f"{own}/status"),
        ("own-stats", f"{own}/stats"),
        ("own-update", f"{own}/update"),
        ("own-cmd-stop", f"{own}/cmd/stop"),
        ("own-cmd-ping", f"{own}/cmd/ping"),
        ("own-root", own),
        ("own-reply-level", f"{own}/reply"),
        ("own-new-level", f"{own}/other/x"),
    ]


def reply_to_cases(device: str) -> Iterator[Case]:
    values = [*BAD_REPLY_VALUES, *((n, t, "own topics") for n, t in own_topics(device))]
    for verb, args in (("ping", {}), ("status", {}), ("stop", {"pipeline": PIPE})):
        for name, value, words in values:
            yield Case(
                f"reply_to-{name}-{verb}",
                verb,
                _ascii({**args, "reply_to": value, "id": f"rt-{name}-{verb}"}),
                expect="invalid_args",
                words=f"reply_to|{words}",
                counter="reply_refused",
            )
        # controls: a good reply_to outside the namespace, and the device's own reply/ subtree
        yield Case(f"reply_to-ok-{verb}", "ping", body(reply_to="ctl/ok", id=f"ok-{verb}"), where="ctl/ok")
        own_reply = f"edge/{device}/reply/custom"
        yield Case(
            f"reply_to-own-reply-{verb}", "ping", body(reply_to=own_reply, id=f"or-{verb}"), where=own_reply
        )
    # over 65,535 bytes: only `upload` may carry so large a command (1 MiB)
    upload = {"transfer": "big", "index": 0, "count": 1, "data": ""}
    for name, value in (
        ("oversized-ascii", "c" * 65_536),
        ("oversized-utf8", "é" * 32_768),
        ("huge", "d" * 200_000),
    ):
        yield Case(
            f"reply_to-{name}",
            "upload",
            body(**upload, reply_to=value, id=name),
            expect="invalid_args",
            words="reply_to|bytes long, the limit is 65535",
            counter="reply_refused",
        )


def response_topic_cases(device: str) -> Iterator[Case]:
    """MQTT 5 Response Topic values the broker forwards (the device must refuse them)."""
    values: list[tuple[str, str, str]] = [
        ("plus", "ctl/+", "wildcard"),
        ("hash", "ctl/#", "wildcard"),
        ("plus-only", "+", "wildcard"),
        ("sys", "$SYS/x", "$-topic"),
        *((n, t, "own topics") for n, t in own_topics(device)),
    ]
    for verb, args in (("ping", {}), ("stop", {"pipeline": PIPE})):
        for name, value, words in values:
            yield Case(
                f"response_topic-{name}-{verb}",
                verb,
                body(**args, id=f"rsp-{name}-{verb}"),
                send="v5",
                response_topic=value,
                expect="invalid_args",
                words=f"response topic|{words}",
                counter="reply_refused",
            )


def broker_refused_cases(device: str) -> Iterator[Case]:
    """Publishes Mosquitto answers by dropping the sender: the device never sees them, and must not care."""
    rts: list[tuple[str, bytes]] = [
        ("nul", b"ctl/a\x00b"),
        ("ctrl", b"ctl/\x01"),
        ("surrogate-bytes", b"ctl/\xed\xa0\x80"),
        ("invalid-utf8", b"ctl/\xff"),
        ("nonchar-bytes", b"ctl/\xef\xbf\xbe"),
    ]
    for name, raw in rts:
        yield Case(
            f"broker-rt-{name}",
            "stop",
            body(pipeline=PIPE),
            send="broker_refuses",
            response_topic=raw,
            expect="none",
        )
    for name, topic in (
        ("nul-verb", f"edge/{device}/cmd/st\x00op"),
        ("ctrl-verb", f"edge/{device}/cmd/\x01"),
        ("del-verb", f"edge/{device}/cmd/stop\x7f"),
        ("nonchar-verb", f"edge/{device}/cmd/\ufdd0"),
    ):
        yield Case(
            f"broker-topic-{name}",
            "stop",
            body(pipeline=PIPE),
            send="broker_refuses",
            topic=topic,
            expect="none",
        )


def dropped_reply_cases(device: str) -> Iterator[Case]:
    """A verb so long that the default reply topic would pass 65,535 bytes: the reply is dropped, counted."""
    head = len(f"edge/{device}/cmd/")
    for extra in (0, 1):
        verb = "v" * (65_535 - head - extra)
        yield Case(f"unpublishable-reply-{extra}", verb, b"{}", expect="none", counter="replies_dropped")


# -- retained, expiry ----------------------------------------------------------------------------------------
def retained_cases() -> Iterator[Case]:
    for i, (verb, args) in enumerate(
        (
            ("stop", {"pipeline": PIPE}),
            ("start", {"pipeline": PIPE}),
            ("update-model", {"pipeline": PIPE, "transfer": "t1"}),
            ("update-model", {"pipeline": PIPE, "url": "file:///nope.tgz", "sha256": "0" * 64}),
            ("set", {"patch": {"stats_interval_s": 9}}),
            ("set", {"patch": {"pipelines": {PIPE: {"enabled": False}}}}),
            ("reload", {}),
            ("ping", {}),
            ("status", {}),
            ("snapshot", {"pipeline": PIPE}),
            ("upload", {"transfer": "r1", "index": 0, "count": 1, "data": "AAAA"}),
            ("explode", {}),
        )
    ):
        yield Case(
            f"retained-{i}-{verb}",
            verb,
            body(**args, id=f"ret-{verb}"),
            send="retained",
            expect="none",
            counter="retained_dropped",
        )


def expiry_cases(now: float) -> Iterator[Case]:
    stale = [("past-1s", now - 1), ("past-hour", now - 3600), ("zero", 0), ("negative", -1), ("2001", 1e9)]
    for verb, args in (("ping", {}), ("stop", {"pipeline": PIPE})):
        for name, at in stale:
            yield Case(
                f"expired-{name}-{verb}", verb, body(**args, expires_at=at), expect="refused", words="expired"
            )
    bad: list[tuple[str, bytes]] = [
        ("string", body(expires_at="soon")),
        ("numeric-string", body(expires_at=str(int(now + 60)))),
        ("true", body(expires_at=True)),
        ("false", body(expires_at=False)),
        ("list", body(expires_at=[now + 60])),
        ("object", body(expires_at={"at": now + 60})),
        ("nan", b'{"expires_at": NaN}'),
        ("infinity", b'{"expires_at": Infinity}'),
        ("overflow", b'{"expires_at": 1e400}'),
        ("huge-int", b'{"expires_at": 1' + b"0" * 400 + b"}"),
    ]
    for name, payload in bad:
        yield Case(f"expiry-bad-{name}", "ping", payload, expect="invalid_args", words="expires_at")
    for name, at in (("future-minute", now + 60), ("future-day", now + 86_400), ("far-future", 1e12)):
        yield Case(f"expiry-ok-{name}", "ping", body(expires_at=at))
    yield Case("expiry-null", "ping", body(expires_at=None))


# -- set: every key off the allow-list, and the signing bypass ---------------------------------------
def _patch(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    patch: Any = value
    for part in reversed(path):
        patch = {part: patch}
    return dict(patch)


def protected_set_cases(chunk_file: str) -> Iterator[Case]:
    """`set` of every schema key a remote command may not change (values point at an uploaded file)."""
    for path, _schema in schema_leaves():
        if remote_settable(path):
            continue
        dotted = ".".join(path)
        yield Case(
            f"set-protected-{dotted}",
            "set",
            body(patch=_patch(path, chunk_file)),
            expect="refused",
            words=dotted,
        )
    # the signing bypass of issue 12: an uploaded chunk named as a trusted key
    for path in (
        ("pipelines", PIPE, "model", "trusted_keys"),
        ("fleet", "commands", "trusted_keys"),
        ("pipelines", PIPE, "ensemble", "members"),
    ):
        for i, value in enumerate(([chunk_file], [f"state/updates/chunks/evil/{'0' * 6}.part"], chunk_file)):
            dotted = ".".join(path)
            yield Case(
                f"set-uploaded-key-{dotted}-{i}",
                "set",
                body(patch=_patch(path, value)),
                expect="refused",
                words=dotted,
            )
    for name, patch in (
        ("require-signed-off", {"fleet": {"commands": {"require_signed": False}}}),
        ("tls-null", {"mqtt": {"tls": None}}),
        ("mqtt-null", {"mqtt": None}),
        ("device-empty", {"device": {}}),
        ("fleet-null", {"fleet": None}),
        ("pipeline-delete", {"pipelines": {PIPE: None}}),
        ("pipeline-replace", {"pipelines": {PIPE: {"model": {"path": chunk_file}}}}),
        (
            "pipeline-new",
            {
                "pipelines": {
                    "evil": {"source": {"kind": "video", "path": chunk_file}, "model": {"path": chunk_file}}
                }
            },
        ),
        ("source-path", {"pipelines": {PIPE: {"source": {"path": "/dev/video0"}}}}),
        ("arecord", {"pipelines": {PIPE: {"source": {"kind": "alsa", "arecord": "/bin/sh"}}}}),
        (
            "providers-cache",
            {"pipelines": {PIPE: {"model": {"providers": [{"name": "X", "options": {"cache": "/tmp"}}]}}}},
        ),
        ("include-frame", {"pipelines": {PIPE: {"publish": {"include_frame": True}}}}),
        ("mixed-allowed-and-not", {"stats_interval_s": 5, "mqtt": {"host": "evil"}}),
        ("surrogate-key", {"\ud800": 1}),
        ("nul-key", {"a\x00b": 1}),
        ("long-key", {"k" * 5000: 1}),
        ("dotted-key", {"mqtt.host": "evil"}),
        ("version", {"version": 2}),
    ):
        yield Case(
            f"set-refused-{name}",
            "set",
            _ascii({"patch": patch}),
            expect="refused",
            words="cannot be changed remotely",
        )


def set_value_cases() -> Iterator[Case]:
    """Keys on the allow-list with values the schema refuses: invalid_args naming the key, file unchanged."""
    for name, patch, words in (
        ("interval-zero", {"stats_interval_s": 0}, "stats_interval_s"),
        ("interval-string", {"stats_interval_s": "x"}, "stats_interval_s"),
        ("interval-list", {"stats_interval_s": [1]}, "stats_interval_s"),
        ("log-level", {"log_level": "loud"}, "log_level"),
        ("fps-negative", {"pipelines": {PIPE: {"source": {"fps": -1}}}}, "fps"),
        ("queue-huge", {"pipelines": {PIPE: {"source": {"queue": 10**9}}}}, "queue"),
        ("top-k-zero", {"pipelines": {PIPE: {"postprocess": {"top_k": 0}}}}, "top_k"),
        ("threshold-high", {"pipelines": {PIPE: {"postprocess": {"threshold": 7}}}}, "threshold"),
        ("std-zero", {"pipelines": {PIPE: {"preprocess": {"std": [0, 0, 0]}}}}, "std"),
        ("preprocess-unknown", {"pipelines": {PIPE: {"preprocess": {"evil": 1}}}}, "evil"),
        ("threads", {"pipelines": {PIPE: {"model": {"intra_op_threads": -1}}}}, "intra_op_threads"),
        ("workers", {"pipelines": {PIPE: {"model": {"workers": "lots"}}}}, "workers"),
        ("commit-batch", {"outbox": {"commit_batch": 0}}, "commit_batch"),
        ("health", {"fleet": {"updates": {"health_window_s": -5}}}, "health_window_s"),
    ):
        yield Case(f"set-invalid-{name}", "set", body(patch=patch), expect="invalid_args", words=words)
    for name, payload, words in (
        ("patch-missing", body(), "patch"),
        ("patch-empty", body(patch={}), "patch"),
        ("patch-list", body(patch=[1]), "patch"),
        ("patch-string", body(patch="stats_interval_s: 1"), "patch"),
        ("patch-null", body(patch=None), "patch"),
        ("patch-extra", body(patch={"stats_interval_s": 5}, force=True), "force"),
    ):
        yield Case(f"set-args-{name}", "set", payload, expect="invalid_args", words=words)


# -- malformed, wrong types, unknown verbs, huge ----------------------------------------------------
def malformed_cases() -> Iterator[Case]:
    raws: list[tuple[str, bytes, str, str]] = [
        ("not-utf8", b"\xff\xfe", "bad_payload", "UTF-8"),
        ("latin1", '{"pipeline": "caf\xe9"}'.encode("latin-1"), "bad_payload", "UTF-8"),
        ("utf16", '{"x": 1}'.encode("utf-16"), "bad_payload", "UTF-8"),
        ("surrogate-bytes", b'{"id": "\xed\xa0\x80"}', "bad_payload", "UTF-8"),
        ("not-json", b"{not json", "bad_payload", "not JSON"),
        ("truncated", b'{"pipeline": "ori', "bad_payload", "not JSON"),
        ("trailing", b"{} {}", "bad_payload", "not JSON"),
        ("bom", b"\xef\xbb\xbf{}", "bad_payload", "not JSON"),
        ("list", b"[1,2]", "bad_payload", "got list"),
        ("string", b'"ping"', "bad_payload", "got str"),
        ("number", b"42", "bad_payload", "got int"),
        ("null", b"null", "bad_payload", "got NoneType"),
        ("true", b"true", "bad_payload", "got bool"),
        ("deep-list", b"[" * 5000 + b"]" * 5000, "bad_payload", "JSON"),
        ("deep-object", b'{"a":' * 5000 + b"1" + b"}" * 5000, "bad_payload", "JSON"),
        ("very-deep", b"[" * 60_000, "bad_payload", "JSON"),
        ("over-64k", b"{}" + b" " * 70_000, "bad_payload", "limit"),
        ("over-64k-json", body(pad="x" * 70_000), "bad_payload", "limit"),
        ("nul-in-json", b'{"id": "a\x00"}', "bad_payload", "not JSON"),
    ]
    for verb in ("ping", "stop", "set"):
        for name, raw, code, words in raws:
            yield Case(f"malformed-{name}-{verb}", verb, raw, expect=code, words=words)
    yield Case("upload-over-1mib", "upload", b"{}" + b" " * (1 << 20), expect="bad_payload", words="limit")
    yield Case("empty-payload-ping", "ping", b"")
    yield Case("whitespace-payload-ping", "ping", b" \n\t ")
    yield Case("duplicate-keys", "ping", b'{"id": 1, "id": 2}')
    yield Case("nul-escaped-id", "ping", b'{"id": "a\\u0000b"}')
    yield Case("surrogate-escaped-id", "ping", b'{"id": "\\ud800"}')
    yield Case("huge-id", "ping", body(id="i" * 60_000))
    yield Case("odd-id", "ping", body(id={"x": [1]}))
    for verb in (
        "explode",
        "PING",
        "Ping",
        "update_model",
        "ping ",
        "é",
        "cmd",
        "..",
        "-",
        "a" * 300,
        "\u202eping",
        "stop.",
        "reply",
    ):
        yield Case(f"unknown-verb-{verb[:12]!r}", verb, b"{}", expect="unknown_verb", words="unknown verb")
    bad_pipelines: list[Any] = [
        3,
        1.5,
        True,
        None,
        [],
        {},
        "",
        "../etc",
        "a/b",
        "nope",
        "a" * 100,
        "\ud800",
        "orient\x00",
        " orient",
    ]
    for verb in ("start", "stop", "snapshot"):
        for value in bad_pipelines:
            code = "not_found" if value == "nope" else "invalid_args"
            yield Case(
                f"pipeline-{verb}-{value!r:.20}",
                verb,
                _ascii({"pipeline": value}),
                expect=code,
                words="pipeline",
            )
    for name, args, words in (
        ("ping-extra", {"extra": 1}, "extra"),
        ("status-extra", {"pipeline": PIPE}, "pipeline"),
        ("reload-extra", {"force": True}, "force"),
    ):
        yield Case(f"args-{name}", name.split("-")[0], body(**args), expect="invalid_args", words=words)
    upload_bad: list[tuple[str, dict[str, Any], str]] = [
        ("index-negative", {"transfer": "t", "index": -1, "count": 1, "data": ""}, "index"),
        ("count-zero", {"transfer": "t", "index": 0, "count": 0, "data": ""}, "count"),
        ("index-past", {"transfer": "t", "index": 3, "count": 2, "data": ""}, "not below"),
        ("transfer-path", {"transfer": "../../etc", "index": 0, "count": 1, "data": ""}, "transfer"),
        ("transfer-slash", {"transfer": "a/b", "index": 0, "count": 1, "data": ""}, "transfer"),
        ("transfer-long", {"transfer": "t" * 65, "index": 0, "count": 1, "data": ""}, "transfer"),
        ("data-not-b64", {"transfer": "t", "index": 0, "count": 1, "data": "***"}, "base64"),
        ("data-int", {"transfer": "t", "index": 0, "count": 1, "data": 5}, "data"),
        ("index-string", {"transfer": "t", "index": "0", "count": 1, "data": ""}, "index"),
        ("count-huge", {"transfer": "t", "index": 0, "count": 10**9, "data": ""}, "count"),
    ]
    for name, args, words in upload_bad:
        yield Case(f"upload-{name}", "upload", body(**args), expect="invalid_args", words=words)
    update_bad: list[tuple[str, dict[str, Any], str, str]] = [
        ("no-source", {"pipeline": PIPE}, "invalid_args", "exactly one of url"),
        (
            "both",
            {"pipeline": PIPE, "url": "file:///x", "sha256": "0" * 64, "transfer": "t"},
            "invalid_args",
            "exactly one",
        ),
        ("no-sha", {"pipeline": PIPE, "url": "file:///x"}, "invalid_args", "sha256"),
        ("ftp", {"pipeline": PIPE, "url": "ftp://x/y", "sha256": "0" * 64}, "invalid_args", "url must be"),
        ("bad-sha", {"pipeline": PIPE, "url": "file:///x", "sha256": "XYZ"}, "invalid_args", "sha256"),
        (
            "long-url",
            {"pipeline": PIPE, "url": "http://" + "u" * 3000, "sha256": "0" * 64},
            "invalid_args",
            "url",
        ),
        (
            "window",
            {"pipeline": PIPE, "transfer": "t", "health_window_s": -1},
            "invalid_args",
            "health_window_s",
        ),
        (
            "budget",
            {"pipeline": PIPE, "transfer": "t", "latency_budget_ms": 0},
            "invalid_args",
            "latency_budget_ms",
        ),
        ("no-pipeline", {"pipeline": "nope", "transfer": "t"}, "not_found", "nope"),
    ]
    for name, args, code, words in update_bad:
        yield Case(f"update-{name}", "update-model", body(**args), expect=code, words=words)


def corpus(device: str, now: float, chunk_file: str) -> list[Case]:
    """The whole corpus for one device; names are unique."""
    cases = [
        *reply_to_cases(device),
        *response_topic_cases(device),
        *broker_refused_cases(device),
        *dropped_reply_cases(device),
        *retained_cases(),
        *expiry_cases(now),
        *protected_set_cases(chunk_file),
        *set_value_cases(),
        *malformed_cases(),
    ]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "corpus case names must be unique"
    return cases
