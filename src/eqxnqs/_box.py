"""The periodic simulation box: validation and conversion from NetKet."""

import math
from collections.abc import Sequence


def check_box(box: float | Sequence[float]) -> tuple[float, ...]:
    """Side lengths of a periodic box as a tuple of positive floats.

    A single number is a one-dimensional box.
    """
    lengths = (box,) if isinstance(box, (int, float)) else tuple(box)
    if not lengths:
        raise ValueError("box must have at least one side length; got ().")
    try:
        lengths = tuple(float(length) for length in lengths)
    except (TypeError, ValueError):
        raise ValueError(
            f"box must be a number or a sequence of numbers; got {box!r}."
        ) from None
    if not all(math.isfinite(length) and length > 0 for length in lengths):
        raise ValueError(
            f"every box side length must be a finite number > 0; got {lengths}."
        )
    return lengths


def box_from_hilbert(hilbert) -> tuple[tuple[float, ...], int]:
    """Box side lengths and particle number of a NetKet continuous Hilbert space.

    Refuses a space that is not periodic in every direction, as NetKet's
    `DeepSetRelDistance` does.
    """
    geometry = getattr(hilbert, "geometry", None)
    if geometry is None or not hasattr(hilbert, "n_particles"):
        raise TypeError(
            "expected a NetKet continuous Hilbert space such as "
            "netket.experimental.hilbert.Particle; got "
            f"{type(hilbert).__name__}."
        )
    pbc = tuple(bool(p) for p in geometry.pbc)
    if not all(pbc):
        raise ValueError(
            "DeepSetRelDistance needs a box that is periodic in every "
            f"direction; the Hilbert space has pbc={pbc}."
        )
    return check_box(hilbert.domain), int(hilbert.n_particles)
