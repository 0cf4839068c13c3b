"""Augmentation (``mlp.data.augment``): the transforms' geometry, the bounds of every parameter (one-line errors, in
Python and in configs), and in ``fit``: new pictures every batch, reproducible from the seed, exactly resumable from
any batch, the same with micro-batches, and the validation rows left alone."""

from __future__ import annotations

import numpy as np
import pytest

from mlp import Adam, Dense, ReLU, Sequential, SoftmaxCrossEntropy, fit
from mlp.data.augment import Augment
from mlp.runs.config import ConfigError, augmentation, resolve
from mlp.train.callbacks import Callback, ModelCheckpoint
from mlp.train.loop import evaluate
from mlp.train.parallel import SingleProcess

SHAPE = (9, 9)


class Draws:
    """A stand-in generator whose draws are given: ``uniform`` returns ``values[size]`` (by the draw's shape),
    ``random`` zeros (no elastic noise)."""

    def __init__(self, rotate=0.0, shear=0.0, zoom=0.0, shift=(0.0, 0.0)) -> None:
        self.rotate, self.shear, self.zoom, self.shift = rotate, shear, zoom, shift

    def uniform(self, low, high, size):
        n = size[0] if isinstance(size, tuple) else size
        if size == (n, 2) and not hasattr(self, "_angles_done"):
            self._angles_done = True
            return np.tile([self.rotate, self.shear], (n, 1))
        if size == (n, 2):
            return np.tile(self.shift, (n, 1))
        return np.full(n, self.zoom)

    def random(self, size, dtype=np.float64):
        return np.full(size, 0.5, dtype=dtype)  # 2 * 0.5 - 1 = 0: no displacement


def picture(rows):
    """A 9x9 picture with ones at ``rows`` (a list of (row, column))."""
    image = np.zeros(SHAPE, dtype=np.float32)
    for r, c in rows:
        image[r, c] = 1
    return image.reshape(1, -1)


def test_no_transform_is_the_identity_and_a_whole_pixel_shift_moves_the_picture():
    x = np.random.default_rng(0).random((5, 81), dtype=np.float32)
    assert np.array_equal(Augment(SHAPE)(x, np.random.default_rng(0)), x)
    shifted = Augment(SHAPE, translate=2)(picture([(4, 4)]), Draws(shift=(0.5, -1.0)))  # 0.5 * 2 = 1, -1 * 2 = -2
    # output pixel p reads the input at p + t: the one at (4, 4) is seen at (4 - 1, 4 + 2)
    assert np.argwhere(shifted.reshape(SHAPE) > 0.99).tolist() == [[3, 6]]


def test_a_quarter_turn_and_a_zoom():
    turned = Augment(SHAPE, rotate=90)(picture([(4, 8)]), Draws(rotate=1.0))  # +90 degrees
    # output (r, c) reads the input at R (r, c), centred: (4, 8) is (0, 4) from the centre, read at (4, 0) = (8, 4)
    assert np.argwhere(turned.reshape(SHAPE) > 0.99).tolist() == [[8, 4]]
    grown = Augment(SHAPE, scale=0.5)(picture([(4, 6)]), Draws(zoom=1.0))  # 1.5 times the size
    # output column 4 + d reads the input at 4 + d / 1.5: d = 3 reads the pixel at 6, d = 2 a third of it
    assert grown.reshape(SHAPE)[4, 7] == 1 and grown.reshape(SHAPE)[4, 6] == pytest.approx(1 / 3, abs=1e-6)


def test_elastic_distortion_moves_pixels_smoothly_and_keeps_the_picture_inside():
    rng = np.random.default_rng(0)
    x = np.zeros((3, 28 * 28), dtype=np.float32)
    x[:, 28 * 10 : 28 * 18] = 1  # a band across the middle
    out = Augment((28, 28), elastic_alpha=8, elastic_sigma=4)(x, rng)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert not np.array_equal(out, x) and out.min() >= 0 and out.max() <= 1 + 1e-6
    assert abs(out.sum() - x.sum()) / x.sum() < 0.1  # moved, not erased


@pytest.mark.parametrize(("params", "message"), [
    ({"image_shape": (28,)}, "image_shape must be [height, width], two integers >= 2, got (28,)"),
    ({"translate": 28}, "translate must be a number in [0, 28) (pixels, below the picture's size), got 28"),
    ({"rotate": -1}, "rotate must be a number in [0, 180] (degrees), got -1"),
    ({"rotate": 181}, "rotate must be a number in [0, 180] (degrees), got 181"),
    ({"scale": 1.0}, "scale must be a number in [0, 1) (a fraction of the size), got 1.0"),
    ({"shear": 90}, "shear must be a number in [0, 90) (degrees, below 90), got 90"),
    ({"elastic_alpha": -3}, "elastic_alpha must be a number in [0, inf) (pixels), got -3"),
    ({"elastic_sigma": 0}, "elastic_sigma must be a number in (0, 28) (pixels), got 0"),
    ({"rotate": True}, "rotate must be a number in [0, 180] (degrees), got True"),
])
def test_every_bound_is_one_line(params, message):
    with pytest.raises(ValueError) as caught:
        Augment(**{"image_shape": (28, 28)} | params)
    assert str(caught.value) == message


