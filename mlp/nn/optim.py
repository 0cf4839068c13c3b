"""Optimizers: update every parameter in place from its gradient, through ``params`` / ``grads``.

``optimizer.step(model.params, model.grads)`` updates each array of ``params`` in place from the
array of ``grads`` with the same key. Each optimizer is registered in ``OPTIMIZERS`` under the name
configs and model files use (``"sgd"``); its constructor's arguments are its config keys. Everything here
is per-parameter and layer-agnostic:

- L2 weight decay adds ``weight_decay * W`` to the gradient of every weight matrix (``ndim >= 2``),
  i.e. it minimises ``L + (weight_decay / 2) ||W||^2``; biases are left alone unless ``decay_bias``.
- ``max_norm = c`` rescales each unit's incoming weight vector (a column of ``W: (in, out)``) to
  norm at most ``c`` after every step (Srivastava et al. 2014).
- The per-parameter slots (velocity, moments) and the step count are in ``state_dict()`` and come
  back with ``load_state_dict()``, so training resumes exactly.
- The built-in rules are elementwise, so parameters smaller than ``PACK_SIZE`` are updated together, as one array
  (``Optimizer.packs``): a small network's step makes a dozen NumPy calls instead of a dozen per parameter.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlp.native.blas import MIN_SIZE, axpy
from mlp.registry import Registry

# The names configs and model files use; each optimizer registers itself below.
OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")

# Parameters below this many elements are updated together, in groups below it: ``add_scaled`` takes NumPy's path
# for them either way, so packed or not, every element gets the same arithmetic.
PACK_SIZE = MIN_SIZE

# What ``update`` is called with: one parameter's name, or the names of a group of small ones updated as one array.
Key = str | tuple[str, ...]

def add_scaled(target: np.ndarray, scale: float, array: np.ndarray) -> None:
    """``target += scale * array``, in place: the step every update rule is made of.

    Large contiguous float arrays go through BLAS ``axpy`` (``mlp.native.blas``): one pass over memory on every
    core, where NumPy makes two passes on one. The result is NumPy's, up to a fused multiply-add's last bit.
    """
    axpy(scale, array, target)


class Optimizer:
    """Base class. Subclasses implement ``update(name, w, g)``: one in-place step for one parameter.

    Writing an optimizer: register it (``@OPTIMIZERS.register("name")``), give its hyperparameters as
    constructor arguments with defaults and types (they become its config keys), keep per-parameter arrays in
    ``slots`` (they are saved in checkpoints), and write ``update`` as the formula reads:

    - add a scaled array with ``add_scaled(w, -self.lr, g)``;
    - decay state with NumPy's in-place operators (``v *= mu``), never with ``add_scaled``: BLAS runs long
      ``axpy`` calls on worker threads that ignore the flush-to-zero flags ``fit`` sets (``mlp.native.fpenv``),
      and a geometric decay is exactly what walks values into the slow denormal range;
    - if the rule is elementwise and uses ``name`` only to find its slots, set ``packs = True``: ``update`` is then
      also called with a tuple of names and the small parameters they name, raveled and joined into one array,
      whose slots ``_slot`` gives joined the same way.

    Args:
        lr: learning rate; ``initial_lr`` keeps it, ``lr`` is the current one (schedules change it).
        weight_decay: L2 coefficient ``lambda``: the gradient of weight matrices gets ``+ lambda W``.
        decay_bias: also decay biases (1-D parameters).
        max_norm: if set, cap the L2 norm of each unit's incoming weight vector at this value.
    """

    slots: tuple[str, ...] = ()
    packs = False

    def __init__(
        self, lr: float, weight_decay: float = 0.0, decay_bias: bool = False, max_norm: float | None = None
    ) -> None:
        _check_positive("lr", lr)
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        if max_norm is not None:
            _check_positive("max_norm", max_norm)
        self.lr = self.initial_lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.decay_bias = decay_bias
        self.max_norm = max_norm
        self.iterations = 0
        self.state: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.slots}
        # how params are grouped, for the params' (name, shape, dtype) it was worked out for
        self._layout: tuple[tuple[str, tuple[int, ...], np.dtype], ...] = ()
        self._groups: list[Key] = []
        self._packed: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}  # (slot, group): the group's joined slot

    @property
    def learning_rate(self) -> float:
        """The current learning rate ``lr``, under Keras' and scikit-learn's name."""
        return self.lr

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every ``params[name]`` in place from ``grads[name]``."""
        self.iterations += 1
        for key in self._grouped(params):
            if isinstance(key, str):
                self.update(key, params[key], self._gradient(params[key], grads[key]))
                continue
            members = [params[name] for name in key]
            w = np.concatenate([p.ravel() for p in members])
            g = np.concatenate([self._gradient(params[name], grads[name]).ravel() for name in key])
            self.update(key, w, g)
            offset = 0
            for p in members:
                p[...] = w[offset : offset + p.size].reshape(p.shape)
                offset += p.size
        if self.max_norm is not None:
            for w in params.values():
                if w.ndim == 2:
                    norms = np.sqrt(np.einsum("ij,ij->j", w, w))
                    w *= np.minimum(1, self.max_norm / np.maximum(norms, 1e-12))

    def update(self, name: Key, w: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def _gradient(self, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The gradient the rule follows: ``g + lambda W`` for the decayed parameters, ``g`` for the others."""
        return g + self.weight_decay * w if self.weight_decay and (w.ndim >= 2 or self.decay_bias) else g

    def _grouped(self, params: dict[str, np.ndarray]) -> list[Key]:
        """The keys ``step`` updates ``params`` by, in order: a name, or a tuple of the names of consecutive small
        parameters of one dtype (fewer than ``PACK_SIZE`` elements together), where the rule ``packs``."""
        layout = tuple((name, w.shape, w.dtype) for name, w in params.items())
        if layout == self._layout:
            return self._groups
        groups: list[list[str]] = []
        total = 0
        for name, shape, dtype in layout:
            size = math.prod(shape)
            if self.packs and groups and total + size < PACK_SIZE and params[groups[-1][-1]].dtype == dtype:
                groups[-1].append(name)
                total += size
            else:
                groups.append([name])
                total = size
        self._layout = layout
        self._groups = [names[0] if len(names) == 1 else tuple(names) for names in groups]
        return self._groups

    def _slot(self, slot: str, name: Key, like: np.ndarray) -> np.ndarray:
        """The state array ``slot`` for parameter ``name`` (zeros the first time); for a group of names, the joined
        array whose parts are the state arrays of its parameters (``state[slot][name]`` is a view of its part)."""
        store = self.state[slot]
        if isinstance(name, str):
            if name not in store:
                store[name] = np.zeros_like(like)
            return store[name]
        joined = self._packed.get((slot, name))
        if joined is not None and all(name_ in store and store[name_].base is joined for name_ in name):
            return joined
        joined = np.zeros_like(like)
        offset = 0
        for name_, (shape, size) in zip(name, self._member_shapes(name), strict=True):
            part = joined[offset : offset + size].reshape(shape)
            if name_ in store:  # from load_state_dict, or before the parameters were grouped so
                part[...] = store[name_]
            store[name_] = part
            offset += size
        self._packed[(slot, name)] = joined
        return joined

    def _member_shapes(self, group: tuple[str, ...]) -> list[tuple[tuple[int, ...], int]]:
        shapes = {name: shape for name, shape, _ in self._layout}
        return [(shapes[name], math.prod(shapes[name])) for name in group]

    # -- configuration and state ------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable); ``lr`` is the initial one, ``optimizer.lr`` the current."""
        return {"lr": self.initial_lr, "weight_decay": self.weight_decay, "decay_bias": self.decay_bias,
                "max_norm": self.max_norm}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Step count, current lr and slot arrays as a flat ``{key: array}`` dict (``"<slot>/<param>"``)."""
        state = {"iterations": np.array(self.iterations), "lr": np.array(self.lr)}
        for slot, arrays in self.state.items():
            state |= {f"{slot}/{name}": a for name, a in arrays.items()}
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``state_dict`` returned (arrays are copied)."""
        self.iterations = int(state["iterations"])
        self.lr = float(state["lr"])
        self.state = {slot: {} for slot in self.slots}
        self._packed = {}
        for key, value in state.items():
            slot, _, name = key.partition("/")
            if name:
                if slot not in self.state:
                    raise ValueError(f"{type(self).__name__} has no state slot {slot!r} (state of another optimizer?)")
                self.state[slot][name] = np.array(value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")


def _normalized(m: np.ndarray, s: np.ndarray, eps: float) -> np.ndarray:
    """``m / (sqrt(s) + eps)``, elementwise, with one temporary array: the step direction of Adam and RMSprop."""
    direction = np.sqrt(s)
    direction += eps
    return np.divide(m, direction, out=direction)


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """Mini-batch stochastic gradient descent, optionally with (Nesterov) momentum.

    - plain (``momentum=0``): ``w <- w - lr g``;
    - momentum ``mu``: ``v <- mu v - lr g``, ``w <- w + v`` (the velocity form; ``v`` starts at 0);
    - Nesterov: ``v <- mu v - lr g``, ``w <- w + mu v - lr g`` (Sutskever et al. 2013, as in Keras).

    Default lr 0.01, as Keras' ``optimizer='sgd'``.
    """

    slots = ("velocity",)
    packs = True

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs: Any) -> None:
        super().__init__(lr, **kwargs)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0 (e.g. momentum=0.9)")
        self.momentum = float(momentum)
        self.nesterov = nesterov

    def update(self, name: Key, w: np.ndarray, g: np.ndarray) -> None:
        if self.momentum == 0:
            add_scaled(w, -self.lr, g)  # w <- w - lr g
            return
        v = self._slot("velocity", name, w)
        v *= self.momentum
        add_scaled(v, -self.lr, g)  # v <- mu v - lr g
        if self.nesterov:
            add_scaled(w, self.momentum, v)  # w <- w + mu v - lr g
            add_scaled(w, -self.lr, g)
        else:
            add_scaled(w, 1.0, v)  # w <- w + v

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"momentum": self.momentum, "nesterov": self.nesterov}


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): per-parameter steps from running moments of the gradient.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``, and with the bias corrections
    ``m^ = m / (1 - b1^t)``, ``v^ = v / (1 - b2^t)``: ``w <- w - lr m^ / (sqrt(v^) + eps)``.
    ``weight_decay`` is L2 (added to ``g``), as in ``torch.optim.Adam``.
    """

    slots = ("m", "v")
    packs = True

    def __init__(
        self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, **kwargs: Any
    ) -> None:
        super().__init__(lr, **kwargs)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{name} must be in [0, 1), got {beta}")
        _check_positive("eps", eps)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def update(self, name: Key, w: np.ndarray, g: np.ndarray) -> None:
        m, v = self._slot("m", name, w), self._slot("v", name, w)
        m *= self.beta1
        add_scaled(m, 1 - self.beta1, g)
        v *= self.beta2
        add_scaled(v, 1 - self.beta2, g * g)
        # Both corrections folded into one scalar step size (the paper's section 2); math.sqrt keeps
        # it a Python float, which does not upcast float32 arrays as a NumPy float64 scalar would.
        t = self.iterations
        step = self.lr * math.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        eps_hat = self.eps * math.sqrt(1 - self.beta2**t)
        add_scaled(w, -step, _normalized(m, v, eps_hat))

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


@OPTIMIZERS.register("rmsprop")
class RMSprop(Optimizer):
    """RMSprop (Hinton 2012): ``s <- rho s + (1 - rho) g^2``, ``w <- w - lr g / (sqrt(s) + eps)``."""

    slots = ("square_avg",)
    packs = True

    def __init__(self, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-8, **kwargs: Any) -> None:
        super().__init__(lr, **kwargs)
        if not 0 <= rho < 1:
            raise ValueError(f"rho must be in [0, 1), got {rho}")
        _check_positive("eps", eps)
        self.rho, self.eps = float(rho), float(eps)

    def update(self, name: Key, w: np.ndarray, g: np.ndarray) -> None:
        s = self._slot("square_avg", name, w)
        s *= self.rho
        add_scaled(s, 1 - self.rho, g * g)
        add_scaled(w, -self.lr, _normalized(g, s, self.eps))

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"rho": self.rho, "eps": self.eps}


def optimizer_from_config(name: str, config: dict[str, Any]) -> Optimizer:
    """Rebuild an optimizer from its registered name (or, from files of earlier versions, its class name)
    and ``get_config()``."""
    return OPTIMIZERS.find(name)(**config)
