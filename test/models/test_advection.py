"""Advection moves the last frame's pixels by the kernel's displacement, per patch."""
import torch

from nanobot_ros.models.advection import advect, AdvectionShape, banded

SHAPE = AdvectionShape(radius_x=3, radius_y=2)
ONE_HOT = 50.0  # a logit that makes a softmax one-hot in float32


def logits_for(dx: int, dy: int, patches: int = 4, batch: int = 1) -> torch.Tensor:
    """Per-patch logits choosing output(p) = input(p + (dx, dy)), mask logit 0."""
    logits = torch.zeros(batch, patches, SHAPE.logits_per_patch)
    logits[..., SHAPE.radius_x + dx] = ONE_HOT
    logits[..., 2 * SHAPE.radius_x + 1 + SHAPE.radius_y + dy] = ONE_HOT
    return logits


def test_a_one_hot_kernel_moves_the_image_by_its_displacement():
    images = torch.rand(1, 3, 8, 8)
    moved, mask = advect(images, logits_for(dx=-2, dy=1), SHAPE)
    # output(y, x) = input(y + 1, x - 2) inside; the border repeats the edge pixel.
    assert torch.equal(moved[:, :, :7, 2:], images[:, :, 1:, :6])
    assert torch.equal(moved[:, :, 7, 2:], images[:, :, 7, :6])
    assert torch.equal(moved[:, :, :7, 0], images[:, :, 1:, 0])
    assert torch.equal(mask, torch.full((1, 1, 8, 8), 0.5))


def test_zero_displacement_is_the_identity():
    images = torch.rand(2, 3, 8, 8)
    moved, _ = advect(images, logits_for(0, 0, batch=2), SHAPE)
    assert torch.equal(moved, images)


def test_gradients_reach_every_tap():
    images = torch.rand(1, 3, 8, 8)
    logits = torch.zeros(1, 4, SHAPE.logits_per_patch, requires_grad=True)
    moved, mask = advect(images, logits, SHAPE)
    (mask * moved).square().sum().backward()
    assert bool((logits.grad != 0).all())


def test_wrong_logit_count_is_refused():
    try:
        advect(torch.rand(1, 3, 8, 8), torch.zeros(1, 4, 5), SHAPE)
    except ValueError as error:
        assert 'logits must be (B, square N, 13)' in str(error)
    else:
        raise AssertionError('a wrong logit count was accepted')


def test_the_banded_matrix_slides_the_kernel_one_column_a_row():
    kernel = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert banded(kernel, 2).tolist() == [[[1, 2, 3, 0], [0, 1, 2, 3]],
                                          [[4, 5, 6, 0], [0, 4, 5, 6]]]
