"""Underdamped constrained Langevin dynamics (CoLA-ud): tangent momentum."""

import math

import keras
from keras import ops

from keras_constrained._validation import check_choice
from keras_constrained._validation import check_non_negative
from keras_constrained._validation import check_positive
from keras_constrained._validation import check_real
from keras_constrained.optimizers._docs import fill_keyword_args
from keras_constrained.optimizers.constrained_langevin import (
    ConstrainedLangevin,
)

SCHEMES = ("BAOAB", "OBA")


@keras.saving.register_keras_serializable(package="keras_constrained")
class UnderdampedLangevin(ConstrainedLangevin):
    """Constrained underdamped Langevin; `learning_rate` is the time step h.

    `learning_rate=h` is not SGD's rate, which is about `h**2`: at
    temperature 0 without constraints this is
    `SGD(h**2 * (1 + mu) / 2, momentum=mu)` (BAOAB, the default scheme),
    `mu = exp(-friction * h)`, so an SGD- or Adam-sized `1e-3` barely
    moves. To translate SGD settings, use
    `UnderdampedLangevin.from_sgd(learning_rate, momentum)`.

    Each variable `w` carries a momentum `p`, tangent to its constraint's set
    (RATTLE). With step `h = learning_rate`, friction `gamma`, temperature
    `T`, `c = exp(-gamma * h)` and `tangent`, `move` the variable's
    constraint geometry, one step of `scheme="BAOAB"` (the default) is

    ```python
    p = tangent(w, p - h * gradient)                      # B, fresh gradient
    w, p = move(w, p, h / 2)                              # A
    p = tangent(w, c * p + sqrt(T * (1 - c**2)) * noise)  # O, exact
    w, p = move(w, p, h / 2)                              # A
    ```

    Consecutive half kicks of BAOAB are merged into one `B(h)` evaluated
    with the gradient at the current weights, so each step needs one
    gradient; positions are those of BAOAB started from
    `p = -h/2 * gradient`. `scheme="OBA"` is the cheaper ordering of the
    authors' orthogonality code (one position step per step, first order):

    ```python
    p = tangent(w, c * p + sqrt(T * (1 - c**2)) * noise)  # O
    p = tangent(w, p - h * gradient)                      # B
    w, p = move(w, p, h)                                  # A
    ```

    `move` is the constraint's position step: exact rotation for
    `MagnitudeBound` (the "circle" constraint, with its auxiliary coordinate
    held by the optimizer) and `Sphere`, SHAKE landing with a RATTLE
    velocity for `Orthogonal`. Variables without a manifold constraint get
    plain underdamped Langevin. Momenta start at zero.

    **Mapping to SGD with momentum.** At `temperature=0` and without
    constraints this is exactly `keras.optimizers.SGD(lr, momentum=mu)` with
    `mu = exp(-gamma * h)` and `lr = h**2 * (1 + mu) / 2` for BAOAB
    (`lr = h**2` for OBA); SGD's velocity is `h * (1 + mu) / 2 * p` (BAOAB)
    or `h * p` (OBA). `from_sgd` inverts this mapping. The paper's
    Fashion-MNIST settings `h = 0.3, gamma = 1` are
    `learning_rate=0.3, friction=1.0` (SGD `momentum=0.741, lr=0.078`).

    At `temperature > 0` it samples (as `h -> 0`) the density proportional
    to `exp(-loss / temperature)` on the constraint set; BAOAB's position
    marginal is exact for Gaussian targets at any stable `h`.

    **The thermostat** (`thermostat_mass`, SGNHT: Ding et al. 2014).
    Mini-batch gradients add noise of their own, which heats the dynamics
    above `temperature` by an amount that grows with `h` and the gradients'
    variance and is unknown. With `thermostat_mass=mu`, each variable's
    friction becomes a dynamic variable `xi` (a Nose-Hoover thermostat,
    one per variable, starting at `friction`) driven by its momentum's
    kinetic energy per degree of freedom of its set,

    ```python
    d xi / dt = (sum(p**2) / (dimension * T) - 1) / mu
    ```

    so `xi` grows while the variable runs hotter than `T` and shrinks while
    it runs colder, until the extra friction absorbs the gradient noise.
    `friction` then sets only the injected noise (variance
    `2 * friction * T` per unit time); `mu` is the thermostat's response
    time (smaller reacts faster; `xi` fluctuates with variance
    `1 / (mu * dimension)`). `dimension` is the manifold's
    (`constraint.dimension(shape)`: `nk - k(k+1)/2` for `Orthogonal`, one
    less per unit for `Sphere`, the mask's ones for `SparsityMask`). The
    steps are Leimkuhler and Shang's BADODAB: `xi` moves by half steps
    before and after O (`D`), and O damps by `exp(-xi * h)`; with
    `scheme="OBA"` the same DOD replaces O. At a scheduled temperature of
    0 (the exploration phases of `CyclicalTemperature`) `xi` is held and O
    only damps by `exp(-xi * h)`; at a float temperature of 0 no noise is
    drawn and the thermostat is off (constant `friction`).

    A step whose gradient for a variable holds inf or NaN leaves that
    variable and its state unchanged (`iterations` counts the batch all
    the same, as in `DSGD` and Keras' optimizers, and at `temperature > 0`
    the batch's noise is drawn). Decoupled `weight_decay` applies only
    to variables without a manifold constraint.

    With `use_ema=True`, the weights that Keras overwrites with their
    moving averages are projected onto their sets (an average of points of
    `Orthogonal` or `Sphere` lies off them), as in `OverdampedLangevin`.

    `learning_rate` is read at every step: callbacks that set it
    (`LearningRateScheduler`, `ReduceLROnPlateau`) change `h` from the next
    step on, and with it the damping `exp(-friction * h)`. SGD's
    equivalent learning rate is about `h**2`: `ReduceLROnPlateau(factor=0.5)`
    quarters it.

    Under torch, the step of a variable of at least `2**18` weights whose
    constraint has a closed-form step (all but `Orthogonal`) is compiled by
    `torch.compile` into one loop writing in place: the first step of each
    shape takes seconds to compile (torch caches the result on disk).

    Args:
        learning_rate: float, schedule or callable: the time step `h`
            (SGD's learning rate is about `h**2`, see `from_sgd`).
        friction: float >= 0 or `math.inf`, the friction `gamma` (per unit
            time). At `math.inf` the momentum is redrawn every step (with
            BAOAB, the Leimkuhler-Matthews limit method).
        {{langevin_temperature_arg}}
        scheme: `"BAOAB"` or `"OBA"`, the splitting (see above).
        thermostat_mass: None (the friction is constant) or a float > 0,
            the mass `mu` of the SGNHT thermostat that adapts each
            variable's friction to the temperature (see above); needs a
            finite `friction`.
        {{langevin_seed_and_keyword_args}}

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(
            3, kernel_initializer=keras.initializers.RandomUniform(-0.1, 0.1),
            kernel_constraint=keras_constrained.constraints.MagnitudeBound(
                0.1))])
    model.compile(
        optimizer=keras_constrained.optimizers.UnderdampedLangevin(
            0.3, friction=1.0, temperature=0.0),
        loss="mse")
    model.fit(numpy.ones((32, 4)), numpy.zeros((32, 3)), verbose=0)
    ```

    Example:

    ```python
    # The steps of keras.optimizers.SGD(0.01, momentum=0.9):
    optimizer = keras_constrained.optimizers.UnderdampedLangevin.from_sgd(
        0.01, momentum=0.9)
    float(optimizer.learning_rate), optimizer.friction  # 0.1026, 1.027
    ```

    Example:

    ```python
    # Posterior samples from mini-batches, the thermostat absorbing their
    # gradients' noise; each variable's friction is its "thermostat" slot
    # plus `friction`.
    x = numpy.random.default_rng(0).normal(size=(256, 4))
    y = x @ numpy.ones((4, 1))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    sampler = keras_constrained.optimizers.UnderdampedLangevin(
        0.05, temperature=keras_constrained.optimizers.posterior_temperature(
            len(x)), thermostat_mass=1.0, seed=0)
    model.compile(optimizer=sampler, loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    kernel = model.layers[0].kernel
    1.0 + sampler.variable_state(kernel).slots["thermostat"].numpy()
    ```

    References:
        Leimkuhler, Vlaar, Pouchon, Storkey. Better training using
        weight-constrained stochastic dynamics. ICML 2021, arXiv:2106.10704.
        Ding, Fang, Babbush, Chen, Skeel, Neven. Bayesian sampling using
        stochastic gradient thermostats. NeurIPS 2014.
        Leimkuhler, Shang. Adaptive thermostats for noisy gradient
        systems. SIAM J. Sci. Comput. 38(2), 2016, arXiv:1505.06889.
    """

    def __init__(self, learning_rate=0.1, friction=1.0, temperature=0.0,
                 scheme="BAOAB", thermostat_mass=None, seed=None,
                 name="underdamped_langevin", **kwargs):
        super().__init__(learning_rate=learning_rate, temperature=temperature,
                         seed=seed, name=name, **kwargs)
        self.friction = check_real("friction", friction, 0, allow_inf=True)
        self.scheme = check_choice("scheme", scheme, SCHEMES)
        self.thermostat_mass = check_positive("thermostat_mass",
                                              thermostat_mass, optional=True)
        if self.thermostat_mass is not None and self.friction == math.inf:
            raise ValueError(
                "`friction` must be finite with a thermostat "
                "(`thermostat_mass`): infinite friction redraws the momentum "
                "every step, leaving the thermostat nothing to adapt; "
                f"received friction={friction!r}.")
        # The thermostat's variable: xi - friction per model variable.
        self.slot_names = ("momentum",) + (
            () if self.thermostat_mass is None else ("thermostat",))

    def slot_shape(self, name, variable):
        return () if name == "thermostat" else variable.shape

    @classmethod
    def from_sgd(cls, learning_rate, momentum=0.0, temperature=0.0,
                 scheme="BAOAB", **kwargs):
        """The optimizer that takes the steps of `keras.optimizers.SGD`.

        At `temperature=0` on variables without a manifold constraint,
        `UnderdampedLangevin.from_sgd(lr, momentum=mu, ...)` takes exactly
        the steps of `keras.optimizers.SGD(lr, momentum=mu, ...)` (Keras'
        convention: `v = mu * v - lr * gradient; w = w + v`), for either
        scheme. It is `UnderdampedLangevin(h, friction=-log(mu) / h, ...)`
        with the time step `h = sqrt(2 * lr / (1 + mu))` for BAOAB and
        `h = sqrt(lr)` for OBA (BAOAB's kick is followed by only half a
        drift before the damping; see the class docstring). `mu = 0` gives
        `friction=math.inf`. A decoupled `weight_decay` is multiplied by
        `lr / h`, since Keras scales it by the learning rate. At
        `temperature > 0` the same `h` and friction sample
        `exp(-loss / temperature)` (see `posterior_temperature`). Nesterov
        momentum and learning-rate schedules have no equivalent here (the
        friction is tied to `h`).

        The result is an ordinary `UnderdampedLangevin`: its `get_config()`
        holds `h` and the friction.

        Args:
            learning_rate: float > 0, SGD's learning rate.
            momentum: float in `[0, 1)`, SGD's momentum (`1` would be no
                friction, and so no thermostat).
            temperature: float >= 0, as in the constructor.
            scheme: `"BAOAB"` or `"OBA"`, as in the constructor.
            **kwargs: the constructor's other arguments (`seed`,
                `clipnorm`, `weight_decay`, `name`, ...).

        Example:

        ```python
        optimizer = keras_constrained.optimizers.UnderdampedLangevin.from_sgd(
            0.05, momentum=0.9, temperature=1e-4, seed=0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(numpy.ones((32, 4)), numpy.zeros((32, 3)), verbose=0)
        ```
        """
        learning_rate = check_positive("learning_rate", learning_rate)
        momentum = check_real("momentum", momentum, 0, 1,
                              exclusive_maximum=True)
        if scheme == "OBA":
            h = math.sqrt(learning_rate)
        else:
            h = math.sqrt(2.0 * learning_rate / (1.0 + momentum))
        friction = -math.log(momentum) / h if momentum > 0 else math.inf
        weight_decay = kwargs.get("weight_decay")
        if weight_decay is not None:
            weight_decay = check_non_negative("weight_decay", weight_decay)
            kwargs["weight_decay"] = weight_decay * learning_rate / h
        return cls(h, friction=friction, temperature=temperature,
                   scheme=scheme, **kwargs)

    def _damping(self, h):
        """`c = exp(-friction * h)`, the momentum kept over a step (0 at
        infinite friction, where `-friction * h` would be NaN at `h = 0`)."""
        if self.friction == math.inf:
            return ops.zeros_like(h)
        return ops.exp(-self.friction * h)

    def _damp(self, geometry, q, p, h, noise, temperature=None):
        """The O step: exact Ornstein-Uhlenbeck update of the momentum."""
        c = self._damping(h)
        if noise is None:
            return c * p  # a multiple of a tangent vector stays tangent
        temperature = self._current_temperature(temperature)
        kick = ops.sqrt(temperature * (1.0 - c * c))
        return geometry.tangent(q, c * p + kick * noise)

    def _thermostatted_damp(self, geometry, q, p, xi, h, noise,
                            temperature=None):
        """D(h/2) O D(h/2) (BADODAB's middle): the friction `xi` follows
        the kinetic energy, and O damps by `exp(-xi h)` with the noise of
        `friction` (variance `2 friction T` per unit time)."""
        temperature = self._current_temperature(temperature)
        dofs = geometry.dimension(p.shape)
        # A float temperature is > 0 here (no noise is drawn at 0); a
        # scheduled one may reach 0, where xi is held.
        scheduled = not isinstance(temperature, float)
        hot = temperature > 0 if scheduled else None

        def drive(xi, p):
            # d xi / dt = (p.p / (n T) - 1) / mass.
            t = ops.where(hot, temperature, 1.0) if scheduled else temperature
            kinetic = ops.sum(ops.square(p)) / (dofs * t)
            change = 0.5 * h * (kinetic - 1.0) / self.thermostat_mass
            return xi + (ops.where(hot, change, 0.0) if scheduled else change)

        xi = drive(xi, p)
        # Over a step O keeps exp(-xi h) of p and adds the variance
        # friction * T * (1 - exp(-2 xi h)) / xi = 2 friction T h phi(2 xi h),
        # phi(x) = (1 - exp(-x)) / x (1 at x = 0; xi may be 0 or negative).
        x = 2.0 * h * xi
        small = ops.abs(x) < 1e-4
        safe = ops.where(small, 1.0, x)
        phi = ops.where(small, 1.0 - 0.5 * x, -ops.expm1(-safe) / safe)
        kick = ops.sqrt(2.0 * self.friction * temperature * h * phi)
        p = geometry.tangent(q, ops.exp(-h * xi) * p + kick * noise)
        return p, drive(xi, p)

    def integrate(self, geometry, q, slots, gradient, h, noise=None,
                  temperature=None):
        p = slots["momentum"]
        new = dict(slots)

        def damp(q, p):
            """O; with the thermostat D O D, which also writes its `xi`."""
            if "thermostat" not in slots or noise is None:
                return self._damp(geometry, q, p, h, noise, temperature)
            p, xi = self._thermostatted_damp(
                geometry, q, p, self.friction + slots["thermostat"], h,
                noise, temperature)
            new["thermostat"] = xi - self.friction
            return p

        if self.scheme == "OBA":
            p = damp(q, p)
            p = geometry.tangent(q, p - h * gradient)
            q, new["momentum"] = geometry.move(q, p, h)
            return q, new
        p = geometry.tangent(q, p - h * gradient)
        if noise is None and geometry.exact_flow:
            # Without noise O only scales p by c, and along an exact flow
            # A(h/2) O A(h/2) is one move of time h (1 + c) / 2: one pass
            # over the weights fewer.
            c = self._damping(h)
            q, p = geometry.move(q, p, 0.5 * h * (1.0 + c))
            new["momentum"] = c * p
            return q, new
        q, p = geometry.move(q, p, 0.5 * h)
        p = damp(q, p)
        q, new["momentum"] = geometry.move(q, p, 0.5 * h)
        return q, new

    def get_config(self):
        config = super().get_config()
        config.update({"friction": self.friction, "scheme": self.scheme,
                       "thermostat_mass": self.thermostat_mass})
        return config


fill_keyword_args(UnderdampedLangevin)
