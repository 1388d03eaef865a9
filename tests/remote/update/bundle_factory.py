"""Real tiny bundles for the update tests: an ONNX graph built with onnx's helper API (y = 2x + b), golden
inputs/outputs as npz, a manifest per edge_agent.bundle.manifest, an ed25519 signature, a .bundle.tgz."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from onnx import TensorProto, helper, numpy_helper

from edge_agent.bundle.archive import pack
from edge_agent.bundle.sign import sign_bundle


def tiny_model(path: Path, bias: float, slow_ops: int = 0) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    inits = [
        numpy_helper.from_array(np.array([2.0], np.float32), "two"),
        numpy_helper.from_array(np.full([1, 4], bias, np.float32), "bias"),
    ]
    nodes = [helper.make_node("Mul", ["x", "two"], ["h0"])]
    last = "h0"
    for i in range(slow_ops):  # identity-ish MatMuls to make a model measurably slower
        inits.append(numpy_helper.from_array(np.eye(4, dtype=np.float32), f"eye{i}"))
        nodes.append(helper.make_node("MatMul", [last, f"eye{i}"], [f"m{i}"]))
        last = f"m{i}"
    nodes.append(helper.make_node("Add", [last, "bias"], ["y"]))
    graph = helper.make_graph(nodes, "tiny", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def _entry(root: Path, rel: str) -> dict[str, object]:
    data = (root / rel).read_bytes()
    return {"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def make_bundle(
    root: Path,
    key: Ed25519PrivateKey | None,
    *,
    version: str = "1.0",
    bias: float = 1.0,
    golden_bias: float | None = None,
    report: dict[str, object] | None = None,
) -> Path:
    """A signed bundle directory whose golden outputs match (or, with golden_bias, do not)."""
    root.mkdir(parents=True)
    tiny_model(root / "model.onnx", bias)
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    np.savez(root / "golden_in.npz", x=x)
    np.savez(root / "golden_out.npz", y=2 * x + (bias if golden_bias is None else golden_bias))
    manifest = {
        "schema_version": 1,
        "name": "tiny",
        "version": version,
        "task": "raw",
        "created": "2026-11-22T00:00:00Z",
        "exporter_version": "test",
        "target": "generic-x86",
        "model": "model.onnx",
        "inputs": [{"name": "x", "dtype": "float32", "shape": [1, 4]}],
        "outputs": [{"name": "y", "dtype": "float32", "shape": [1, 4]}],
        "postprocess": {"kind": "raw"},
        "files": [_entry(root, f) for f in ("model.onnx", "golden_in.npz", "golden_out.npz")],
        "golden": [{"inputs": "golden_in.npz", "outputs": "golden_out.npz", "atol": 1e-5, "rtol": 1e-5}],
        "report": report or {},
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if key is not None:
        sign_bundle(root, key)
    return root


def archive(bundle_dir: Path) -> tuple[Path, str]:
    out = pack(bundle_dir, bundle_dir.with_name(bundle_dir.name + ".bundle.tgz"))
    return out, hashlib.sha256(out.read_bytes()).hexdigest()


def bundle_from_model(
    root: Path,
    model: Path,
    key: Ed25519PrivateKey,
    *,
    name: str,
    version: str,
    preprocess: dict[str, object] | None = None,
    postprocess: dict[str, object] | None = None,
) -> Path:
    """Wrap a real ONNX model into a signed bundle; golden outputs are this machine's ORT outputs."""
    import shutil

    import onnxruntime as ort

    root.mkdir(parents=True)
    shutil.copy(model, root / "model.onnx")
    sess = ort.InferenceSession(str(root / "model.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        feeds[i.name] = rng.random(shape, dtype=np.float32)
    outs = sess.run(None, feeds)
    np.savez(root / "golden_in.npz", **feeds)
    np.savez(root / "golden_out.npz", **{o.name: v for o, v in zip(sess.get_outputs(), outs, strict=True)})

    def spec(t: object, value_shape: list[int]) -> dict[str, object]:
        return {"name": t.name, "dtype": "float32", "shape": value_shape}  # type: ignore[attr-defined]

    manifest = {
        "schema_version": 1,
        "name": name,
        "version": version,
        "task": "classification",
        "created": "2026-11-22T00:00:00Z",
        "exporter_version": "test",
        "target": "generic-x86",
        "model": "model.onnx",
        "inputs": [spec(i, list(feeds[i.name].shape)) for i in sess.get_inputs()],
        "outputs": [spec(o, list(v.shape)) for o, v in zip(sess.get_outputs(), outs, strict=True)],
        "files": [_entry(root, f) for f in ("model.onnx", "golden_in.npz", "golden_out.npz")],
        "golden": [{"inputs": "golden_in.npz", "outputs": "golden_out.npz", "atol": 1e-4, "rtol": 1e-4}],
    }
    if preprocess is not None:
        manifest["preprocess"] = preprocess
    if postprocess is not None:
        manifest["postprocess"] = postprocess
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    sign_bundle(root, key)
    return root
