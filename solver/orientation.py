"""Crystal orientation of a layer: rotate tensors given in crystal axes into the lab frame.

Lab frame: z is the growth direction (out of plane), x and y in plane; a 2D run is the x-z
cross-section. Orientation "hkl" names the crystal direction along z. Rutile conventions used
throughout heterofem:

=========  ===============  ===============  ====================
name       z (growth)       x (in plane)     y (in plane)
=========  ===============  ===============  ====================
"001"      [001] = c        [100]            [010]
"100"      [100]            [001] = c        [010]
"010"      [010]            [001] = c        [100]
"110"      [110]            [001] = c        [1-10]
"1-10"     [1-10]           [001] = c        [110]
=========  ===============  ===============  ====================

So for (110) films, c lies along x, the direction a 2D cross-section resolves; that is the
fast ionic channel of rutile, and the -4.7 % misfit direction of RuO2 on TiO2(110).
"""

from __future__ import annotations

import numpy as np

_S = 1.0 / np.sqrt(2.0)

#: rows are the lab axes x, y, z written in crystal (a, b, c) coordinates
LAB_AXES: dict[str, np.ndarray] = {
    "001": np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    "100": np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
    "010": np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
    "110": np.array([[0.0, 0.0, 1.0], [_S, -_S, 0.0], [_S, _S, 0.0]]),
    "1-10": np.array([[0.0, 0.0, 1.0], [_S, _S, 0.0], [_S, -_S, 0.0]]),
}


def rotation(orientation: str) -> np.ndarray:
    """Orthogonal matrix Q with T_lab = Q T_crystal Q^T."""
    try:
        return LAB_AXES[orientation]
    except KeyError:
        raise ValueError(
            f"unknown orientation {orientation!r}; use one of {', '.join(LAB_AXES)}"
        ) from None


def to_lab(tensor_crystal: np.ndarray, orientation: str) -> np.ndarray:
    """Rotate a 3x3 second-rank tensor from crystal axes into the lab frame."""
    q = rotation(orientation)
    return q @ np.asarray(tensor_crystal, dtype=float) @ q.T


def reduce_to_dim(tensor_lab: np.ndarray, dim: int) -> np.ndarray:
    """The block of a lab tensor a ``dim``-dimensional run sees: z (1D), x-z (2D), xyz (3D)."""
    index = {1: [2], 2: [0, 2], 3: [0, 1, 2]}[dim]
    return np.asarray(tensor_lab)[np.ix_(index, index)]
