"""Physical constants (CODATA 2018, exact SI where defined) and the solver's length scale.

Inside the solver, lengths are in nanometres (mesh coordinates) and potentials in volts; every
conversion to SI goes through the names below so a reader can check each factor once.
"""

Q_E = 1.602176634e-19  #: elementary charge [C]
EPS0 = 8.8541878128e-12  #: vacuum permittivity [F/m]
K_B = 1.380649e-23  #: Boltzmann constant [J/K]
K_B_EV = K_B / Q_E  #: Boltzmann constant [eV/K]
NM = 1e-9  #: solver length unit [m]

#: Poisson source scale: -div_nm(eps_r grad_nm phi) = RHO_SCALE * rho[C/m^3]  (phi in V)
RHO_SCALE = NM**2 / EPS0
#: Neumann scale: eps_r grad_nm(phi).n = SIGMA_SCALE * sigma[C/m^2]
SIGMA_SCALE = NM / EPS0
