"""Oxygen chemical potential of the gas, and the vacancy potential it imposes on a surface.

Delta mu_O(T, pO2) = 1/2 [H(T) - H(298.15 K) - T S(T)]_O2 + 1/2 kT ln(pO2 / p0),
referenced to 1/2 O2 at 298.15 K and p0 = 1 bar (the standard state of formation energies),
with the NIST Shomate coefficients of O2 (Chase 1998, NIST-JANAF 4th ed.), as in
PARAMETERS.md section 5b. A vacancy in equilibrium with that gas has the electrochemical
potential mu = -Delta mu_O (the vacancy formation energies of the database are given at
Delta mu_O = 0 and the Fermi level of the grounded stack).
"""

from __future__ import annotations

import math

from heterofem.solver.units import K_B_EV, Q_E

N_A = 6.02214076e23  #: Avogadro constant [1/mol]
P0_PA = 1e5  #: standard pressure [Pa]

#: NIST Shomate coefficients for O2: (T_min, T_max) -> A, B, C, D, E, F, G, H
_SHOMATE_O2 = [
    ((100.0, 700.0), (31.32234, -20.23531, 57.86644, -36.50624, -0.007374, -8.903471, 246.7945, 0.0)),
    ((700.0, 2000.0), (30.03235, 8.772972, -3.988133, 0.788313, -0.741599, -11.32468, 236.1663, 0.0)),
]


def _shomate(T: float) -> tuple[float, float]:
    """(H(T) - H(298.15)) [J/mol] and S(T) [J/mol/K] of O2."""
    for (lo, hi), (A, B, C, D, E, F, G, H) in _SHOMATE_O2:
        if lo <= T <= hi:
            t = T / 1000.0
            dh = A * t + B * t**2 / 2 + C * t**3 / 3 + D * t**4 / 4 - E / t + F - H  # kJ/mol
            s = A * math.log(t) + B * t + C * t**2 / 2 + D * t**3 / 3 - E / (2 * t**2) + G
            return dh * 1000.0, s
    raise ValueError(f"temperature {T} K is outside the O2 data range (100-2000 K)")


def delta_mu_O(T: float, pO2_Pa: float) -> float:
    """Oxygen chemical potential per O atom [eV] relative to 1/2 O2 at 298.15 K, 1 bar."""
    if pO2_Pa <= 0:
        raise ValueError("pO2 must be positive")
    dh, s = _shomate(T)
    per_o2 = (dh - T * s) / N_A / Q_E  # eV per O2 molecule (1 bar)
    return 0.5 * per_o2 + 0.5 * K_B_EV * T * math.log(pO2_Pa / P0_PA)


def mu_vacancy_gas(T: float, pO2_Pa: float) -> float:
    """Vacancy electrochemical potential [eV] in equilibrium with the gas."""
    return -delta_mu_O(T, pO2_Pa)
