"""A hostile corpus for the config reader and validator: each file is refused with one issue naming the key
path, the line and what was expected, never a traceback, never a hang (docs/reliability.md, Config loader).

Limits are asserted by their error (the alias budget, the depth limit, the size cap), not by the clock;
the one memory bound (a 5 MB file) is generous.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from edge_agent.config import load_config, parse_config
from edge_agent.errors import ConfigError
from edge_agent.yamlfile.reader import ALIAS_BUDGET, MAX_BYTES, MAX_DEPTH

HEAD = "device: {id: cam-1}\n"  # line 1
PIPE = "pipelines:\n  door:\n    source: {kind: video, path: clip.mp4}\n    model: {path: m.onnx}\n"  # 2-5
POST = "    postprocess: {kind: classification}\n"  # 6
GOOD = HEAD + PIPE + POST
DEEP_SEQ = "x" + "[0]" * 7 + "...(64 levels)"  # a deep key path is shown shortened


def with_pipe(
    name: str = "door", model: str = "{path: m.onnx}", source: str = "{kind: video, path: a.mp4}"
) -> str:
    return f"pipelines:\n  {name}:\n    source: {source}\n    model: {model}\n" + POST


def laughs(levels: int) -> str:
    text = 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n"
    return text


# (id, text, key path, line, words in the message)
TEXT_CASES: list[tuple[str, str, str, int | None, str]] = [
    # control characters, raw and escaped
    (
        "nul-raw-value",
        HEAD + PIPE.replace("clip.mp4", "cl\x00ip.mp4") + POST,
        "pipelines.door.source.path",
        4,
        "U+0000 (NUL)",
    ),
    ("nul-raw-key", "dev\x00ice: {id: x}\n" + PIPE, "dev ice", 1, "U+0000 (NUL) at column 4"),
    ("esc-raw", GOOD + "log_level: \x1b[31minfo\n", "log_level", 7, "U+001B (ESC)"),
    ("bel-raw", "device: {id: \x07cam}\n" + PIPE, "device.id", 1, "U+0007 (BEL)"),
    ("del-raw", "device:\n  id: cam\x7f\n" + PIPE, "device.id", 2, "U+007F (DEL)"),
    ("c1-csi-raw", "device:\n  id: cam\x9b\n" + PIPE, "device.id", 2, "U+009B"),
    ("form-feed-raw", GOOD + "mqtt:\n  host: a\x0cb\n", "mqtt.host", 8, "U+000C (FF)"),
    ("vt-raw", GOOD + "mqtt:\n  host: a\x0bb\n", "mqtt.host", 8, "U+000B (VT)"),
    ("noncharacter-fffe", GOOD + "mqtt:\n  host: a\ufffeb\n", "mqtt.host", 8, "U+FFFE"),
    ("lone-surrogate", GOOD + "mqtt:\n  host: a\ud800b\n", "mqtt.host", 8, "U+D800"),
    ("nul-escape", GOOD + 'mqtt:\n  prefix: "edge\\0"\n', "mqtt.prefix", 8, "U+0000 (NUL)"),
    ("esc-escape", GOOD + 'mqtt:\n  prefix: "\\e[1m"\n', "mqtt.prefix", 8, "U+001B (ESC)"),
    ("x1b-escape-in-device-id", 'device: {id: "cam\\x1b"}\n' + PIPE, "device.id", 1, "U+001B (ESC)"),
    (
        "nul-escape-in-pipeline-name",
        'pipelines:\n  "do\\0or":\n    source: {kind: video, path: a}\n',
        "pipelines.do\x00or",
        2,
        "U+0000",
    ),
    # tags outside the core schema
    (
        "python-apply",
        GOOD + "log_level: !!python/object/apply:os.system ['id']\n",
        "log_level",
        7,
        "!!python/object/apply:os.system is not allowed",
    ),
    ("python-name", GOOD + "log_level: !!python/name:os.system\n", "log_level", 7, "!!python/name:os.system"),
    ("python-tuple", GOOD + "mqtt: !!python/tuple [a, b]\n", "mqtt", 7, "!!python/tuple"),
    (
        "python-object-map",
        GOOD + "mqtt: !!python/object:edge_agent.agent.Agent {}\n",
        "mqtt",
        7,
        "!!python/object:",
    ),
    ("binary", GOOD + "log_level: !!binary aW5mbw==\n", "log_level", 7, "!!binary"),
    ("set", GOOD + "mqtt: !!set {a, b}\n", "mqtt", 7, "!!set"),
    ("timestamp", GOOD + "log_level: !!timestamp 2024-01-01\n", "log_level", 7, "!!timestamp"),
    ("omap", GOOD + "mqtt: !!omap [{host: a}]\n", "mqtt", 7, "!!omap"),
    ("local-tag", GOOD + "mqtt:\n  host: !secret broker\n", "mqtt.host", 8, "!secret"),
    ("verbatim-tag", GOOD + "log_level: !<tag:example.com,2000:x> info\n", "log_level", 7, "tag:example.com"),
    ("tag-on-key", GOOD + "!!python/str log_level: info\n", "", 7, "!!python/str"),
    # aliases
    ("recursive-seq", GOOD + "x: &a [1, *a]\n", "x[1]", 7, "recursive"),
    ("recursive-map", GOOD + "mqtt: &m {host: *m}\n", "mqtt.host", 7, "recursive"),
    ("recursive-deep", GOOD + "mqtt: &m\n  tls:\n    ca_file: [*m]\n", "mqtt.tls.ca_file[0]", 9, "recursive"),
    ("undefined-alias", GOOD + "log_level: *nope\n", "log_level", 7, "no anchor &nope"),
    ("billion-laughs", GOOD + laughs(9), "l3[7]", 10, f"more than {ALIAS_BUDGET:,} nodes"),
    (
        "laughs-in-pipeline",
        laughs(9) + PIPE.replace("{path: m.onnx}", "{path: m.onnx, trusted_keys: *l8}"),
        "l3[7]",
        4,
        "billion laughs",
    ),
    (
        "quadratic-blowup",
        GOOD + "big: &b [" + ", ".join(["x"] * 3000) + "]\nuse: [*b, *b, *b, *b]\n",
        "use[3]",
        8,
        "more than",
    ),
    (
        "merge-laughs",
        GOOD
        + "".join(
            f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}\n" if i else "m0: &m0 {k: 1}\n"
            for i in range(16)
        ),
        "m10[1]",
        17,
        "more than",
    ),
    ("alias-as-list-key", GOOD + "x: &x [a]\ny: {*x : 1}\n", "y", 8, "plain name"),
    # depth
    (
        "deep-flow-seq-10000",
        GOOD + "x: " + "[" * 10_000 + "]" * 10_000 + "\n",
        DEEP_SEQ,
        7,
        f"deeper than {MAX_DEPTH}",
    ),
    (
        "deep-flow-map-10000",
        GOOD + "x: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
        "x.a.a.a.a.a.a.a...(64 levels)",
        7,
        f"deeper than {MAX_DEPTH}",
    ),
    ("deep-unclosed-100000", GOOD + "x: " + "[" * 100_000 + "\n", DEEP_SEQ, 7, "deeper than"),
    (
        "deep-block-seq",
        GOOD + "x:\n" + "".join("  " * i + "-\n" for i in range(1, 80)),
        DEEP_SEQ,
        71,
        "deeper than",
    ),
    # keys
    ("complex-key-seq", GOOD + "? [a, b]\n: 1\n", "", 7, "plain name"),
    ("complex-key-flow", GOOD + "mqtt: {[1]: x}\n", "mqtt", 7, "plain name"),
    ("complex-key-map", GOOD + "? {a: 1}\n: 1\n", "", 7, "plain name"),
    ("duplicate-top", GOOD + "device: {id: b}\n", "device", 7, "duplicate key"),
    (
        "duplicate-nested",
        HEAD + PIPE + "    model: {path: n.onnx}\n",
        "pipelines.door.model",
        6,
        "duplicate key",
    ),
    # documents, numbers, syntax
    ("second-document", GOOD + "---\ndevice: {id: b}\n", "", 7, "found a second (---)"),
    (
        "int-5000-digits",
        GOOD + "stats_interval_s: " + "9" * 5000 + "\n",
        "stats_interval_s",
        7,
        "number too long",
    ),
    (
        "tagged-int-not-int",
        GOOD + "mqtt: {port: !!int eighty}\n",
        "mqtt.port",
        7,
        "expected an int for !!int",
    ),
    (
        "tagged-float-not-float",
        GOOD + "stats_interval_s: !!float soon\n",
        "stats_interval_s",
        7,
        "expected a float",
    ),
    ("tab-indent", GOOD + "mqtt:\n\thost: a\n", "mqtt", 8, "not valid YAML"),
    ("unclosed-quote", GOOD + "mqtt:\n  host: 'a\n", "mqtt.host", None, "not valid YAML"),
    ("top-level-list", "- a\n- b\n", "", 1, "expected a mapping"),
    ("top-level-scalar", "hello\n", "", 1, "expected a mapping"),
    ("empty", "", "", 1, "expected a mapping"),
    ("only-comments", "# nothing here\n", "", 1, "expected a mapping"),
    # values that parse but cannot run
    ("inf-interval", GOOD + "stats_interval_s: .inf\n", "stats_interval_s", 7, "finite number"),
    (
        "nan-fps",
        HEAD + PIPE.replace("path: clip.mp4}", "path: clip.mp4, fps: .nan}") + POST,
        "pipelines.door.source.fps",
        4,
        "finite number",
    ),
    ("empty-model-path", with_pipe(model="{path: ''}"), "pipelines.door.model.path", 4, "empty path"),
    ("blank-model-path", with_pipe(model="{path: '   '}"), "pipelines.door.model.path", 4, "empty path"),
    # topic names
    ("prefix-plus", GOOD + "mqtt: {prefix: 'a/+/b'}\n", "mqtt.prefix", 7, "without wildcards"),
    ("prefix-hash", GOOD + "mqtt: {prefix: '#'}\n", "mqtt.prefix", 7, "without wildcards"),
    ("prefix-leading-slash", GOOD + "mqtt: {prefix: /edge}\n", "mqtt.prefix", 7, "leading or trailing '/'"),
    ("prefix-trailing-slash", GOOD + "mqtt: {prefix: edge/}\n", "mqtt.prefix", 7, "leading or trailing '/'"),
    ("prefix-empty-level", GOOD + "mqtt: {prefix: a//b}\n", "mqtt.prefix", 7, "single '/'"),
    ("prefix-dollar", GOOD + "mqtt: {prefix: $SYS}\n", "mqtt.prefix", 7, "not starting with $"),
    ("prefix-empty", GOOD + "mqtt: {prefix: ''}\n", "mqtt.prefix", 7, "non-empty"),
    ("device-id-slash", "device: {id: a/b}\n" + PIPE, "device.id", 1, "match pattern"),
    ("device-id-plus", "device: {id: a+b}\n" + PIPE, "device.id", 1, "match pattern"),
    ("device-id-hash", "device: {id: 'a#'}\n" + PIPE, "device.id", 1, "match pattern"),
    ("device-id-newline", 'device: {id: "cam\\n"}\n' + PIPE, "device.id", 1, "match pattern"),
    ("pipeline-slash", with_pipe(name="'a/b'"), "pipelines.a/b", 2, "match pattern"),
    ("pipeline-plus", with_pipe(name="'+'"), "pipelines.+", 2, "match pattern"),
    ("pipeline-cmd", with_pipe(name="cmd"), "pipelines.cmd", 2, "collides with the agent's own topics"),
    ("pipeline-status", with_pipe(name="status"), "pipelines.status", 2, "collides"),
    ("pipeline-stats", with_pipe(name="stats"), "pipelines.stats", 2, "collides"),
    ("pipeline-reply", with_pipe(name="reply"), "pipelines.reply", 2, "collides"),
    ("pipeline-update", with_pipe(name="update"), "pipelines.update", 2, "collides"),
    # execution providers
    (
        "ep-typo",
        with_pipe(model="{path: m.onnx, providers: [CUDAExecutionProviderr]}"),
        "pipelines.door.model.providers[0]",
        4,
        "did you mean CUDAExecutionProvider?",
    ),
    (
        "ep-unknown",
        with_pipe(model="{path: m.onnx, providers: [GPU]}"),
        "pipelines.door.model.providers[0]",
        4,
        "unknown execution provider",
    ),
    (
        "ep-unknown-in-ensemble",
        with_pipe()
        + "    ensemble:\n      members:\n        - model: {path: b.onnx, providers: [{name: NPU}]}\n",
        "pipelines.door.ensemble.members[0].model.providers[0]",
        8,
        "unknown execution provider",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "line", "words"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES]
)
def test_hostile_text_is_one_issue_with_key_line_and_expectation(
    text: str, path: str, line: int | None, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hostile.yaml")
    issues = info.value.issues
    assert len(issues) == 1, [str(i) for i in issues]
    issue = issues[0]
    assert issue.path == path, str(issue)
    if line is not None:
        assert issue.line == line, str(issue)
    assert words in issue.message, str(issue)
    assert "\n" not in str(info.value), "one problem, one line"


# (id, bytes, key path, line, words): what only a file can be
BYTE_CASES: list[tuple[str, bytes, str, int | None, str]] = [
    ("utf16-le-bom", GOOD.encode("utf-16"), "", 1, "UTF-16"),
    ("utf16-be-bom", b"\xfe\xff" + GOOD.encode("utf-16-be"), "", 1, "UTF-16"),
    ("utf32-bom", GOOD.encode("utf-32"), "", 1, "UTF-32"),
    ("utf16-no-bom", GOOD.encode("utf-16-le"), "", 1, "UTF-16 without a byte-order mark"),
    (
        "latin1-value",
        (HEAD + PIPE.replace("clip", "caf\xe9")).encode("latin-1"),
        "pipelines.door.source.path",
        4,
        "not UTF-8: byte 0xe9",
    ),
    (
        "latin1-comment",
        (GOOD + "# r\xe9sum\xe9\n").encode("latin-1"),
        "pipelines.door.postprocess.kind",
        7,
        "not UTF-8: byte 0xe9 at column 4",
    ),
    (
        "truncated-utf8",
        (GOOD + "log_level: info").encode() + b"\xe2\x82",
        "log_level",
        7,
        "not UTF-8: byte 0xe2",
    ),
    (
        "too-large",
        GOOD.encode() + b"# " + b"x" * MAX_BYTES + b"\n",
        "",
        None,
        f"the limit is {MAX_BYTES:,} bytes",
    ),
]


@pytest.mark.parametrize(
    ("raw", "path", "line", "words"), [c[1:] for c in BYTE_CASES], ids=[c[0] for c in BYTE_CASES]
)
def test_hostile_file_is_one_issue(
    tmp_path: Path, raw: bytes, path: str, line: int | None, words: str
) -> None:
    f = tmp_path / "agent.yaml"
    f.write_bytes(raw)
    with pytest.raises(ConfigError) as info:
        load_config(f)
    (issue,) = info.value.issues
    assert (issue.path, words in issue.message) == (path, True), str(issue)
    if line is not None:
        assert issue.line == line, str(issue)


def test_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    f = tmp_path / "agent.yaml"
    f.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_config(f).device.id == "cam-1"


def test_a_5_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """Was 23 s and 470 MB: now one read of MAX_BYTES + 1 and a 'file too large'."""
    f = tmp_path / "huge.yaml"
    f.write_text(GOOD + "labels:\n" + "  - a-label-that-goes-on\n" * 220_000)
    assert f.stat().st_size > 5_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="file too large: 5,"):
            load_config(f)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, peak  # generous: the file itself is over 5 MB


def test_text_over_the_cap_is_refused_too() -> None:
    with pytest.raises(ConfigError, match="too large"):
        parse_config(GOOD + "#" * (MAX_BYTES + 1), "remote set")


def test_a_file_just_under_the_cap_parses() -> None:
    labels = "".join(f"      - label-{i}\n" for i in range(12_000))
    text = HEAD + PIPE + "    postprocess:\n      kind: classification\n      labels:\n" + labels
    assert len(text.encode()) < MAX_BYTES
    post = parse_config(text).pipelines["door"].postprocess
    assert post is not None
    assert post.labels[-1] == "label-11999"


def test_anchors_and_merge_keys_within_the_budget_work() -> None:
    text = (
        "device: {id: cam-1}\n"
        "pipelines:\n"
        "  a: {source: {kind: video, path: a.mp4}, model: &model {path: m.onnx, intra_op_threads: 2}}\n"
        "  b:\n"
        "    source: {kind: video, path: b.mp4}\n"
        "    model:\n"
        "      <<: *model\n"
        "      intra_op_threads: 4\n"
        "      inter_op_threads: x\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert [(i.path, i.line) for i in info.value.issues] == [("pipelines.b.model.inter_op_threads", 9)]
    cfg = parse_config(text.replace("      inter_op_threads: x\n", ""))
    assert cfg.pipelines["a"].model.intra_op_threads == 2
    assert (cfg.pipelines["b"].model.path, cfg.pipelines["b"].model.intra_op_threads) == (Path("m.onnx"), 4)


def test_yaml_11_names_stay_names_as_keys() -> None:
    """`on:` and `1:` as pipeline names are the names written (YAML 1.1 would make them True and 1)."""
    two = "pipelines:\n" + "".join(
        f"  {n}:\n    source: {{kind: video, path: a.mp4}}\n    model: {{path: m.onnx}}\n"
        for n in ("on", "1")
    )
    assert sorted(parse_config(two).pipelines) == ["1", "on"]


def test_many_errors_are_capped_with_a_count() -> None:
    text = GOOD + "".join(f"unknown_{i}: 1\n" for i in range(100))
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    issues = info.value.issues
    assert len(issues) == 21
    assert issues[-1].message == "... and 80 more errors"


# A sample of the corpus through the real CLI, in its own process: exit 1, one line on stderr, no traceback.
CLI_SAMPLE = [
    "python-apply",
    "billion-laughs",
    "recursive-map",
    "deep-flow-seq-10000",
    "deep-unclosed-100000",
    "complex-key-seq",
    "nul-raw-value",
    "int-5000-digits",
    "pipeline-cmd",
    "prefix-plus",
    "ep-typo",
    "empty-model-path",
]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from edge_agent.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("verb", ["validate", "run"])
def test_real_cli_exits_1_with_one_line(tmp_path: Path, verb: str) -> None:
    cases = {c[0]: c[1] for c in TEXT_CASES}
    files = []
    for name in CLI_SAMPLE:
        f = tmp_path / f"{name}.yaml"
        f.write_text(cases[name], encoding="utf-8", errors="surrogatepass")
        files.append(f)
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_bytes(GOOD.encode("utf-16"))
    files.append(utf16)
    for f in files:
        args = ["config", "validate", str(f)] if verb == "validate" else ["run", "-c", str(f)]
        proc = _cli(*args)
        assert proc.returncode == 1, (f.name, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, (f.name, proc.stderr)
        assert "line " in lines[0], lines[0]


@pytest.mark.parametrize("case", TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
def test_same_refusals_without_libyaml(
    case: tuple[str, str, str, int | None, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where PyYAML has no libyaml, its pure-Python parser (also iterative) gives the same answers."""
    import yaml

    from edge_agent.yamlfile import reader

    monkeypatch.setattr(reader, "_Loader", yaml.SafeLoader)
    _name, text, path, line, words = case
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hostile.yaml")
    (issue,) = info.value.issues
    assert (issue.path, words in issue.message) == (path, True), str(issue)
    if line is not None:
        assert issue.line == line, str(issue)


