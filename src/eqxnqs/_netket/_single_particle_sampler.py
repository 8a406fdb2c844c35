r"""Single-particle Metropolis moves, with O(N) updates of pairwise log-amplitudes.

NetKet's `MetropolisGaussian` moves every coordinate at once, so every
proposal costs a whole forward pass (O(N^2) pair terms) and a sample
(``sweep_size = n_dof`` proposals) costs ``n_dof`` forward passes. For a
`PairwiseLogAmplitude` ``log psi = R(S)``, ``S = sum_{i<j} t(x_i - x_j)``
(`eqxnqs.DeepSetRelDistance` is one), moving one particle ``k`` changes only
the ``N - 1`` pair terms that involve it:

.. math::
    S' = S - \sum_{j \ne k} t(x_k - x_j) + \sum_{j \ne k} t(x'_k - x_j),
    \qquad \log\psi' = R(S'),

so with `SingleParticleMetropolis` a proposal costs O(N). The sampler asks
the model through its move protocol (`PeriodicLogAmplitude.move_state` and
`moved`): pair sums update as above, a `TripletJastrow` its neighbour
vectors, and a `SumLogAmplitude` term by term (an MPNN term takes a forward
pass). The states are rebuilt from scratch at the start of every sweep, so
rounding does not accumulate. A model without fast moves
(`has_fast_moves`) gets the same Markov chain from NetKet's loop, with
whole forward passes.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from netket.sampler import MetropolisRule, MetropolisSampler, MetropolisSamplerState
from netket.sampler.rules import GaussianRule
from netket.utils import struct
from netket.utils.model_frameworks.equinox import EquinoxWrapper

from .._geometry import box_from_hilbert
from .._models._sum import SumLogAmplitude
from ._framework import wrapped_model

START_CHOICES = ("lattice", "uniform")
SURROGATE_CHOICES = ("own", "fast-terms")
BURN_IN_SWEEPS = 16


def _checked_target(target_acceptance):
    if target_acceptance is not None and not (
        isinstance(target_acceptance, (int, float)) and 0 < target_acceptance < 1
    ):
        raise ValueError(f"target_acceptance must be None or in (0, 1); got {target_acceptance!r}.")
    return target_acceptance


class _AdaptiveWidth:
    """The proposal width of a rule with `sigma` and `target_acceptance`, adapted on reset."""

    def init_state(rule, sampler, machine, parameters, key):
        if rule.target_acceptance is None:
            return None
        return jnp.asarray(rule.sigma, dtype=sampler.dtype)

    def reset(rule, sampler, machine, parameters, state):
        if rule.target_acceptance is None:
            return None
        box = np.asarray(sampler.hilbert.domain, dtype=float)
        acceptance = jnp.sum(state.n_accepted_proc) / jnp.maximum(state.n_steps_proc, 1)
        factor = jnp.clip(jnp.sqrt(acceptance / rule.target_acceptance), 0.5, 2.0)
        factor = jnp.where(state.n_steps_proc > 0, factor, 1.0)
        return jnp.clip(state.rule_state * factor, 1e-3 * box.min(), 0.5 * box.min())

    def width(rule, state):
        """The proposal width in use: `sigma`, or the adapted one in ``state.rule_state``."""
        return rule.sigma if rule.target_acceptance is None else state.rule_state

    def _adaptive_repr(self):
        if self.target_acceptance is None:
            return ""
        return f", target_acceptance={self.target_acceptance}"


class SingleParticleGaussianRule(_AdaptiveWidth, MetropolisRule):
    """Move one particle, chosen uniformly, by a Gaussian step of width `sigma` per axis.

    The proposal is symmetric, so Metropolis needs no correction; positions
    are wrapped back into the periodic box. Works with any NetKet
    `MetropolisSampler`; `SingleParticleMetropolis` also evaluates it fast.

    `start` sets where the chains begin: ``"lattice"`` (default) puts the
    particles on a simple-cubic lattice filling the box (a random subset of its
    sites when N is not a perfect power), shifted as a whole by a random
    vector and each jittered by up to a quarter of the lattice spacing per
    axis, so no two particles start closer than half a spacing; ``"uniform"``
    draws independent uniform positions, NetKet's default, which can put two
    particles inside a hard core where the wavefunction underflows to zero.

    `target_acceptance` (e.g. 0.5) makes the width adaptive: whenever the
    sampler is reset (NetKet does so before every ``vstate.sample()``, i.e.
    once per VMC iteration) the width is multiplied by
    ``clip(sqrt(acceptance / target_acceptance), 1/2, 2)``, with the acceptance
    of the sampling since the previous reset, and kept within
    ``[1e-3, 1/2] * min(box)``. Within one sampling the width is fixed, so each
    batch of samples comes from one Metropolis chain with a symmetric
    proposal. `sigma` is then the starting width; the current one is
    ``sampler_state.rule_state``. ``None`` (default) keeps `sigma` fixed.
    """

    sigma: float
    start: str = struct.field(pytree_node=False)
    target_acceptance: float | None = struct.field(pytree_node=False)

    def __init__(
        self, sigma: float = 1.0, *, start: str = "lattice", target_acceptance: float | None = None
    ):
        if not (np.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive number; got {sigma!r}.")
        if start not in START_CHOICES:
            raise ValueError(f"start must be one of {START_CHOICES}; got {start!r}.")
        self.sigma = sigma
        self.start = start
        self.target_acceptance = _checked_target(target_acceptance)

    def random_state(rule, sampler, machine, parameters, state, key):
        return _start_configurations(rule.start, sampler, key)

    def transition(rule, sampler, machine, parameters, state, key, r):
        proposal, _, _ = _propose(rule.width(state), sampler.hilbert, key, r)
        return proposal, None

    def __repr__(self):
        return (
            f"SingleParticleGaussianRule(sigma={self.sigma}, start={self.start!r}"
            f"{self._adaptive_repr()})"
        )


class LatticeStartGaussianRule(_AdaptiveWidth, GaussianRule):
    """NetKet's all-particle `GaussianRule`, with chains started as `start` says.

    The moves are NetKet's; `start` and `target_acceptance` are as in
    `SingleParticleGaussianRule`.
    """

    start: str = struct.field(pytree_node=False)
    target_acceptance: float | None = struct.field(pytree_node=False)

    def __init__(
        self, sigma: float = 1.0, *, start: str = "lattice", target_acceptance: float | None = None
    ):
        if start not in START_CHOICES:
            raise ValueError(f"start must be one of {START_CHOICES}; got {start!r}.")
        super().__init__(sigma)
        self.start = start
        self.target_acceptance = _checked_target(target_acceptance)

    def random_state(rule, sampler, machine, parameters, state, key):
        return _start_configurations(rule.start, sampler, key)

    def transition(rule, sampler, machine, parameters, state, key, r):
        fixed = GaussianRule(rule.width(state))
        return GaussianRule.transition(fixed, sampler, machine, parameters, state, key, r)

    def __repr__(self):
        return (
            f"LatticeStartGaussianRule(sigma={self.sigma}, start={self.start!r}"
            f"{self._adaptive_repr()})"
        )


def _start_configurations(start: str, sampler, key):
    if start == "uniform":
        return sampler.hilbert.random_state(key, size=sampler.n_batches, dtype=sampler.dtype)
    return lattice_configurations(sampler.hilbert, key, sampler.n_batches, sampler.dtype)


def lattice_configurations(hilbert, key, n_configurations: int, dtype=jnp.float64):
    """Jittered lattice configurations, shape ``(n_configurations, N * D)``.

    Each configuration takes N distinct sites of an ``n_side**D`` simple-cubic
    lattice (``n_side = ceil(N ** (1/D))``) spanning the box, chosen at random,
    moves them together by a uniform random vector, and each particle by a
    uniform jitter of at most a quarter spacing per axis.
    """
    n_particles, dim, box = _geometry(hilbert)
    n_side = int(np.ceil(n_particles ** (1.0 / dim) - 1e-9))
    spacing = jnp.asarray(box / n_side, dtype)
    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * dim, indexing="ij"), -1).reshape(-1, dim)
    sites = jnp.asarray(grid, dtype) * spacing
    site_key, shift_key, jitter_key = jax.random.split(key, 3)
    order = jax.vmap(lambda k: jax.random.permutation(k, sites.shape[0]))(
        jax.random.split(site_key, n_configurations)
    )[:, :n_particles]
    shift = jax.random.uniform(shift_key, (n_configurations, 1, dim), dtype) * jnp.asarray(
        box, dtype
    )
    jitter = (
        jax.random.uniform(jitter_key, (n_configurations, n_particles, dim), dtype, -0.25, 0.25)
        * spacing
    )
    positions = (sites[order] + shift + jitter) % jnp.asarray(box, dtype)
    return positions.reshape(n_configurations, n_particles * dim)


def _geometry(hilbert):
    box, n_particles = box_from_hilbert(hilbert, what="SingleParticleGaussianRule")
    return n_particles, len(box), np.asarray(box)


def _propose(sigma, hilbert, key, r):
    """Proposals for every chain: (new configurations, moved particle, its new position)."""
    n_particles, dim, box = _geometry(hilbert)
    n_chains = r.shape[0]
    particle_key, step_key = jax.random.split(key)
    particle = jax.random.randint(particle_key, (n_chains,), 0, n_particles)
    step = sigma * jax.random.normal(step_key, (n_chains, dim), dtype=r.dtype)
    positions = r.reshape(n_chains, n_particles, dim)
    chains = jnp.arange(n_chains)
    moved = (positions[chains, particle] + step) % jnp.asarray(box, r.dtype)
    proposal = positions.at[chains, particle].set(moved).reshape(n_chains, -1)
    return proposal, particle, moved


def _transition_surrogate(model, kind: str = "own"):
    """The wavefunction whose moves the sampler tests in segments, or ``None``: `model`'s
    own surrogate (a backflow's inner wavefunction), or with ``"fast-terms"`` also a
    sum's `SumLogAmplitude.fast_terms`."""
    surrogate = model.surrogate
    if surrogate is not None and surrogate.has_fast_moves:
        return surrogate
    if kind == "fast-terms" and isinstance(model, SumLogAmplitude):
        return model.fast_terms
    return None


class SingleParticleSamplerState(MetropolisSamplerState):
    """NetKet's Metropolis sampler state, with the counts of the surrogate transitions.

    ``acceptance`` is that of the single-particle moves (of the surrogate,
    for a model with one), which the adaptive width targets;
    `segment_acceptance` is the fraction of segments that the model itself
    accepted since the last reset (``None`` without surrogate transitions).
    """

    n_segments_proc: jnp.ndarray = struct.field(serialize=False)
    n_segments_accepted_proc: jnp.ndarray = struct.field(serialize=False)

    def __init__(self, σ, rng, rule_state, log_prob=None):
        self.n_segments_proc = jnp.zeros((), dtype=int)
        self.n_segments_accepted_proc = jnp.zeros((), dtype=int)
        super().__init__(σ, rng, rule_state, log_prob)

    @property
    def segment_acceptance(self) -> float | None:
        if int(self.n_segments_proc) == 0:
            return None
        return float(self.n_segments_accepted_proc) / float(self.n_segments_proc)


class SingleParticleMetropolis(MetropolisSampler):
    """Metropolis sampler with `SingleParticleGaussianRule`, fast for pairwise log-amplitudes.

    Same chain as ``nk.sampler.MetropolisSampler(hilbert,
    SingleParticleGaussianRule(sigma, start=start), ...)`` with the same seeds
    (to rounding), but for a `PairwiseLogAmplitude` (e.g. `DeepSetRelDistance`) each proposal costs
    O(N) instead of a forward pass. Chains start on a jittered lattice by
    default (``start="uniform"``: NetKet's uniform positions);
    `target_acceptance` adapts the width between samplings (see the rule).
    ``sweep_size``
    (proposals per sample) defaults to NetKet's ``hilbert.size``; every other
    keyword argument is `MetropolisSampler`'s.

    Surrogate transitions: a model with a cheaper surrogate (a backflow's
    inner wavefunction at the bare coordinates) is moved by the surrogate's
    O(N) moves, and every segment of the sweep (equal segments of at most
    `segment_moves` moves; ``None``: about N) is accepted or rejected as a
    whole by the model, which keeps the chain exact; each segment costs one
    forward pass of the model. With
    ``surrogate="fast-terms"`` the same holds for a sum with a term without
    O(N) moves (an MPNN): its other terms (`SumLogAmplitude.fast_terms`, the
    McMillan factor) propose, and the model takes one forward pass per segment
    instead of one per move.
    """

    surrogate: str = struct.field(pytree_node=False, default="own")
    segment_moves: int | None = struct.field(pytree_node=False, default=None)

    def __init__(
        self,
        hilbert,
        sigma: float = 1.0,
        *,
        start: str = "lattice",
        target_acceptance: float | None = None,
        surrogate: str = "own",
        segment_moves: int | None = None,
        **kwargs,
    ):
        _geometry(hilbert)
        if surrogate not in SURROGATE_CHOICES:
            raise ValueError(
                f"surrogate must be one of {', '.join(SURROGATE_CHOICES)}; got {surrogate!r}."
            )
        if segment_moves is not None and not (
            isinstance(segment_moves, (int, np.integer))
            and not isinstance(segment_moves, bool)
            and segment_moves > 0
        ):
            raise ValueError(
                f"segment_moves must be None or a positive integer; got {segment_moves!r}."
            )
        rule = SingleParticleGaussianRule(sigma, start=start, target_acceptance=target_acceptance)
        super().__init__(hilbert, rule, **kwargs)
        self.surrogate = surrogate
        self.segment_moves = None if segment_moves is None else int(segment_moves)

    def _init_state(self, machine, parameters, key):
        state = super()._init_state(machine, parameters, key)
        state = SingleParticleSamplerState(state.σ, state.rng, state.rule_state, state.log_prob)
        model = wrapped_model(machine, parameters) if isinstance(machine, EquinoxWrapper) else None
        if model is None or _transition_surrogate(model, self.surrogate) is None:
            return state
        return self._surrogate_burn_in(machine, parameters, state)

    @partial(jax.jit, static_argnums=1)
    def _surrogate_burn_in(self, machine, parameters, state):
        """New chains of a model with a surrogate: `BURN_IN_SWEEPS` sweeps by the surrogate.

        A lattice start can put two particles half a spacing apart. On a
        trained backflow, chains started there can stay for hundreds of sweeps
        in such configurations, where few segments pass the model's test, and
        which chains in equilibrium do not visit. The surrogate's own O(N)
        moves take them out within a few sweeps. Only where the chains begin
        changes; every sample still comes from the surrogate transitions.
        """
        model = wrapped_model(machine, parameters)
        moves = BURN_IN_SWEEPS * self.sweep_size
        state, _ = self._sweep(_transition_surrogate(model, self.surrogate), state, moves)
        return state.replace(
            log_prob=self.machine_pow * jax.vmap(model)(state.σ),
            n_accepted_proc=jnp.zeros_like(state.n_accepted_proc),
            n_steps_proc=jnp.zeros_like(state.n_steps_proc),
        )

    def _reset(self, machine, parameters, state):
        state = super()._reset(machine, parameters, state)
        if not isinstance(state, SingleParticleSamplerState):
            return state
        return state.replace(
            n_segments_proc=jnp.zeros_like(state.n_segments_proc),
            n_segments_accepted_proc=jnp.zeros_like(state.n_segments_accepted_proc),
        )

    def _sample_next(self, machine, parameters, state):
        model = wrapped_model(machine, parameters) if isinstance(machine, EquinoxWrapper) else None
        if model is None or self.chunk_size is not None:
            return super()._sample_next(machine, parameters, state)
        surrogate = _transition_surrogate(model, self.surrogate)
        if surrogate is None:
            if not model.has_fast_moves:
                return super()._sample_next(machine, parameters, state)
            state, _ = self._sweep(model, state)
            return state, (state.σ, state.log_prob)
        # Surrogate transitions: segments of O(N) moves on psi~, each tested on psi, whose
        # log-probability is carried from test to test. A whole sweep of N * D moves per
        # test changes psi / psi~ too much once the backflow has grown (measured: R-hat 1.1
        # to 1.3 on 2D helium); fewer moves per test mix better still (segment_moves).
        segments = -(-self.sweep_size // (self.segment_moves or _geometry(self.hilbert)[0]))
        segment = -(-self.sweep_size // segments)

        def test(i, carry):
            # The width adapts to the surrogate's move acceptance: adapting it to the moves
            # kept (moves times segments) shrank it from 0.38 to 0.16 on 2D helium with a
            # backflow, where segments were still accepted at 0.74 at 0.4 (4.5x slower).
            state, start_log_prob = carry
            start = state.σ
            new_rng, key = jax.random.split(state.rng)
            state, surrogate_start = self._sweep(surrogate, state.replace(rng=new_rng), segment)
            log_prob = self.machine_pow * jax.vmap(model)(state.σ)
            log_ratio = (log_prob - start_log_prob) - (state.log_prob - surrogate_start)
            accept = jax.random.uniform(key, shape=(self.n_batches,)) < jnp.exp(log_ratio)
            log_prob = jnp.where(accept, log_prob, start_log_prob)
            state = state.replace(σ=jnp.where(accept[:, None], state.σ, start), log_prob=log_prob)
            if isinstance(state, SingleParticleSamplerState):
                state = state.replace(
                    n_segments_proc=state.n_segments_proc + self.n_batches,
                    n_segments_accepted_proc=state.n_segments_accepted_proc + jnp.sum(accept),
                )
            return state, log_prob

        log_prob = self.machine_pow * jax.vmap(model)(state.σ)
        state, _ = jax.lax.fori_loop(0, segments, test, (state, log_prob))
        return state, (state.σ, state.log_prob)

    def _sweep(self, model, state, moves=None):
        """`moves` (default `sweep_size`) single-particle moves of every chain by `model`'s
        move protocol.

        Returns the new state, whose ``log_prob`` is `model`'s, and `model`'s
        log-probability of the chains at the start of the sweep.
        """

        def where(accept, new, old):
            return jax.tree.map(
                lambda a, b: jnp.where(accept.reshape(-1, *[1] * (a.ndim - 1)), a, b), new, old
            )

        # The move states of every chain, rebuilt from scratch once per sweep.
        move_state = jax.vmap(model.move_state)(state.σ)
        start_log_prob = self.machine_pow * jax.vmap(model)(state.σ)
        state = state.replace(log_prob=start_log_prob)
        width = self.rule.width(state)

        def step(i, carry):
            state, move_state = carry
            new_rng, key1, key2 = jax.random.split(state.rng, 3)
            proposal, particle, moved = _propose(width, self.hilbert, key1, state.σ)
            log_psi, proposal_state = jax.vmap(model.moved)(state.σ, move_state, particle, moved)
            proposal_log_prob = self.machine_pow * log_psi
            uniform = jax.random.uniform(key2, shape=(self.n_batches,))
            accept = uniform < jnp.exp(proposal_log_prob - state.log_prob)
            state = state.replace(
                σ=jnp.where(accept[:, None], proposal, state.σ),
                log_prob=jnp.where(accept, proposal_log_prob, state.log_prob),
                rng=new_rng,
                n_accepted_proc=state.n_accepted_proc + accept,
                n_steps_proc=state.n_steps_proc + self.n_batches,
            )
            return state, where(accept, proposal_state, move_state)

        moves = self.sweep_size if moves is None else moves
        state = jax.lax.fori_loop(0, moves, step, (state, move_state))[0]
        return state, start_log_prob

    def __repr__(self):
        return (
            f"SingleParticleMetropolis(sigma={self.rule.sigma}, start={self.rule.start!r}, "
            f"target_acceptance={self.rule.target_acceptance}, "
            f"surrogate={self.surrogate!r}, segment_moves={self.segment_moves}, "
            f"n_chains={self.n_chains}, "
            f"sweep_size={self.sweep_size})"
        )
