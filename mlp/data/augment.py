"""Data augmentation for images: random affine transforms and elastic distortions of the training rows.

Each training row is a picture of ``image_shape`` pixels (``(28, 28)`` for MNIST). An ``Augment`` maps a batch
``x: (batch, H*W)`` to new pictures of the same shape: each output pixel ``p`` (centred coordinates) takes the
value of the input at

    q = A p + t + alpha * d(p),      A = R(theta) Sh(phi) / s

bilinearly interpolated (0 outside the picture), with per picture a rotation ``theta`` in ``+-rotate`` degrees,
a shear ``phi`` in ``+-shear`` degrees, a scale ``s`` in ``1 +- scale``, a shift ``t`` in ``+-translate`` pixels per
axis, and an elastic displacement field ``d``: uniform noise in ``[-1, 1]`` per pixel and axis, smoothed by a
Gaussian of standard deviation ``sigma`` pixels (Simard, Steinkraus and Platt 2003, who used ``alpha = 34``,
``sigma = 4`` on MNIST).

Everything is vectorised over the batch in NumPy: the Gaussian smoothing is two matrix products per field (a
``(H, H)`` and a ``(W, W)`` Gaussian matrix), the sampling four gathers. The randomness of a batch comes from the
generator ``fit`` hands over, itself a function of the run's seed, the epoch and the batch
(``mlp.train.loop``), so a run is reproducible and resumes exactly from any batch with no state to save.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Augment:
    """Random transforms of image rows ``(batch, H*W)``; zero values switch a transform off.

    Args:
        image_shape: ``(H, W)`` of each row's picture.
        translate: the largest shift, in pixels, along each axis (``0 <= translate < min(H, W)``).
        rotate: the largest rotation, in degrees (``0..180``).
        scale: the largest relative zoom (``0 <= scale < 1``: sizes between ``1 - scale`` and ``1 + scale``).
        shear: the largest shear angle, in degrees (``0 <= shear < 90``).
        elastic_alpha, elastic_sigma: the elastic distortion's scale (pixels, ``>= 0``) and smoothness (the
            Gaussian's standard deviation in pixels, ``> 0``); ``elastic_alpha = 0`` switches it off.
    """

    image_shape: tuple[int, int]
    translate: float = 0.0
    rotate: float = 0.0
    scale: float = 0.0
    shear: float = 0.0
    elastic_alpha: float = 0.0
    elastic_sigma: float = 4.0

    def __post_init__(self) -> None:
        shape = self.image_shape
        if (not isinstance(shape, tuple | list) or len(shape) != 2
                or not all(isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 2 for n in shape)):
            raise ValueError(f"image_shape must be [height, width], two integers >= 2, got {shape!r}")
        object.__setattr__(self, "image_shape", (int(shape[0]), int(shape[1])))
        # name: the interval (as written in the message), whether a value is in it, and its unit
        bounds = {
            "translate": (f"[0, {min(shape)})", lambda v: 0 <= v < min(shape), "pixels, below the picture's size"),
            "rotate": ("[0, 180]", lambda v: 0 <= v <= 180, "degrees"),
            "scale": ("[0, 1)", lambda v: 0 <= v < 1, "a fraction of the size"),
            "shear": ("[0, 90)", lambda v: 0 <= v < 90, "degrees, below 90"),
            "elastic_alpha": ("[0, inf)", lambda v: 0 <= v < float("inf"), "pixels"),
            "elastic_sigma": (f"(0, {min(shape)})", lambda v: 0 < v < min(shape), "pixels"),
        }
        for name, (interval, inside, unit) in bounds.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not inside(value):
                raise ValueError(f"{name} must be a number in {interval} ({unit}), got {value!r}")

    @property
    def active(self) -> bool:
        """Whether any transform is switched on."""
        return bool(self.translate or self.rotate or self.scale or self.shear or self.elastic_alpha)

    def get_config(self) -> dict[str, Any]:
        return asdict(self) | {"image_shape": list(self.image_shape)}

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """New pictures for the rows ``x: (batch, H*W)``, in ``x``'s dtype, from the random numbers of ``rng``."""
        height, width = self.image_shape
        if x.ndim != 2 or x.shape[1] != height * width:
            raise ValueError(f"augmentation of pictures {height}x{width} needs rows of {height * width} values, got "
                             f"rows of {x.shape[1] if x.ndim == 2 else x.shape}; set data.image_shape to the "
                             f"pictures' [height, width]")
        n = len(x)
        # the same draws whatever is switched on, so that switching one transform leaves the others' values as they were
        angles = np.deg2rad(rng.uniform(-1, 1, (n, 2)) * (self.rotate, self.shear))
        zoom = 1 + rng.uniform(-1, 1, n) * self.scale
        shift = rng.uniform(-1, 1, (n, 2)) * self.translate
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float32)
        noise = rng.random((n, 2, height, width), dtype=dtype) * 2 - 1 if self.elastic_alpha else None
        cos, sin, tan = np.cos(angles[:, 0]), np.sin(angles[:, 0]), np.tan(angles[:, 1])
        # A = R(theta) @ [[1, tan phi], [0, 1]] / s, per picture: (n, 2, 2) acting on (row, column) offsets
        a = np.empty((n, 2, 2))
        a[:, 0, 0], a[:, 0, 1] = cos, cos * tan - sin
        a[:, 1, 0], a[:, 1, 1] = sin, sin * tan + cos
        a /= zoom[:, None, None]
        rows, cols = np.meshgrid(np.arange(height) - (height - 1) / 2, np.arange(width) - (width - 1) / 2,
                                 indexing="ij")
        grid = np.stack([rows.ravel(), cols.ravel()]).astype(dtype)  # (2, H*W)
        centre = np.array([(height - 1) / 2, (width - 1) / 2])
        source = a.astype(dtype) @ grid + (shift + centre).astype(dtype)[:, :, None]  # (n, 2, H*W)
        if noise is not None:
            smooth_h = _gaussian_matrix(height, self.elastic_sigma).astype(dtype)
            smooth_w = _gaussian_matrix(width, self.elastic_sigma).astype(dtype)
            fields = smooth_h @ noise @ smooth_w.T  # (n, 2, H, W): each field smoothed along both axes
            source += dtype.type(self.elastic_alpha) * fields.reshape(n, 2, -1)
        images = x.reshape(n, height, width).astype(dtype, copy=False)
        return _bilinear(images, source[:, 0], source[:, 1]).astype(dtype, copy=False).reshape(n, -1)


