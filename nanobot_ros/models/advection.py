"""Advection: the next frame as the last frame's own pixels, moved patch by patch.

Where this differs from the MAE-decoded prediction. A decoder renders the next frame from
feature tokens; when the robot turns the room's view shifts by 11 px at 64 px (most of a 16 px
patch), and a token of a sub-patch-shifted view is a feature the predictor must invent, so
every turn came out blurred (held-out R² about 0.85 whatever the learning rate, batch or
width: docs/world_model.md, "Coverage or the learner?"). A rotation moves every pixel by
nearly the same amount whatever its depth: copying the last frame's pixels from where they
were is exact where a feature is a blur. As in Finn et al.'s CDNA (2016, "Unsupervised
learning for physical interaction through video prediction"), each patch gets a normalised
kernel over displacements, applied to the last frame, and a mask that composes the moved
pixels with the decoded prediction: the decoder paints what no pixel of the last frame shows
(the wall that comes into view, light that changes). Unlike CDNA the kernel is separable (a
horizontal then a vertical one: a turn is a horizontal shift, forward a zoom, every one a
few pixels up or down at most), and it comes per patch from the predictor's output tokens,
bilinearly spread to pixels, so neighbouring patches move alike. Each kernel is applied as a
banded matrix product rather than a grouped convolution: the same sums, a third of the CPU
time forward and backward (a grouped convolution with one group per patch and channel was 40 %
of a room learner step).
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AdvectionShape:
    """How far pixels may move: the kernels' half-widths in pixels (0 = advection off)."""

    radius_x: int = 0
    radius_y: int = 0

    @property
    def enabled(self) -> bool:
        return self.radius_x > 0 or self.radius_y > 0

    @property
    def logits_per_patch(self) -> int:
        """Horizontal taps + vertical taps + the mask's logit."""
        return 2 * self.radius_x + 1 + 2 * self.radius_y + 1 + 1


def banded(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Return (..., size, size + taps - 1): row r holds the kernel at columns r to r + taps - 1.

    Zeros elsewhere, so a row-vector signal times its transpose is the kernel's (..., taps)
    sliding (cross-correlation) window over the signal. Built by tiling the kernel followed by
    `size` zeros and reading the tiles with a stride one shorter than their length: each row
    starts one column later than the row above.
    """
    taps = kernel.shape[-1]
    width = size + taps - 1
    tiled = F.pad(kernel, (0, size)).unsqueeze(-2).expand(*kernel.shape[:-1], size, width + 1)
    return tiled.reshape(*kernel.shape[:-1], size * (width + 1))[..., :size * width].reshape(
        *kernel.shape[:-1], size, width)


def advect(images: torch.Tensor, logits: torch.Tensor, shape: AdvectionShape):
    """Return (moved images (B, C, H, W), mask (B, 1, H, W) in [0, 1]).

    images: the last frames (B, C, H, W); logits: per patch (B, N, shape.logits_per_patch),
    N a square grid of patches, ordered as the encoder's tokens (row-major). Output pixel p of
    a patch whose kernels put weight on taps (i, j) takes input pixel p + (i - radius_x,
    j - radius_y); beyond the border the edge pixel repeats (the mask hands those to the
    decoder as it learns). Each patch's pixels use that patch's kernels (on a CPU a tenth of
    the cost of per-pixel kernels spread between patches); the mask is spread bilinearly.
    """
    b, n, k = logits.shape
    c, h, w = images.shape[1:]
    grid = int(round(n ** 0.5))
    if grid * grid != n or k != shape.logits_per_patch or h % grid or w % grid:
        raise ValueError(f'logits must be (B, square N, {shape.logits_per_patch}) with N '
                         f'patches tiling the {h} x {w} image, got {tuple(logits.shape)}')
    rx, ry, ph, pw = shape.radius_x, shape.radius_y, h // grid, w // grid
    taps_x = 2 * rx + 1
    rows, cols = ph + 2 * ry, pw + 2 * rx
    padded = F.pad(images, (rx, rx, ry, ry), mode='replicate')
    # Every patch with its margin, channels stacked as rows (one product a patch, not one a
    # patch and channel: a third less CPU time): (B, C, grid, grid, rows, cols) -> (B, N,
    # C * rows, cols).
    regions = padded.unfold(2, rows, ph).unfold(3, cols, pw)
    regions = regions.permute(0, 2, 3, 1, 4, 5).reshape(b, n, c * rows, cols)
    along_x = banded(logits[..., :taps_x].softmax(dim=-1), pw)     # (B, N, pw, cols)
    along_y = banded(logits[..., taps_x:-1].softmax(dim=-1), ph)   # (B, N, ph, rows)
    moved = regions @ along_x.transpose(-1, -2)                    # (B, N, C * rows, pw)
    # (B, N, C, rows, pw) -> (B, N, rows, C * pw): the vertical pass over every channel at once.
    moved = moved.reshape(b, n, c, rows, pw).transpose(2, 3).reshape(b, n, rows, c * pw)
    moved = along_y @ moved                                        # (B, N, ph, C * pw)
    moved = moved.reshape(b, grid, grid, ph, c, pw).permute(0, 4, 1, 3, 2, 5).reshape(b, c, h, w)
    mask = F.interpolate(logits[..., -1].reshape(b, 1, grid, grid), size=(h, w),
                         mode='bilinear', align_corners=False).sigmoid()
    return moved, mask


def sub_patch_logits(logits: torch.Tensor, parts: int) -> torch.Tensor:
    """Return (B, N * parts², K): each patch's `parts` x `parts` sub-patches on the finer grid.

    logits (B, N, parts² * K): per patch (row-major over a square grid), its sub-patches'
    logits row-major within the patch. The result is row-major over the grid `parts` times
    finer, as `advect` takes it: a 16 px patch moved as four 8 px ones, each its own kernels.
    Why: a turn moves a wide-angle view unevenly (11 px at the centre, 16 at the edges), and
    the best single shift of each 16 px patch explains a right turn's next frame to R² 0.892
    at best, of each 8 px sub-patch to 0.933 (docs/world_model.md, "Sub-patch advection").
    """
    if parts == 1:
        return logits
    b, n, k = logits.shape
    grid = int(round(n ** 0.5))
    # (B, grid, grid, parts, parts, K) -> (B, grid, parts, grid, parts, K): rows interleaved.
    return logits.reshape(b, grid, grid, parts, parts, k // parts ** 2).permute(
        0, 1, 3, 2, 4, 5).reshape(b, n * parts ** 2, k // parts ** 2)


def blend(moved: torch.Tensor, mask: torch.Tensor, painted: torch.Tensor) -> torch.Tensor:
    """Return the predicted images: moved pixels where the mask is 1, the decoder's paint at 0.

    moved and painted (B, C, H, W); mask (B, 1, H, W) in [0, 1].
    """
    return mask * moved + (1 - mask) * painted
