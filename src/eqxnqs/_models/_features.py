"""Turn NetKet-style ``features``/``layers`` arguments into per-layer widths."""

from collections.abc import Sequence


def _check_widths(widths: tuple[int, ...], name: str) -> tuple[int, ...]:
    for width in widths:
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"{name} must hold positive integers; got {tuple(widths)!r}.")
    return widths


def phi_widths(features: int | Sequence[int], layers: int) -> tuple[int, ...]:
    """Widths of the phi network: ``features`` repeated ``layers`` times if an int."""
    if layers < 1:
        raise ValueError(f"layers_phi must be at least 1; got {layers}.")
    if isinstance(features, int):
        widths = (features,) * layers
    else:
        widths = tuple(features)
        if len(widths) != layers:
            raise ValueError(
                f"features_phi has {len(widths)} entries {widths!r} but "
                f"layers_phi={layers}; they must match."
            )
    return _check_widths(widths, "features_phi")


def rho_widths(features: int | Sequence[int], layers: int) -> tuple[int, ...]:
    """Declared widths of the rho network, ending in the single output.

    An int ``f`` gives ``(f, ..., f, 1)`` with ``layers`` entries; a sequence
    must have ``layers`` entries and end in 1.
    """
    if layers < 1:
        raise ValueError(f"layers_rho must be at least 1; got {layers}.")
    if isinstance(features, int):
        widths = (features,) * (layers - 1) + (1,)
    else:
        widths = tuple(features)
        if len(widths) != layers:
            raise ValueError(
                f"features_rho has {len(widths)} entries {widths!r} but "
                f"layers_rho={layers}; they must match."
            )
        if widths and widths[-1] != 1:
            raise ValueError(
                f"the last entry of features_rho must be 1 (rho outputs one "
                f"number); got features_rho={widths!r}."
            )
    return _check_widths(widths, "features_rho")
