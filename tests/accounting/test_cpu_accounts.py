"""CPU accounting: thread CPU per stage with a real ONNX Runtime session, and the energy estimate."""

from __future__ import annotations

import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_agent.accounting.cpu import CpuAccounts
from edge_agent.hardware.profile import load_profile


def _matmul_session(n: int = 384) -> ort.InferenceSession:
    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(n, n)).astype(np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h0"])]
    nodes += [helper.make_node("MatMul", [f"h{i}", "w"], [f"h{i + 1}"]) for i in range(7)]
    graph = helper.make_graph(
        nodes,
        "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("h7", TensorProto.FLOAT, [n, n])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def test_stages_charge_cpu_not_waiting() -> None:
    profile = load_profile("generic-x86")
    acc = CpuAccounts(profile.watts_per_busy_core)
    session = _matmul_session()
    x = np.ones((384, 384), np.float32)
    cpu = wall = 0.0  # this thread's own clocks around the inference stage, for reference
    for i in range(6):
        with acc.stage("gate"):
            time.sleep(0.02)  # waiting is not CPU
        inferred = i % 2 == 0
        if inferred:
            c0, w0 = time.thread_time(), time.perf_counter()
            with acc.stage("inference"):
                session.run(None, {"x": x})
            cpu += time.thread_time() - c0
            wall += time.perf_counter() - w0
        acc.frame(inferred)
    rep = acc.report()
    assert rep["frames"] == 6
    assert rep["results"] == 3
    per = rep["cpu_s_per_result"]
    assert per["gate"] < 0.005
    # 8 matmuls of 384^2 on one thread (ORT runs on the caller's thread): a few ms on a fast CPU, tens
    # on a Pi, so compare with the thread's own clocks rather than a fixed figure
    assert per["inference"] == pytest.approx(cpu / 3, rel=0.25)
    assert per["inference"] <= wall / 3 * 1.05  # one thread cannot burn more CPU than time passed
    assert per["inference"] > 10 * per["gate"]
    assert rep["cpu_s_per_result_total"] == pytest.approx(sum(per.values()), rel=1e-3)
    assert rep["energy_j_per_result_estimate"] == pytest.approx(
        rep["cpu_s_per_result_total"] * profile.watts_per_busy_core, rel=1e-3
    )
    assert rep["energy_is_estimate"] is True
    assert "note" not in rep


def test_report_without_results_and_bad_watts() -> None:
    acc = CpuAccounts(3.0, ort_threads=4)
    rep = acc.report()
    assert rep["results"] == 0
    assert rep["cpu_s_per_result_total"] == 0
    assert "pool threads" in rep["note"]
    with pytest.raises(ValueError, match="watts_per_busy_core"):
        CpuAccounts(0.0)