def test_mutated_configs_raise_only_config_errors() -> None:
    """3,000 seeded mutations of a real config (bytes spliced from YAML's syntax and the hostile cases):
    each one loads or is a ConfigError, never another exception."""
    import random

    rng = random.Random(12)
    base = (Path(__file__).resolve().parents[2] / "deploy" / "config.example.yaml").read_text(
        encoding="utf-8"
    )
    pieces = [
        *"{}[]:,-?&*!|>'\"#%@`\t\n \x00\x1b\\",
        "&a ",
        "*a",
        "<<: *a\n",
        "!!python/tuple ",
        "!x ",
        "---\n",
        "? ",
        "[" * 70,
        "{a: " * 70,
        "\ud800",
        "9" * 80,
        ".inf",
        "~",
        "on",
        "cmd",
        "+/#",
        "\ufeff",
    ]
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(3000):
        text = base
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text) + 1)
            cut = rng.choice([0, 0, 1, 3])
            text = text[:at] + rng.choice(pieces) + text[at + cut :]
        try:
            parse_config(text, "mutant.yaml")
            outcomes["ok"] += 1
        except ConfigError as exc:
            outcomes["refused"] += 1 if exc.issues else 0  # a ConfigError always says why
    assert outcomes["refused"] > 1000, outcomes  # the mutations do break things...
    assert outcomes["ok"] > 0, outcomes  # ...and some (a comment, a space) do not
