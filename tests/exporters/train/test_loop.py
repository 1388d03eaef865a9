"""exporters.train.loop.fit: learns, stops early on validation accuracy, restores the best weights,
is deterministic, and leaves torch's global settings as it found them."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from exporters.train.loop import accuracy, fit  # noqa: E402


def _blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three Gaussian blobs in 8 dimensions: a task a linear head solves, chance 1/3."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[2.0] * 8, [-2.0] * 8, [2.0, -2.0] * 4])
    y = torch.arange(n) % 3
    return centres[y] + torch.randn(n, 8, generator=g), y


def _model() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def test_fit_learns_a_separable_task_far_above_chance() -> None:
    model = _model()
    result = fit(model, _blobs(300, 0), _blobs(90, 1), max_epochs=20, patience=20, progress=False)
    assert result.epochs == 20
    assert result.stopped == "max_epochs"
    # chance is 1/3; the blobs are 5.6 standard deviations apart
    assert result.best_val_accuracy >= 0.95
    assert accuracy(model, _blobs(90, 2)) >= 0.95
    assert len(result.history) == 20
    assert result.history[0].val_accuracy <= result.best_val_accuracy


def test_fit_is_deterministic() -> None:
    a, b = _model(), _model()
    ra = fit(a, _blobs(120, 0), _blobs(30, 1), max_epochs=4, progress=False, seed=3)
    rb = fit(b, _blobs(120, 0), _blobs(30, 1), max_epochs=4, progress=False, seed=3)
    assert [e.train_loss for e in ra.history] == [e.train_loss for e in rb.history]
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_early_stopping_restores_the_best_epoch() -> None:
    # Labels that are noise: validation accuracy peaks early and the loop must stop and roll back.
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 8, generator=g), torch.randint(0, 3, (200,), generator=g)
    vx, vy = torch.randn(60, 8, generator=g), torch.randint(0, 3, (60,), generator=g)
    model = _model()
    result = fit(model, (x, y), (vx, vy), max_epochs=200, patience=3, lr=0.05, progress=False)
    assert result.stopped == "patience"
    assert result.epochs == result.best_epoch + 3
    assert accuracy(model, (vx, vy)) == pytest.approx(result.best_val_accuracy)
    assert result.best_val_accuracy == max(e.val_accuracy for e in result.history)


def test_frozen_batchnorm_keeps_its_statistics_and_globals_are_restored() -> None:
    bn = nn.BatchNorm1d(8)
    for p in bn.parameters():
        p.requires_grad_(False)
    model = nn.Sequential(bn, nn.Linear(8, 3))
    before = bn.running_mean.clone()
    threads = torch.get_num_threads()
    fit(model, _blobs(60, 0), _blobs(30, 1), max_epochs=2, progress=False, threads=1)
    assert torch.equal(bn.running_mean, before)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


def test_bad_arguments_say_what_was_expected() -> None:
    frozen = nn.Linear(8, 3).requires_grad_(False)
    with pytest.raises(ValueError, match="trainable parameters"):
        fit(frozen, _blobs(9, 0), _blobs(9, 1), progress=False)
    with pytest.raises(ValueError, match="max_epochs >= 1"):
        fit(_model(), _blobs(9, 0), _blobs(9, 1), max_epochs=0, progress=False)
    x, y = _blobs(9, 0)
    with pytest.raises(ValueError, match="as many labels as inputs"):
        fit(_model(), (x, y[:4]), _blobs(9, 1), progress=False)
