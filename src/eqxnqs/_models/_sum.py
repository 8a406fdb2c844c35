"""A log-amplitude that is the sum of terms: psi is the product of their factors."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._typing import RealArray, typechecked
from ._pairwise import PairwiseLogAmplitude, full_grad_and_hessian_diagonal
from ._periodic import PeriodicLogAmplitude


class SumLogAmplitude(PairwiseLogAmplitude):
    """``log psi = sum_t term_t(x)``, e.g. a Jastrow factor times a DeepSet.

    Every term is an eqxnqs log-amplitude (`PeriodicLogAmplitude`) on the
    same box and particle number. The sum is a `PairwiseLogAmplitude`: its
    pair terms are the tuple of the terms' pair terms and its readout the
    sum of their readouts. Single-particle moves (the sampler, g1) go term
    by term: O(N) for the terms with fast moves, a forward pass for the
    others. Its derivatives always add up term by term, each term
    by its own route: a `McMillanJastrow` plus an `MPNN` takes the Jastrow's
    O(N^2) route and folx's Laplacian for the network only.
    """

    terms: tuple[PeriodicLogAmplitude, ...]
    box: tuple[float, ...] = eqx.field(static=True)
    n_particles: int = eqx.field(static=True)

    def __init__(self, *terms: PeriodicLogAmplitude):
        """**Arguments:** two or more eqxnqs log-amplitudes (a sum is flattened)."""
        flat = []
        for term in terms:
            flat.extend(term.terms if isinstance(term, SumLogAmplitude) else (term,))
        if len(flat) < 2:
            raise ValueError(f"SumLogAmplitude needs at least two terms; got {len(flat)}.")
        for term in flat:
            if not isinstance(term, PeriodicLogAmplitude):
                raise TypeError(
                    "every term must be an eqxnqs log-amplitude (a PeriodicLogAmplitude such "
                    f"as DeepSetRelDistance, MPNN or a Jastrow); got {type(term).__name__}."
                )
        geometries = {(term.box, term.n_particles) for term in flat}
        if len(geometries) != 1:
            raise ValueError(
                "every term must have the same box and particle number; got (box, n_particles) "
                f"= {sorted(geometries)}."
            )
        self.terms = tuple(flat)
        ((self.box, self.n_particles),) = geometries

    @property
    def sums_pairs(self) -> bool:
        return all(
            isinstance(term, PairwiseLogAmplitude) and term.sums_pairs for term in self.terms
        )

    @property
    def has_fast_moves(self) -> bool:
        return any(term.has_fast_moves for term in self.terms)

    @property
    def surrogate(self):
        """The sum with every term that has a surrogate replaced by it (``None`` if none has)."""
        if all(term.has_fast_moves or term.surrogate is None for term in self.terms):
            return None
        return SumLogAmplitude(
            *(term if term.has_fast_moves else term.surrogate or term for term in self.terms)
        )

    @property
    def fast_terms(self):
        """The terms with O(N) moves (a term with a surrogate, by it), or ``None``.

        ``None`` unless some term has neither (an MPNN) and some have them: for
        an MPNN times a McMillan factor (and a triplet), the McMillan factor
        (and the triplet). `eqxnqs.SingleParticleMetropolis` lets them propose
        with ``surrogate="fast-terms"``.
        """
        terms = [term if term.has_fast_moves else term.surrogate for term in self.terms]
        kept = [term for term in terms if term is not None and term.has_fast_moves]
        if not kept or len(kept) == len(self.terms):
            return None
        return kept[0] if len(kept) == 1 else SumLogAmplitude(*kept)

    def move_state(self, x):
        """The terms' own move states."""
        return tuple(term.move_state(x) for term in self.terms)

    def moved(self, x, state, particle, position):
        """Each term by its own route: O(N) for those with fast moves, a forward pass
        for the others (an MPNN)."""
        parts = [term.moved(x, s, particle, position) for term, s in zip(self.terms, state)]
        return sum(log_psi for log_psi, _ in parts), tuple(s for _, s in parts)

    def pair_terms(self, u):
        return tuple(term.pair_terms(u) for term in self.terms)

    def readout(self, pair_sum):
        return sum(term.readout(s) for term, s in zip(self.terms, pair_sum))

    @typechecked
    def __call__(self, x: Float[RealArray, " n_dof"]) -> Float[Array, ""]:
        """``log psi`` of one configuration: the sum of the terms' own forward passes."""
        self.check_configuration(x)
        return sum(term(jnp.asarray(x)) for term in self.terms)

    @typechecked
    def grad_and_hessian_diagonal(
        self, x: Float[RealArray, " n_dof"]
    ) -> tuple[Float[Array, " n_dof"], Float[Array, " n_dof"]]:
        """The sum of the terms' exact derivatives (each by its own route; the
        whole Hessian for a term that is not a `PairwiseLogAmplitude`)."""
        self.check_configuration(x)
        x = jnp.asarray(x)
        parts = [
            term.grad_and_hessian_diagonal(x)
            if isinstance(term, PairwiseLogAmplitude)
            else full_grad_and_hessian_diagonal(term, x)
            for term in self.terms
        ]
        return jax.tree.map(lambda *a: sum(a), *parts)

    def grad_and_laplacian(self, x, weights):
        """The sum of the terms' `grad_and_laplacian` (each by its own route)."""
        self.check_configuration(x)
        parts = [term.grad_and_laplacian(jnp.asarray(x), weights) for term in self.terms]
        return jax.tree.map(lambda *a: sum(a), *parts)

    def grad_and_directional_laplacian(self, x, directions):
        """The sum of the terms' `grad_and_directional_laplacian` (each by its own route)."""
        self.check_configuration(x)
        x = jnp.asarray(x)
        parts = [term.grad_and_directional_laplacian(x, directions) for term in self.terms]
        return jax.tree.map(lambda *a: sum(a), *parts)

    @property
    def samples_per_step(self) -> int:
        """The smallest of the terms' (the largest intermediates decide)."""
        return min(term.samples_per_step for term in self.terms)
