r"""Single-particle Metropolis moves, with O(N) updates of a DeepSet's log-amplitude.

NetKet's `MetropolisGaussian` moves every coordinate at once, so every
proposal costs a whole forward pass (O(N^2) pair terms) and a sample
(``sweep_size = n_dof`` proposals) costs ``n_dof`` forward passes. Moving one
particle ``k`` changes only the ``N - 1`` pair terms that involve it:

.. math::
    S' = S - \sum_{j \ne k} \phi(y(x_k - x_j)) + \sum_{j \ne k} \phi(y(x'_k - x_j)),
    \qquad \log\psi' = \rho(c S') + C',

(and the same for the cusp sum ``C``), so with `SingleParticleMetropolis` a
proposal costs O(N) for `eqxnqs.DeepSetRelDistance`. The sums are rebuilt
from scratch at the start of every sweep, so rounding does not accumulate.
Any other model gets the same Markov chain with whole forward passes.
"""

import jax
import jax.numpy as jnp
import numpy as np
from netket.sampler import MetropolisRule, MetropolisSampler
from netket.utils.model_frameworks.equinox import EquinoxWrapper

from ._netket_framework import wrapped_model
from ._pooling import linear_pooling_weight

class SingleParticleGaussianRule(MetropolisRule):
    """Move one particle, chosen uniformly, by a Gaussian step of width `sigma` per axis.

    The proposal is symmetric, so Metropolis needs no correction; positions
    are wrapped back into the periodic box. Works with any NetKet
    `MetropolisSampler`; `SingleParticleMetropolis` also evaluates it fast.
    """

    sigma: float

    def __init__(self, sigma: float = 1.0):
        if not (np.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive number; got {sigma!r}.")
        self.sigma = sigma

    def transition(rule, sampler, machine, parameters, state, key, r):
        proposal, _, _ = _propose(rule.sigma, sampler.hilbert, key, r)
        return proposal, None

    def __repr__(self):
        return f"SingleParticleGaussianRule(sigma={self.sigma})"


def _geometry(hilbert):
    n_particles = hilbert.n_particles
    dim = hilbert.size // n_particles
    if not all(hilbert.geometry.pbc):
        raise ValueError("SingleParticleGaussianRule needs a box periodic in every direction.")
    return n_particles, dim, np.asarray(hilbert.domain, dtype=float)


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


def _pair_terms(model, u):
    """``phi(y(u))`` and the cusp term of one displacement, exactly as in the forward pass."""
    box = jnp.asarray(model.box, dtype=u.dtype)
    d = box / 2.0 * jnp.sin(jnp.pi * u / box)
    features = model.phi((d / box) ** 2)
    if model.cusp is None:
        return features, jnp.zeros((), u.dtype)
    return features, -0.5 * model.cusp[0] / jnp.linalg.norm(d) ** model.cusp_exponent


def _particle_sums(model, positions, particle, position):
    """Sums of the pair terms of ``particle`` at ``position`` with every other particle."""
    box = jnp.asarray(model.box, dtype=positions.dtype)
    others = jnp.arange(model.n_particles) != particle
    # Any non-zero displacement stands in for the self-pair, which is masked.
    u = jnp.where(others[:, None], position - positions, box / 2.0)
    features, cusp = jax.vmap(lambda v: _pair_terms(model, v))(u)
    mask = others.astype(positions.dtype)
    return mask @ features, mask @ cusp


def _all_pair_sums(model, x):
    """``(sum_pairs phi, sum_pairs cusp)`` of one configuration, over pairs i < j."""
    positions = x.reshape(model.n_particles, model.dim)
    i, j = np.triu_indices(model.n_particles, 1)
    features, cusp = jax.vmap(lambda u: _pair_terms(model, u))(positions[i] - positions[j])
    return jnp.sum(features, axis=0), jnp.sum(cusp)


def _pooling_weight(model):
    return linear_pooling_weight(model.pooling, model.n_particles * (model.n_particles - 1) // 2)


def _log_psi(model, feature_sum, cusp_sum):
    return model.rho(_pooling_weight(model) * feature_sum)[0] + cusp_sum


def incremental_model(machine, parameters):
    """The DeepSet behind a sampler's ``machine``, if its moves can be updated in O(N)."""
    from ._rel_distance import DeepSetRelDistance

    if not isinstance(machine, EquinoxWrapper):
        return None
    model = wrapped_model(machine, parameters)
    if isinstance(model, DeepSetRelDistance) and _pooling_weight(model) is not None:
        return model
    return None


class SingleParticleMetropolis(MetropolisSampler):
    """Metropolis sampler with `SingleParticleGaussianRule`, fast for DeepSets.

    Same chain as ``nk.sampler.MetropolisSampler(hilbert,
    SingleParticleGaussianRule(sigma), ...)`` with the same seeds (to
    rounding), but for an eqxnqs `DeepSetRelDistance` each proposal costs
    O(N) instead of a forward pass. ``sweep_size`` (proposals per sample)
    defaults to NetKet's ``hilbert.size``; every other keyword argument is
    `MetropolisSampler`'s.
    """

    def __init__(self, hilbert, sigma: float = 1.0, **kwargs):
        _geometry(hilbert)
        super().__init__(hilbert, SingleParticleGaussianRule(sigma), **kwargs)

    def _sample_next(self, machine, parameters, state):
        model = incremental_model(machine, parameters)
        if model is None or self.chunk_size is not None:
            return super()._sample_next(machine, parameters, state)
        n_particles, dim = model.n_particles, model.dim

        def log_prob_of(feature_sum, cusp_sum):
            return self.machine_pow * jax.vmap(lambda f, c: _log_psi(model, f, c))(
                feature_sum, cusp_sum
            )

        # The pair sums of every chain, rebuilt from scratch once per sweep.
        feature_sum, cusp_sum = jax.vmap(lambda x: _all_pair_sums(model, x))(state.σ)
        state = state.replace(log_prob=log_prob_of(feature_sum, cusp_sum))

        def change(x, particle, position):
            """Change of both pair sums when `particle` moves to `position`: O(N)."""
            positions = x.reshape(n_particles, dim)
            old_features, old_cusp = _particle_sums(model, positions, particle, positions[particle])
            new_features, new_cusp = _particle_sums(model, positions, particle, position)
            return new_features - old_features, new_cusp - old_cusp

        def step(i, carry):
            state, feature_sum, cusp_sum = carry
            new_rng, key1, key2 = jax.random.split(state.rng, 3)
            proposal, particle, moved = _propose(self.rule.sigma, self.hilbert, key1, state.σ)
            d_features, d_cusp = jax.vmap(change)(state.σ, particle, moved)
            proposal_log_prob = log_prob_of(feature_sum + d_features, cusp_sum + d_cusp)
            uniform = jax.random.uniform(key2, shape=(self.n_batches,))
            accept = uniform < jnp.exp(proposal_log_prob - state.log_prob)
            state = state.replace(
                σ=jnp.where(accept[:, None], proposal, state.σ),
                log_prob=jnp.where(accept, proposal_log_prob, state.log_prob),
                rng=new_rng,
                n_accepted_proc=state.n_accepted_proc + accept,
                n_steps_proc=state.n_steps_proc + self.n_batches,
            )
            feature_sum = jnp.where(accept[:, None], feature_sum + d_features, feature_sum)
            cusp_sum = jnp.where(accept, cusp_sum + d_cusp, cusp_sum)
            return state, feature_sum, cusp_sum

        state = jax.lax.fori_loop(0, self.sweep_size, step, (state, feature_sum, cusp_sum))[0]
        return state, (state.σ, state.log_prob)

    def __repr__(self):
        return (
            f"SingleParticleMetropolis(sigma={self.rule.sigma}, n_chains={self.n_chains}, "
            f"sweep_size={self.sweep_size})"
        )
