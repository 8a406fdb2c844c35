"""Run an eqxnqs model inside NetKet's variational Monte Carlo."""

from collections.abc import Callable

import equinox as eqx
import netket as nk

from ._framework import NamedEquinoxFramework, register
from ._log_amplitude import LogAmplitude

register()


def _as_log_amplitude(model: eqx.Module) -> LogAmplitude:
    return model if isinstance(model, LogAmplitude) else LogAmplitude(model)


def netket_log_amplitude(model: eqx.Module) -> tuple[Callable, dict]:
    """NetKet's ``(apply_fun, variables)`` pair for a single-configuration model.

    ``apply_fun(variables, x)`` returns ``log psi`` of shape ``(*batch,)`` for
    ``x`` of shape ``(*batch, n_dof)``; ``variables`` is
    ``{"params": {...}}`` with the model's arrays under their attribute paths.
    Pass both to ``nk.vqs.MCState(sampler, apply_fun=..., variables=...)`` or
    use them with any function that takes a NetKet log-amplitude.
    """
    variables, wrapper = NamedEquinoxFramework.wrap(_as_log_amplitude(model))
    return wrapper.apply, variables


def make_mcstate(sampler: nk.sampler.Sampler, model: eqx.Module, **kwargs) -> nk.vqs.MCState:
    """``nk.vqs.MCState(sampler, model)`` for a single-configuration eqxnqs model.

    The model's parameters are its initial variational parameters. Every
    keyword argument (``n_samples``, ``n_discard_per_chain``, ``chunk_size``,
    ``seed``, ``sampler_seed``, ...) goes to `MCState`. Read the trained model
    back with `model_from_state`.
    """
    model = _as_log_amplitude(model)
    hilbert_size = sampler.hilbert.size
    if hilbert_size != model.n_dof:
        raise ValueError(
            f"the sampler's Hilbert space has {hilbert_size} coordinates but "
            f"the model expects {model.n_dof}."
        )
    if "variables" in kwargs:
        raise TypeError(
            "make_mcstate takes the parameters from the model; pass a model "
            "holding the parameters you want instead of `variables`."
        )
    return nk.vqs.MCState(sampler, model, **kwargs)


def model_from_state(vstate: nk.vqs.MCState) -> eqx.Module:
    """The single-configuration model holding a state's current parameters."""
    wrapped = vstate.model
    if not isinstance(wrapped, LogAmplitude):
        raise TypeError(
            "this variational state was not built from an eqxnqs model "
            f"(its model is {type(wrapped).__name__}); use make_mcstate."
        )
    return wrapped.model
