"""Named parameters for `LogAmplitude` inside NetKet.

NetKet's own Equinox support stores a module's arrays as an unnamed list,
``{"params": {"list": (...)}}``. For `LogAmplitude` we register a framework
ahead of it that stores the same arrays under their attribute paths, e.g.
``variables["params"]["rho"]["layers"]["0"]["weight"]``. Everything else
(partitioning with ``eqx.is_array``, recombining, ``MCState.model``) is
NetKet's mechanism, reused.
"""

import dataclasses

import equinox as eqx
import jax
from netket.utils.model_frameworks import base as _frameworks
from netket.utils.model_frameworks.equinox import EquinoxFramework, EquinoxWrapper

from ._log_amplitude import LogAmplitude


def _key_name(key) -> str:
    for attr in ("name", "key", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    raise TypeError(f"unsupported pytree key {key!r}")


def _leaf_names(params: LogAmplitude) -> tuple[tuple[str, ...], ...]:
    paths = jax.tree_util.tree_flatten_with_path(params)[0]
    # Drop the leading ".model": every parameter lives in the wrapped model.
    return tuple(tuple(_key_name(k) for k in path[1:]) for path, _ in paths)


def _nest(names, leaves) -> dict:
    tree: dict = {}
    for path, leaf in zip(names, leaves):
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = leaf
    return tree


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


class NamedEquinoxWrapper(EquinoxWrapper):
    """NetKet's Equinox wrapper, reading parameters from a named nested dict."""

    def __init__(self, static_module, params_treedef, leaf_names):
        super().__init__(static_module, params_treedef)
        self.leaf_names = leaf_names

    def recompose(self, variables) -> LogAmplitude:
        params = variables["params"]
        try:
            leaves = [_get(params, path) for path in self.leaf_names]
        except (KeyError, TypeError):
            raise ValueError(
                "these variables do not hold the parameters of "
                f"{type(self.static_module.model).__name__}: expected the names "
                f"{['/'.join(p) for p in self.leaf_names]}."
            ) from None
        params_module = jax.tree.unflatten(self.params_treedef, leaves)
        return eqx.combine(params_module, self.static_module)

    def __repr__(self):
        return f"NamedEquinoxWrapper({self.static_module})"


@dataclasses.dataclass(frozen=True)
class NamedEquinoxFramework(EquinoxFramework):
    name: str = "Equinox (eqxnqs, named parameters)"

    @staticmethod
    def wrapped_model_class(static_model: NamedEquinoxWrapper) -> type:
        return type(static_model.static_module)

    @staticmethod
    def is_my_module(module) -> bool:
        return isinstance(module, LogAmplitude)

    @staticmethod
    def wrap(module: LogAmplitude) -> tuple[dict, NamedEquinoxWrapper]:
        params, static = eqx.partition(module, eqx.is_array)
        leaves, treedef = jax.tree.flatten(params)
        names = _leaf_names(params)
        variables = {"params": _nest(names, leaves)}
        return variables, NamedEquinoxWrapper(static, treedef, names)

    @staticmethod
    def unwrap(wrapped_module: NamedEquinoxWrapper, maybe_variables: dict) -> LogAmplitude:
        return wrapped_module.recompose(maybe_variables)


def wrapped_model(wrapper: EquinoxWrapper, variables) -> eqx.Module:
    """The model inside NetKet's Equinox `wrapper` holding `variables`.

    For an eqxnqs state that is the single-configuration model inside its
    `LogAmplitude`; for any other Equinox state, the module itself.
    """
    module = wrapper.recompose(variables)
    return module.model if isinstance(module, LogAmplitude) else module


def register() -> None:
    """Put the named framework ahead of NetKet's generic Equinox one (idempotent)."""
    registry = _frameworks.registered_frameworks
    if NamedEquinoxFramework not in registry:
        registry.insert(0, NamedEquinoxFramework)
