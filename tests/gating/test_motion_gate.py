"""Motion gate on real images (skimage): still scenes are skipped, moving objects are not."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError
from skimage import data

from edge_agent.gating.config import MotionGateConfig
from edge_agent.gating.motion import MotionGate, build_gate
from edge_agent.stages.types import Frame


@pytest.fixture(scope="module")
def scene() -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(data.coffee()[:, :, ::-1])  # RGB → BGR, 400x600


@pytest.fixture(scope="module")
def face() -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(data.astronaut()[30:230, 150:330, ::-1])  # 200x180 crop


def _noisy(img: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    # Sensor noise: a still camera never gives two identical frames.
    noise = rng.normal(0, 3.0, img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def test_still_scene_runs_only_first_frame_and_keyframes(scene: npt.NDArray[np.uint8]) -> None:
    rng = np.random.default_rng(0)
    gate = MotionGate(MotionGateConfig(keyframe_interval_s=5.0, hold_s=0.0))
    decisions = [gate(Frame(_noisy(scene, rng), ts=i * 0.1, index=i)) for i in range(200)]  # 20 s
    assert decisions[0]
    assert sum(decisions) == 1 + 3  # first frame, then keyframes at 5, 10, 15 s
    assert gate.stats.as_json()["frames_skipped"] == 196
    assert gate.stats.keyframes == 3


def test_moving_object_is_inferred_and_hold_follows_it(
    scene: npt.NDArray[np.uint8], face: npt.NDArray[np.uint8]
) -> None:
    rng = np.random.default_rng(1)
    gate = build_gate(MotionGateConfig(keyframe_interval_s=None, hold_s=0.5))
    assert gate is not None
    decisions = []
    for i in range(60):
        img = _noisy(scene, rng)
        if 20 <= i < 30:  # the face slides across the frame for one second
            x = 20 + (i - 20) * 40
            img[100:300, x : x + 180] = face
        decisions.append(gate(Frame(img, ts=i * 0.1, index=i)))
    inferred = [i for i, d in enumerate(decisions) if d]
    # The object's frames and the frame it vanished (a change too) run; then the background's ghost
    # of the object fades within a few frames, plus 0.5 s of hold, and the still scene is skipped again.
    assert all(i in inferred for i in range(20, 31))
    assert inferred[:6] == [0, 1, 2, 3, 4, 5]  # first frame is "all new", then hold
    assert not any(decisions[6:20])
    assert not any(decisions[42:])
    assert gate.stats.inferred + gate.stats.skipped == 60
    assert gate.stats.motion >= 11


def test_small_change_below_min_area_is_ignored(scene: npt.NDArray[np.uint8]) -> None:
    gate = MotionGate(MotionGateConfig(min_area=0.01, keyframe_interval_s=None, hold_s=0))
    gate(Frame(scene.copy(), ts=0.0, index=0))
    img = scene.copy()
    img[10:14, 10:14] = 255  # a 4-pixel fleck: dust, not an object
    assert not gate(Frame(img, ts=0.1, index=1))
    assert gate.last_area < 0.01
    img[50:200, 50:200] = 0
    assert gate(Frame(img, ts=0.2, index=2))


def test_config_is_checked() -> None:
    with pytest.raises(ValidationError, match="odd"):
        MotionGateConfig(blur=4)
    with pytest.raises(ValidationError):
        MotionGateConfig(min_area=0)
    assert build_gate(None) is None
