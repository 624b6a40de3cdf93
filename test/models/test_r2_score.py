"""One R²: the batch figure, the running online figure and the training metric agree."""
import math

import torch

from nanobot_ros.learning.hierarchy import RunningR2
from nanobot_ros.models.losses import explained_variance, r2_score


def test_batch_and_running_r2_are_the_same_figure():
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(4, 16, generator=generator)
    predicted = target + 0.1 * torch.rand(4, 16, generator=generator)
    running = RunningR2(window=4)
    for p, t in zip(predicted, target):
        running.add(p, t)
    batch = explained_variance(predicted, target)
    assert 0.5 < batch < 1.0
    assert abs(running.r2() - batch) < 1e-9
    # The training metric's form: mean squared error over the target's (biased) variance.
    mse = float(((predicted - target) ** 2).mean())
    assert abs(r2_score(mse, float(target.var(unbiased=False))) - batch) < 1e-6


def test_a_target_without_variance_has_no_r2():
    flat = torch.full((2, 8), 0.5)
    assert math.isnan(explained_variance(flat + 0.1, flat))
    running = RunningR2(window=2)
    running.add(flat[0] + 0.1, flat[0])
    assert math.isnan(running.r2())
    assert math.isnan(r2_score(0.01, 0.0))
    assert r2_score(0.0, 1.0) == 1.0