@pytest.mark.parametrize(("data", "message"), [
    ({"dataset": "mnist", "augment": {"rotat": 2}}, "unknown key 'rotat' in data.augment (did you mean 'rotate'?); "
                                                    "valid keys: translate, rotate, scale, shear, elastic"),
    ({"dataset": "mnist", "augment": {"elastic": {"sigma": 3}}}, "data.augment.elastic.alpha is required"),
    ({"dataset": "mnist", "augment": {"scale": 2}}, "data.augment: scale must be a number in [0, 1) (a fraction "
                                                    "of the size), got 2.0"),
    ({"dataset": "spirals", "augment": {"rotate": 2}}, "data.augment transforms pictures, but the rows of dataset "
                                                       "spirals are not known to be pictures; set data.image_shape: "
                                                       "[height, width]"),
    ({"dataset": "spirals", "image_shape": [2]}, "data.image_shape must be [height, width], two integers >= 2, "
                                                 "got [2]"),
])
def test_a_config_names_a_bad_augmentation(data, message):
    with pytest.raises(ConfigError) as caught:
        resolve({"data": data})
    assert str(caught.value) == message


def test_a_config_makes_the_augmentation_it_says():
    config = resolve({"data": {"dataset": "mnist", "augment": {"rotate": 10, "elastic": {"alpha": 34}}}})
    assert augmentation(config["data"]) == Augment((28, 28), rotate=10.0, elastic_alpha=34.0, elastic_sigma=4.0)
    csv = resolve({"data": {"dataset": "npz", "path": "x.npz", "image_shape": [8, 8], "augment": {"shear": 5}}})
    assert augmentation(csv["data"]).image_shape == (8, 8)
    assert augmentation(resolve({})["data"]) is None


# -- in fit ----------------------------------------------------------------------------------------------------------
RNG = np.random.default_rng(0)
X = RNG.random((240, 81), dtype=np.float32)
Y = (X[:, :40].sum(axis=1) > X[:, 41:].sum(axis=1)).astype(int)
AUGMENT = Augment(SHAPE, translate=1, rotate=10, scale=0.1, shear=5, elastic_alpha=2, elastic_sigma=2)


class Seen(Callback):
    """Records nothing but stops at ``(epoch, batch)`` with a KeyboardInterrupt, as Ctrl-C would."""

    def __init__(self, epoch=None, batch=None):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, state, logs):
        if (state.epoch, state.position.batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt


def train(folder=None, augment=AUGMENT, resume=None, stop=(None, None), communicator=None, epochs=3):
    model = Sequential([Dense(81, 16), ReLU(), Dense(16, 2)], seed=0)
    callbacks = [ModelCheckpoint(folder / "last.npz")] if folder is not None else []
    history = fit(model, SoftmaxCrossEntropy(), Adam(0.01), X, Y, epochs=epochs, batch_size=32, seed=4,
                  validation_split=0.2, verbose=0, augment=augment, resume=resume, communicator=communicator,
                  callbacks=[*callbacks, Seen(*stop)])
    return model, history


def test_augmented_training_is_reproducible_and_differs_from_plain_training():
    (a, history_a), (b, history_b), (plain, _) = train(), train(), train(augment=None)
    assert history_a["loss"] == history_b["loss"]
    for key, value in a.params.items():
        np.testing.assert_array_equal(b.params[key], value)
    assert not np.array_equal(a.params["0.W"], plain.params["0.W"])


@pytest.mark.parametrize(("epoch", "batch"), [(0, 3), (1, 1), (2, 5)])
def test_a_run_stopped_at_any_batch_resumes_exactly(tmp_path, epoch, batch):
    whole, history = train()
    train(tmp_path, stop=(epoch, batch))
    resumed, resumed_history = train(tmp_path, resume=tmp_path / "last.npz")
    for key, value in whole.params.items():
        np.testing.assert_array_equal(resumed.params[key], value)
    assert resumed_history["val_loss"] == history["val_loss"]


def test_micro_batches_see_the_same_pictures():
    # data-parallel training augments each batch before sharing it out: with micro-batches the pictures are the
    # ones a single process trains on, and the run agrees with it to float rounding (the sums' order differs)
    whole, history = train()
    parts, parallel_history = train(communicator=SingleProcess())
    np.testing.assert_allclose(parallel_history["loss"], history["loss"], rtol=1e-5)
    for key, value in whole.params.items():
        np.testing.assert_allclose(parts.params[key], value, rtol=1e-4, atol=1e-5)


def test_the_validation_rows_are_not_augmented():
    model, history = train(epochs=1)
    # the last 20% of the rows validate, as they are: the epoch's val_loss is the trained model's loss on them
    assert history["val_loss"][0] == evaluate(model, SoftmaxCrossEntropy(), X[192:], Y[192:])["loss"]


def test_rows_of_another_width_are_one_error():
    model = Sequential([Dense(64, 2)], seed=0)
    with pytest.raises(ValueError, match=r"^augment: pictures of 9x9 are rows of 81 values, but x has 64 columns; "
                                         r"give the pictures' \[height, width\]$"):
        fit(model, SoftmaxCrossEntropy(), Adam(), X[:, :64], Y, epochs=1, verbose=0, augment=AUGMENT)
