"""Pictures of the world model: prediction grids (also the debug image topics) and curves.

`prediction_grid` is what /world_model/predictions shows and what the node leaves in the run
folder: current frame | decoded frame | predicted next frame for each action, labelled; with
hierarchy levels (`with_level_rows`) one more row per level: the predicted frame 2^k steps later
for each of its macro-actions (labelled `L<k> <actions joined by +>`).
`learning_curve` plots the losses and R² over training steps into a PNG.
"""
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import cv2
# Imported at start-up, not at shutdown, where a slow import would eat the stop grace time.
import matplotlib
import numpy as np
import torch

from nanobot_ros.models.vit import unpatchify

SEPARATOR_PX = 4
LABEL_PX = 18


def patches_to_image(patches: torch.Tensor, patch_size: int) -> np.ndarray:
    """(N, P) patches with values in [0, 1] -> (H, W, 3) uint8 image (clipped)."""
    image = unpatchify(patches.detach().float()[None], patch_size)[0]
    return (image.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def labelled_tile(image: np.ndarray, label: str) -> np.ndarray:
    """Return `image` with a black label bar above it."""
    bar = np.zeros((LABEL_PX, image.shape[1], 3), dtype=np.uint8)
    cv2.putText(bar, label, (3, LABEL_PX - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([bar, image], axis=0)


def prediction_grid(frame: np.ndarray, reconstruction: Optional[np.ndarray],
                    predictions: Sequence[np.ndarray], action_names: Sequence[str],
                    chosen: Optional[int] = None) -> np.ndarray:
    """One row: current frame, decoded frame, predicted next frame per action (rgb8)."""
    blank = np.zeros_like(frame)
    tiles = [labelled_tile(frame, 'current'),
             labelled_tile(reconstruction if reconstruction is not None else blank, 'decoded')]
    for index, (name, image) in enumerate(zip(action_names, predictions)):
        mark = ' *' if chosen == index else ''
        tiles.append(labelled_tile(image, f'{name}{mark}'))
    return tile_row(tiles)


def tile_row(tiles: Sequence[np.ndarray]) -> np.ndarray:
    """Tiles of one height side by side, a grey separator between them."""
    gap = np.full((tiles[0].shape[0], SEPARATOR_PX, 3), 64, dtype=np.uint8)
    row = [tiles[0]]
    for tile in tiles[1:]:
        row += [gap, tile]
    return np.ascontiguousarray(np.concatenate(row, axis=1))


def with_level_rows(grid: np.ndarray, levels: Sequence[tuple]) -> np.ndarray:
    """Stack under `grid` one row per hierarchy level; rows padded black.

    levels: (title, predicted frame per macro-action, macro-action names); each tile is
    labelled '<title> <name>'.
    """
    return stacked_rows([grid] + [tile_row([labelled_tile(image, f'{title} {name}')
                                            for image, name in zip(images, names)])
                                  for title, images, names in levels if images])


def stacked_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Rows one under the other, a grey separator between them, narrower ones padded black."""
    width = max(row.shape[1] for row in rows)
    gap = np.full((SEPARATOR_PX, width, 3), 64, dtype=np.uint8)
    stacked = []
    for row in rows:
        stacked += [gap] if stacked else []
        stacked.append(np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))))
    return np.ascontiguousarray(np.concatenate(stacked, axis=0))


def save_png(image: np.ndarray, path) -> Path:
    """Write an rgb8 image as PNG; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image[:, :, ::-1]):
        raise OSError(f'could not write {path}')
    return path


def learning_curve(history: List[Dict[str, float]], path, title: str = 'world model') -> Path:
    """Plot losses (log scale) and R² against predictor training steps into a PNG."""
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    def series(key, x_key='predictor_training_step'):
        points = [(h[x_key], h[key]) for h in history
                  if key in h and x_key in h and np.isfinite(h[key])]
        return ([p[0] for p in points], [p[1] for p in points]) if points else ([], [])

    figure, (losses, quality) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for key in ('autoencoder_training_loss', 'predictor_training_loss',
                'predictor_patch_loss', 'predictor_latent_loss'):
        x, y = series(key)
        if x:
            losses.plot(x, y, label=key, linewidth=1)
    losses.set_yscale('log')
    losses.set_ylabel('loss')
    if losses.lines:
        losses.legend(fontsize=7)
    losses.set_title(title)
    for key in ('predictor_explained_variance', 'online_explained_variance'):
        x, y = series(key)
        if x:
            quality.plot(x, y, label=key, linewidth=1)
    quality.axhline(0.9, color='grey', linestyle='--', linewidth=0.8)
    quality.set_ylim(-0.5, 1.05)
    quality.set_ylabel('R² (patch space)')
    quality.set_xlabel('predictor training step')
    if quality.lines[1:]:
        quality.legend(fontsize=7)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def line_plot(path, lines: Dict[str, tuple], xlabel: str, ylabel: str, title: str,
              log: bool = False) -> Path:
    """Plot {label: (x, y[, alpha])} as lines into a 6 x 3.5 in PNG at `path`."""
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for label, (x, y, *alpha) in lines.items():
        axis.plot(x, y, label=label, alpha=alpha[0] if alpha else 1.0)
    axis.set(xlabel=xlabel, ylabel=ylabel, title=title, yscale='log' if log else 'linear')
    if len(lines) > 1:
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
