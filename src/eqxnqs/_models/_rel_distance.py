import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.nn.initializers import lecun_normal, ones, zeros
from jaxtyping import Array, Float, PRNGKeyArray

from .._geometry import box_from_hilbert, check_box, check_particle_count, sine_displacement
from .._typing import Initializer, RealArray, typechecked
from .._xla import computed_once, sin_cos
from ._activations import elementwise_derivatives
from ._deepset import apply_deepset
from ._features import phi_widths, rho_widths
from ._mlp import MLP, check_param_dtype
from ._pairwise import PairwiseLogAmplitude
from ._pooling import linear_pooling_weight, resolve_pooling

RHO_READOUTS = ("linear", "netket")

#: The keyword arguments that make a `DeepSetRelDistance` NetKet's model exactly
#: (its rho layers, its cusp parameter ``b``, its input ``(d/L)^2``), as the
#: Flax converters need: ``DeepSetRelDistance(box, n, **NETKET_LAYOUT, ...)``.
NETKET_LAYOUT = dict(rho_readout="netket", positive_cusp=False, input_scale=1.0)


class DeepSetRelDistance(PairwiseLogAmplitude):
    r"""DeepSets log-amplitude of N bosons in a periodic box (Pescia et al. 2022).

    For one configuration ``x`` of shape ``(n_particles * dim,)`` (NetKet's
    particle-major layout, ``x.reshape(n_particles, dim)``):

    .. math::

        d_{ij} = \tfrac{L}{2}\sin(\pi (x_i - x_j)/L), \quad
        y_{ij} = s\,(d_{ij}/L)^2, \quad
        \log\psi(x) = \rho\Big(\mathrm{pool}_{i<j}\,\phi(y_{ij})\Big)
                      - \tfrac12 \sum_{i<j} \frac{b}{|d_{ij}|^{k}}

    with ``s = input_scale``. The default, 4, makes ``y = sin^2(pi x / L)`` per
    axis, spanning [0, 1]; NetKet's ``s = 1`` leaves y in [0, 1/4], and when the box
    is much larger than the interaction range the relevant pairs all map to
    inputs near 0 and the network learns slowly or not at all (README,
    "Convergence"). The last (Kato cusp) term is present only when ``cusp_exponent=k``
    is set, with learnable ``b``. With ``positive_cusp=True`` (default) the
    ``cusp`` field (shape ``(1,)``) holds ``c`` with ``b = softplus(c) =
    log(1 + e^c)``, so ``b > 0`` always: a negative ``b`` makes psi grow
    without bound at contact, and VMC then collapses to E -> -inf. For
    ``b`` of a few units and more, ``b ~ c``, so SR steps are those of ``b``
    itself (``log b`` instead made the final energies of the convergence
    study worse). With ``positive_cusp=False`` the field holds ``b`` itself,
    as NetKet does. `cusp_strength` is ``b`` in either case.

    As in NetKet 3.23's `DeepSetRelDistance`, the hidden ``activation``
    follows *every* phi layer, including the last. rho depends on
    ``rho_readout``:

    - ``"linear"`` (default): rho is an MLP with the declared widths (ending
      in 1), ``activation`` after every layer but the last, whose output is
      log psi's network part (after ``output_activation``, if any).
    - ``"netket"``: the layers NetKet builds: every declared width, the final
      1 included, is followed by ``activation``, then one extra 1 -> 1 layer
      alone gets ``output_activation``. Its single activated unit can die: once
      its input is negative for every sample, gelu makes the whole network
      part constant and VMC stalls (README, "Convergence"). Parameters convert
      exactly to and from NetKet's Flax model only in this layout.
    """

    phi: MLP
    rho: MLP
    cusp: Float[Array, "1"] | None
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)
    layers_phi: int = eqx.field(static=True)
    features_phi: tuple[int, ...] = eqx.field(static=True)
    layers_rho: int = eqx.field(static=True)
    features_rho: tuple[int, ...] = eqx.field(static=True)
    cusp_exponent: int | None = eqx.field(static=True)
    param_dtype: str = eqx.field(static=True)
    activation: Callable | None = eqx.field(static=True)
    output_activation: Callable | None = eqx.field(static=True)
    pooling: Callable = eqx.field(static=True)
    use_bias: bool = eqx.field(static=True)
    rho_readout: str = eqx.field(static=True)
    positive_cusp: bool = eqx.field(static=True)
    input_scale: float = eqx.field(static=True)

    @typechecked
    def __init__(
        self,
        box: float | Sequence[float],
        n_particles: int,
        *,
        layers_phi: int,
        layers_rho: int,
        features_phi: int | Sequence[int],
        features_rho: int | Sequence[int],
        cusp_exponent: int | None = None,
        param_dtype=jnp.float64,
        activation: Callable | None = jax.nn.gelu,
        output_activation: Callable | None = None,
        pooling: str | Callable = jnp.sum,
        use_bias: bool = True,
        kernel_init: Initializer = lecun_normal(),
        bias_init: Initializer = zeros,
        params_init: Initializer = ones,
        readout_init: Initializer | None = None,
        rho_readout: str = "linear",
        positive_cusp: bool = True,
        input_scale: float = 4.0,
        key: PRNGKeyArray,
    ):
        """**Arguments:**

        - `box`: side lengths ``(L_1, ..., L_D)`` of the periodic box (a
          number for D = 1), in the same length unit as the coordinates.
        - `n_particles`: number of particles N (at least 2).
        - `layers_phi`, `features_phi`: number of phi layers and their widths
          (an int repeats; a sequence must have `layers_phi` entries).
        - `layers_rho`, `features_rho`: number of declared rho layers and
          their widths; an int ``f`` gives ``(f, ..., f, 1)``; a sequence must
          have `layers_rho` entries and end in 1.
        - `cusp_exponent`: exponent k of the Kato cusp term, or `None` for no
          cusp term (and no `cusp` parameter).
        - `param_dtype`: dtype of every parameter (float64 by default).
        - `activation`: hidden activation (gelu by default).
        - `output_activation`: applied to rho's output (`None` by default).
        - `pooling`: `jnp.sum` (default), `jnp.mean`, `"sum"`, `"mean"`, or any
          ``f(x, axis=...)``.
        - `use_bias`: whether every dense layer has a bias.
        - `kernel_init`, `bias_init`, `params_init`: `init(key, shape, dtype)`
          initialisers of the weights, biases and cusp parameter. (NetKet's
          model ignores its `bias_init` and always uses zeros; here it is used.)
        - `readout_init`: initialiser of the weight of rho's last layer;
          `None` uses `kernel_init`, as NetKet does. With
          `jax.nn.initializers.zeros` the network part starts as a constant,
          so log psi starts as the cusp term alone, the same for every seed
          (the command line's default; see the README on convergence).
        - `rho_readout`: ``"linear"`` (default) or ``"netket"``, the layout of
          rho described above; `eqxnqs.from_flax` builds ``"netket"``.
        - `positive_cusp`: store ``c = softplus^-1(b)`` (default, so
          ``b > 0``) or ``b`` (NetKet's parametrisation, needed by the Flax
          converters).
          `params_init` draws the initial ``b`` in both cases.
        - `input_scale`: the factor ``s`` of phi's input ``s (d/L)^2``
          (default 4: the input spans [0, 1]; NetKet: 1).
        - ``**NETKET_LAYOUT`` sets `rho_readout`, `positive_cusp` and
          `input_scale` to NetKet's model, which the Flax converters need.
        - `key`: a JAX PRNG key.
        """
        self.box = check_box(box)
        param_dtype = check_param_dtype(param_dtype)
        check_particle_count(n_particles)
        if cusp_exponent is not None and cusp_exponent <= 0:
            raise ValueError(
                f"cusp_exponent must be a positive integer or None; got {cusp_exponent}."
            )
        if rho_readout not in RHO_READOUTS:
            raise ValueError(f"rho_readout must be one of {RHO_READOUTS}; got {rho_readout!r}.")
        phi_w = phi_widths(features_phi, layers_phi)
        rho_w = rho_widths(features_rho, layers_rho)
        self.layers_phi, self.features_phi = layers_phi, phi_w
        self.layers_rho, self.features_rho = layers_rho, rho_w
        self.param_dtype = jnp.dtype(param_dtype).name
        self.activation, self.output_activation = activation, output_activation
        self.use_bias = use_bias
        if rho_readout == "netket":
            rho_w = (*rho_w, 1)  # NetKet appends a 1 -> 1 layer after the declared widths
        phi_key, rho_key, cusp_key = jax.random.split(key, 3)
        mlp_options = dict(
            activation=activation,
            use_bias=use_bias,
            kernel_init=kernel_init,
            bias_init=bias_init,
            dtype=param_dtype,
        )
        dim = len(self.box)
        self.phi = MLP(dim, phi_w, final_activation=activation, key=phi_key, **mlp_options)
        self.rho = MLP(
            phi_w[-1], rho_w, final_activation=output_activation, key=rho_key, **mlp_options
        )
        if readout_init is not None:
            readout = self.rho.layers[-1].weight
            self.rho = eqx.tree_at(
                lambda rho: rho.layers[-1].weight,
                self.rho,
                readout_init(jax.random.fold_in(rho_key, 1), readout.shape, param_dtype),
            )
        self.positive_cusp = positive_cusp
        if cusp_exponent is None:
            self.cusp = None
        else:
            strength = params_init(cusp_key, (1,), param_dtype)
            concrete = not isinstance(strength, jax.core.Tracer)  # eval_shape traces __init__
            if positive_cusp and concrete and not bool(jnp.all(strength > 0)):
                raise ValueError(
                    f"positive_cusp=True needs a positive initial cusp b; params_init gave "
                    f"{strength}."
                )
            # softplus^-1(b) = b + log(1 - e^-b), written to stay accurate for large b.
            self.cusp = strength + jnp.log(-jnp.expm1(-strength)) if positive_cusp else strength
        if not (
            isinstance(input_scale, (int, float)) and math.isfinite(input_scale) and input_scale > 0
        ):
            raise ValueError(f"input_scale must be a positive number; got {input_scale!r}.")
        self.input_scale = float(input_scale)
        self.n_particles = n_particles
        self.cusp_exponent = cusp_exponent
        self.pooling = resolve_pooling(pooling)
        self.rho_readout = rho_readout

    @classmethod
    def from_hilbert(cls, hilbert, **kwargs) -> "DeepSetRelDistance":
        """Build the model for a NetKet `Particle` Hilbert space in a periodic `Cell`.

        Takes the box and particle number from `hilbert`; every other keyword
        argument (including `key`) is passed to the constructor. A space that
        is not periodic in every direction is refused.
        """
        box, n_particles = box_from_hilbert(hilbert, what=cls.__name__)
        return cls(box, n_particles, **kwargs)

    @property
    def cusp_strength(self) -> Float[Array, ""] | None:
        """The cusp's ``b`` (``softplus(cusp[0])`` with `positive_cusp`), or `None`."""
        if self.cusp is None:
            return None
        return jax.nn.softplus(self.cusp[0]) if self.positive_cusp else self.cusp[0]

    def split_cusp(self):
        """``(McMillanJastrow, DeepSetRelDistance)`` whose sum is this model, the second
        without a cusp term (``(None, self)`` when there is none).

        The cusp ``-b / (2 |d|^k)`` with NetKet's ``|d|``, ``pi/2`` times the chord
        distance, is McMillan's factor with ``b_McMillan = b^(1/k) 2 / pi`` exactly.
        """
        from ._jastrow import McMillanJastrow

        if self.cusp is None:
            return None, self
        strength = float(self.cusp_strength)
        if not strength > 0:
            raise ValueError(f"only a positive cusp b is a McMillan factor; got b = {strength}.")
        factor = McMillanJastrow(
            self.box,
            self.n_particles,
            exponent=self.cusp_exponent,
            b=strength ** (1.0 / self.cusp_exponent) * 2.0 / math.pi,
        )
        hyper = {**self.hyperparameters(), "cusp_exponent": None}
        bare = DeepSetRelDistance(
            hyper.pop("box"), hyper.pop("n_particles"), **hyper, key=jax.random.key(0)
        )
        return factor, eqx.tree_at(lambda m: (m.phi, m.rho), bare, (self.phi, self.rho))

    @property
    def sums_pairs(self) -> bool:
        """Whether the pooling is linear (sum or mean), so that the fast routes apply."""
        return self._pooling_weight is not None

    @property
    def _pooling_weight(self) -> float | None:
        return linear_pooling_weight(self.pooling, self.n_pairs)

    @property
    def samples_per_step(self) -> int:
        """Samples `eqxnqs.KineticEnergy` vectorises at a time: a power of 2 near
        ``2^17 / (N^2 D)``, at most 256.

        A step's per-pair jets (``N^2 D / 2`` pairs and axes per sample, each
        as long as phi's width) then have about the same size at every N; the
        constant is the fastest measured (Results page, "Speed").
        """
        target = 2**17 // (self.n_particles**2 * self.dim)
        return max(1, min(256, 2 ** (target.bit_length() - 1) if target else 1))

    def hyperparameters(self) -> dict:
        """Every constructor argument but the initialisers and `key`, as given to it."""
        return dict(
            box=self.box,
            n_particles=self.n_particles,
            layers_phi=self.layers_phi,
            features_phi=self.features_phi,
            layers_rho=self.layers_rho,
            features_rho=self.features_rho,
            cusp_exponent=self.cusp_exponent,
            param_dtype=self.param_dtype,
            activation=self.activation,
            output_activation=self.output_activation,
            pooling=self.pooling,
            use_bias=self.use_bias,
            rho_readout=self.rho_readout,
            positive_cusp=self.positive_cusp,
            input_scale=self.input_scale,
        )

    def pair_terms(self, u: Float[Array, " dim"]) -> tuple[Float[Array, " F"], Float[Array, ""]]:
        """``phi(s (d/L)^2)`` and the cusp term ``-b / (2 |d|^k)`` (0 without cusp) of a pair."""
        return self.phi(self._phi_input(u)), self._cusp_term(u)

    def _squares(self, u: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """``d_a^2`` per axis (``d`` the sine displacement): each axis on its own.

        Not `computed_once`: in a single-particle move the product with the
        identity costs more than the sines it saves (Results page, "Speed");
        the kinetic energy's route, `_squares_jets`, is.
        """
        return sine_displacement(u, jnp.asarray(self.box, dtype=u.dtype)) ** 2

    def _squares_jets(self, u: Float[Array, " dim"]):
        """`_squares` and its first and second derivatives along each axis, shape ``(dim,)`` each.

        From one `sin_cos` per axis, `computed_once` (sine and cosine in one
        loop); autodiff of `_squares` would evaluate them again for each
        derivative (the same numbers, tested).
        """
        box = jnp.asarray(self.box, dtype=u.dtype)
        phase = jnp.pi * u / box
        sine, cosine = jnp.split(computed_once(jnp.concatenate(sin_cos(phase))), 2)
        # d = (L/2) sin(phase), d' = (pi/2) cos(phase), d'' = -(pi^2 / 2L) sin(phase).
        d, slope = box / 2.0 * sine, jnp.pi / 2.0 * cosine
        curvature = -(jnp.pi**2) / (2.0 * box) * sine
        return d**2, 2.0 * d * slope, 2.0 * (slope**2 + d * curvature)

    def _phi_input(self, u: Float[Array, " dim"]) -> Float[Array, " dim"]:
        """``s (d/L)^2`` per axis: each axis on its own."""
        return self.input_scale * self._squares(u) / jnp.asarray(self.box, dtype=u.dtype) ** 2

    def _cusp_of_square(self, square: Float[Array, ""]) -> Float[Array, ""]:
        """The cusp term ``-b / (2 |d|^k)`` as a function of ``|d|^2``."""
        return -0.5 * self.cusp_strength * square ** (-0.5 * self.cusp_exponent)

    def _cusp_term(self, u: Float[Array, " dim"]) -> Float[Array, ""]:
        if self.cusp is None:
            return jnp.zeros((), u.dtype)
        return self._cusp_of_square(jnp.sum(self._squares(u)))

    def pair_jets(self, u: Float[Array, " dim"]):
        """`pair_terms` and its derivatives along each axis, in Taylor mode.

        Both terms are built from ``d_a^2``, which depends on axis ``a`` of
        ``u`` alone, so its derivatives along the axes are diagonal:
        `MLP.jets` carries value, first and second derivatives through phi's
        layers at once (the activations' derivatives once per unit), and the
        cusp is a function of ``|d|^2``, differentiated once by the chain
        rule. The same numbers as the generic forward-over-forward route
        (tested), at a fraction of its cost.
        """
        return self._taylor_jets(u, None)

    def pair_laplacian_jets(self, u: Float[Array, " dim"], metric: Float[Array, " dim"]):
        """As `pair_jets`, but phi's second derivatives are carried as their one weighted
        sum over the axes (`MLP.laplacian_jets`, a forward Laplacian): the kinetic
        energy's route."""
        return self._taylor_jets(u, metric)

    def _taylor_jets(self, u, metric):
        """`pair_jets` (``metric`` None) or `pair_laplacian_jets`."""
        squares, slope, curvature = self._squares_jets(u)
        scale = self.input_scale / jnp.asarray(self.box, dtype=u.dtype) ** 2
        if metric is None:
            features = self.phi.jets(scale * squares, scale * slope, scale * curvature)
        else:
            features = self.phi.laplacian_jets(
                scale * squares, scale * slope, metric * scale * curvature, metric
            )
        if features is None:  # an activation that is not elementwise
            if metric is None:
                return super().pair_jets(u)
            return super().pair_laplacian_jets(u, metric)
        if self.cusp is None:
            zero = jnp.zeros((), u.dtype)
            cusp = (zero, jnp.zeros_like(u), jnp.zeros_like(u))
        else:
            value, g1, g2 = elementwise_derivatives(self._cusp_of_square, jnp.sum(squares))
            cusp = (value, g1 * slope, g2 * slope**2 + g1 * curvature)
        if metric is not None:
            cusp = (cusp[0], cusp[1], metric @ cusp[2])
        return tuple((f, c) for f, c in zip(features, cusp))

    def readout(self, pair_sum: tuple[Float[Array, " F"], Float[Array, ""]]) -> Float[Array, ""]:
        """``rho(c sum_pairs phi) + sum_pairs cusp``, with ``c`` 1 (sum) or ``1/n_pairs`` (mean)."""
        features, cusp = pair_sum
        return self.rho(self._pooling_weight * features)[0] + cusp

    @typechecked
    def __call__(self, x: Float[RealArray, " n_dof"]) -> Float[Array, ""]:
        """``log psi`` of one configuration ``x`` of shape ``(n_particles * dim,)``.

        The same as `readout` of the pair sum, but pooled with `pooling`
        itself, so that any pooling (not only a linear one) works here.
        """
        self.check_configuration(x)
        features, cusp = jax.vmap(self.pair_terms)(self.pair_displacements(jnp.asarray(x)))
        return apply_deepset(None, self.rho, self.pooling, features) + jnp.sum(cusp)
