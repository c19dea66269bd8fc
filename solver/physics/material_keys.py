"""The material parameters each physics reads, by name.

Shared by the physics modules and by the physics' cross-checks
(:mod:`heterofem.solver.physics.checks`), which run before any Domain exists.
"""

from __future__ import annotations

#: vacancy transport (solver/physics/vacancies.py)
VACANCY_KEYS = ("oxygen_site_density", "vacancy_formation_energy", "vacancy_D0_a",
                "vacancy_Ea_a", "vacancy_D0_c", "vacancy_Ea_c")

#: linear elasticity, tetragonal stiffness [GPa] (solver/physics/mechanics.py)
ELASTIC_KEYS = ("C11", "C12", "C13", "C33", "C44", "C66")
#: electrostriction [m^4/C^2]: all three or none (solver/physics/mechanics.py)
ELECTROSTRICTION_KEYS = ("electrostriction_Q11", "electrostriction_Q12", "electrostriction_Q44")

#: electrons in a semiconductor layer (physics.electrons = "boltzmann" or "fermi-dirac")
ELECTRON_KEYS = ("effective_dos_conduction", "conduction_band_offset")

#: the non-stoichiometry law delta(pO2) of a deposited material
#: (:func:`heterofem.solver.physics.deposition.deposition_delta`)
NONSTOICHIOMETRY_KEYS = ("nonstoichiometry_delta_ref", "nonstoichiometry_pO2_ref",
                         "nonstoichiometry_exponent")
