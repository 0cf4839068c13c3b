from __future__ import annotations

import pytest

from mlp.train.schedules import Constant, CosineAnnealing, ExponentialDecay, StepDecay, Warmup


def lrs(schedule, n, base=0.1):
    return [schedule(epoch, base) for epoch in range(n)]


def test_constant():
    assert lrs(Constant(), 3) == [0.1, 0.1, 0.1]


def test_step_decay():
    assert lrs(StepDecay(step_size=2, gamma=0.5), 5) == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_exponential_decay():
    assert lrs(ExponentialDecay(0.9), 3) == pytest.approx([0.1, 0.09, 0.081])


def test_cosine_annealing():
    assert lrs(CosineAnnealing(epochs=4, min_lr=0.01), 6) == pytest.approx(
        [0.1, 0.01 + 0.09 * (1 + 2**-0.5) / 2, 0.055, 0.01 + 0.09 * (1 - 2**-0.5) / 2, 0.01, 0.01]
    )


def test_warmup_then_another_schedule():
    assert lrs(Warmup(3, after=StepDecay(4, 0.1)), 6, base=0.4) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.04, 0.04])


def test_schedule_errors():
    with pytest.raises(ValueError, match="StepDecay step_size must be >= 1"):
        StepDecay(0)
    with pytest.raises(ValueError, match=r"ExponentialDecay gamma must be in \(0, 1\]"):
        ExponentialDecay(1.5)
    with pytest.raises(ValueError, match="CosineAnnealing epochs must be >= 1"):
        CosineAnnealing(0)
    with pytest.raises(ValueError, match="Warmup epochs must be >= 1"):
        Warmup(0)