def _gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """``G: (size, size)`` with ``(G f)_i = sum_j g(i - j) f_j / sum_k g(k)``: a Gaussian of ``sigma`` (over the whole
    line, values beyond the edge counting 0), as a matrix, so that smoothing a batch of fields is a matrix product."""
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    full = np.exp(-0.5 * (np.arange(-4 * int(np.ceil(sigma)), 4 * int(np.ceil(sigma)) + 1) / sigma) ** 2).sum()
    return weights / full


def _bilinear(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``images: (n, H, W)`` sampled at ``rows, cols: (n, H*W)`` (fractional pixel coordinates), bilinearly; 0 where
    the coordinates fall outside the picture."""
    n, height, width = images.shape
    frame = 2  # of zeros around each picture: a coordinate clipped into it reads 0 from all four neighbours
    padded = np.zeros((n, height + 2 * frame, width + 2 * frame), dtype=images.dtype)
    padded[:, frame:-frame, frame:-frame] = images
    rows = np.clip(rows, -1.5, height + 0.5)
    cols = np.clip(cols, -1.5, width + 0.5)
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = (rows - r0).astype(images.dtype), (cols - c0).astype(images.dtype)
    stride = width + 2 * frame
    index = (r0.astype(np.intp) + frame) * stride + (c0.astype(np.intp) + frame)
    index += (np.arange(n, dtype=np.intp) * padded[0].size)[:, None]
    flat = padded.ravel()
    top_left, top_right = flat[index], flat[index + 1]
    bottom_left, bottom_right = flat[index + stride], flat[index + stride + 1]
    top = top_left + (top_right - top_left) * fc
    bottom = bottom_left + (bottom_right - bottom_left) * fc
    return top + (bottom - top) * fr
