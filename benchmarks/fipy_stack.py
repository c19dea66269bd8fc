"""The 1D vacancy + Poisson stack of heterofem, written in FiPy (cell-centred finite volumes).

Used only by ``vacancy_poisson.py`` to compare wall time at equal accuracy. Equations,
parameters and initial state are heterofem's (``solver/physics/vacancies.py`` and
``electrostatics.py``), with dilute (Boltzmann) vacancies:

    c = N_O exp((mu - E_f - 2 phi) / kT)
    d c/dt - div(D c/kT grad mu) = 0                                          (blocking ends)
    -div(eps grad phi) + k_TF phi = RHO_SCALE [rho_fixed - q n(phi) + 2 q c]  (phi = 0 at z = 0)
    n = N_c F_1/2((phi - dE_c) / kT)                                          (semiconductors)

initial state: c = N_O delta/2 per layer, phi from Poisson with that charge. Lengths in nm,
potentials in V / eV, concentrations scaled by N_ref, time by (1 nm)^2 / D_ref; the Poisson
equation is divided by 2 q N_ref RHO_SCALE, as heterofem does.

Three formulations (``formulation=``):

- ``"mu"``: heterofem's unknowns (mu, phi). FiPy sweeps: sources linearised exactly (Newton),
  the mobility D c/kT lagged one sweep (FiPy re-evaluates coefficients between sweeps; it has
  no Jacobian of a coefficient). Kept to document that it fails on this problem: the mobility
  varies as exp(mu/kT), the initial mu jumps by ~1 eV at the interfaces, and the lagged sweeps
  oscillate or crawl (no convergence in the first step, with or without under-relaxation).
- ``"slotboom"`` (the one timed): the Slotboom variable u = exp((mu - mu_ref)/kT), the same
  continuum problem: c = n_eff(phi) u with n_eff = N_O exp((mu_ref - E_f - 2 phi)/kT) and
  J = -D n_eff grad u, which is linear in u for a given phi. Storage and charge are linearised
  exactly in (u, phi); only n_eff(phi) in the flux is lagged. This is the standard finite-volume
  treatment of drift-diffusion and FiPy's best case here.

- ``"vector"`` (:class:`FipyVectorStack`, the one ``fipy_fair.py`` times, issue #26 item 5):
  the Slotboom problem as an expert FiPy user writes it: one vector variable (u, phi) with
  matrix coefficients and n_eff(phi)'s derivative as an implicit convection term (Newton).

Time stepping is backward Euler on a schedule the caller gives (the same as heterofem's in the
benchmark): both codes solve the same time-discrete problem and differ only in space. Linear
solves: FiPy's LinearLUSolver of the suite in FIPY_SOLVERS (SciPy SuperLU by default; fipy_fair.py
uses PETSc), one per sweep. Face coefficients: harmonic means of the
cells' values (exact for layered media). The update of a potential is limited to 10 kT per
sweep, as heterofem limits its Newton update.

No dolfinx import here: the process measures FiPy alone.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("FIPY_SOLVERS", "scipy")

import numpy as np  # noqa: E402

LIMIT_KT = 10.0


def fermi_dirac_half(eta):
    """heterofem's F_1/2 approximation (Aymerich-Humet et al. 1981), NumPy only; the
    benchmark driver checks that it matches heterofem's function."""
    a, b, c = 2.584786, 2.105, 2.414214
    j, gamma = 0.5, 0.886226925
    base = b + eta + (np.abs(eta - b) ** c + a**c) ** (1.0 / c)
    unnormalised = 1.0 / ((j + 1) * 2 ** (j + 1) / base ** (j + 1) + np.exp(-eta) / gamma)
    return unnormalised / gamma


class SweepFailure(RuntimeError):
    pass


class FipyStack:
    """The stack on one 1D mesh given by its vertex coordinates ``z_nm`` (sorted)."""

    def __init__(self, params: dict, z_nm: np.ndarray, formulation: str = "slotboom",
                 tol: float = 1e-7, max_sweeps: int = 300, relax: float | None = None):
        import fipy as fp

        self.fp = fp
        self.p = params
        self.formulation = formulation
        #: convergence: largest sweep update of mu [eV] and phi [V]
        self.tol, self.max_sweeps = tol, max_sweeps
        #: FiPy's under-relaxation factor of the sweeps (None: none)
        self.relax = relax
        z = np.asarray(z_nm, dtype=float)
        self.dx = np.diff(z)
        self.mesh = fp.Grid1D(dx=self.dx)
        zc = 0.5 * (z[1:] + z[:-1])
        layers = params["layers"]
        idx = np.searchsorted([lay["top_nm"] for lay in layers], zc)
        self.layer_index = np.minimum(idx, len(layers) - 1)

        def cellwise(key):
            vals = np.array([lay.get(key) if lay.get(key) is not None else 0.0
                             for lay in layers], dtype=float)
            return vals[self.layer_index]

        self.kT = params["kT_eV"]
        self.N_ref = params["N_ref_m3"]
        scale = params["RHO_SCALE"] * 2.0 * params["Q_E"] * self.N_ref  # V/nm^2 per unit c
        self.eps = cellwise("eps_zz") / scale
        self.k_tf = cellwise("k_tf") / scale
        self.rho_src = params["RHO_SCALE"] * cellwise("rho_fixed_C_m3") / scale
        self.qR = params["RHO_SCALE"] * params["Q_E"] / scale  # per m^-3 of electrons
        self.n_c = cellwise("n_c_m3")
        self.dEc = cellwise("dEc_eV")
        self.semi = np.array([lay.get("n_c_m3") is not None for lay in layers])[self.layer_index]
        self.n_hat = cellwise("n_hat")
        self.E_f = cellwise("E_f_eV")
        D_si = cellwise("D_zz_m2_s")
        self.t_ref = 1e-18 / float(np.max(D_si))  # s
        self.D = D_si / float(np.max(D_si))
        self.theta0 = cellwise("theta0")

        m = self.mesh
        cv = lambda value=0.0: fp.CellVariable(mesh=m, value=value)  # noqa: E731
        self.x = fp.CellVariable(mesh=m, name=formulation)  # mu [eV] or u (Slotboom)
        self.phi = fp.CellVariable(mesh=m, name="phi", value=0.0)
        self.phi.constrain(0.0, m.facesLeft)
        self.mu_ref = 0.0
        self.c_old = np.zeros(m.numberOfCells)
        # coefficients, refreshed before every sweep
        self.mob, self.sxx, self.sxp, self.src_x = cv(), cv(), cv(), cv()
        self.spp, self.spx, self.src_phi = cv(), cv(), cv()
        eps_f = cv(self.eps).harmonicFaceValue
        Dt, It = fp.DiffusionTerm, fp.ImplicitSourceTerm
        x, phi = self.x, self.phi
        # (flux) - (storage)/dt = 0  and  div(eps grad phi) - k phi + rho = 0, linearised:
        eq_x = (Dt(coeff=self.mob.harmonicFaceValue, var=x) - It(coeff=self.sxx, var=x)
                - It(coeff=self.sxp, var=phi) - self.src_x == 0)
        eq_phi = (Dt(coeff=eps_f, var=phi) - It(coeff=self.spp, var=phi)
                  + It(coeff=self.spx, var=x) + self.src_phi == 0)
        self.coupled = eq_x & eq_phi
        self.eq_init = Dt(coeff=eps_f, var=phi) - It(coeff=self.spp, var=phi) + self.src_phi == 0
        # one direct solve per sweep (FiPy's default LU would skip a solve whose residual is
        # small relative to the right-hand side, which stalls the sweeps)
        self.solver = fp.LinearLUSolver(tolerance=0.0, iterations=1)
        self.stats = {"sweeps": 0, "steps": 0}

    # -- constitutive ------------------------------------------------------------------------
    def c_of(self, x, phi):
        """Scaled concentration of the state."""
        if self.formulation == "mu":
            return self.n_hat * np.exp((x - self.E_f - 2.0 * phi) / self.kT)
        return self.n_eff(phi) * x

    def n_eff(self, phi):
        return self.n_hat * np.exp((self.mu_ref - self.E_f - 2.0 * phi) / self.kT)

    def electrons(self, phi):
        """n [m^-3] and dn/dphi [m^-3/V]."""
        eta = (phi - self.dEc) / self.kT
        h = 1e-6
        n = np.where(self.semi, self.n_c * fermi_dirac_half(eta), 0.0)
        dn = np.where(self.semi, self.n_c * (fermi_dirac_half(eta + h)
                                             - fermi_dirac_half(eta - h)) / (2 * h) / self.kT, 0.0)
        return n, dn

    def _poisson(self, phi, c, c_x, c_phi, x):
        """Poisson coefficients with the vacancy charge c linearised (c_x, c_phi)."""
        n, dn = self.electrons(phi)
        self.spp.setValue(self.k_tf + self.qR * dn - c_phi)
        self.spx.setValue(c_x)
        self.src_phi.setValue(self.rho_src - self.qR * (n - dn * phi) + c - c_x * x - c_phi * phi)

    # -- solves ------------------------------------------------------------------------------
    def initial_state(self) -> None:
        """Poisson with the initial vacancies (theta0 per layer), then mu (or u) from theta0."""
        c0 = self.n_hat * self.theta0
        zero = np.zeros_like(c0)
        for _ in range(self.max_sweeps):
            phi = self.phi.value.copy()
            self._poisson(phi, c0, zero, zero, zero)
            self.eq_init.sweep(var=self.phi, solver=self.solver)
            step = float(np.max(np.abs(self.phi.value - phi)))
            if step > LIMIT_KT * self.kT:
                self.phi.setValue(phi + LIMIT_KT * self.kT / step * (self.phi.value - phi))
            if step < self.tol:
                break
        else:
            raise SweepFailure("FiPy: the initial Poisson solve did not converge")
        mu0 = self.E_f + 2.0 * self.phi.value + self.kT * np.log(self.theta0)
        if self.formulation == "mu":
            self.x.setValue(mu0)
        else:
            self.mu_ref = float(np.max(mu0))
            self.x.setValue(np.exp((mu0 - self.mu_ref) / self.kT))
        self.c_old = self.c_of(self.x.value, self.phi.value)

    def step(self, dt_s: float) -> int:
        """One backward-Euler step of dt_s seconds; returns the number of sweeps (each one
        :meth:`_sweep`, the update limited by :meth:`_limit`)."""
        dt = dt_s / self.t_ref
        for k in range(1, self.max_sweeps + 1):
            x, phi = self.x.value.copy(), self.phi.value.copy()
            self._sweep(x, phi, dt)
            step = self._limit(x, phi)
            if not np.isfinite(step):
                raise SweepFailure(f"FiPy: non-finite sweep (dt = {dt_s} s)")
            if step < self.tol:
                break
        else:
            raise SweepFailure(f"FiPy: no convergence in {self.max_sweeps} sweeps (dt = {dt_s} s)")
        self.c_old = self.c_of(self.x.value, self.phi.value)
        self.stats["sweeps"] += k
        self.stats["steps"] += 1
        return k

    def _sweep(self, x: np.ndarray, phi: np.ndarray, dt: float) -> None:
        """One sweep of the coupled per-variable equations from the state (x, phi)."""
        c = self.c_of(x, phi)
        if self.formulation == "mu":
            c_x = c / self.kT  # dc/dmu
            self.mob.setValue(self.D * c / self.kT)
        else:
            c_x = self.n_eff(phi)  # dc/du
            self.mob.setValue(self.D * c_x)
        c_phi = -2.0 * c / self.kT
        self.sxx.setValue(c_x / dt)
        self.sxp.setValue(c_phi / dt)
        self.src_x.setValue((c - c_x * x - c_phi * phi - self.c_old) / dt)
        self._poisson(phi, c, c_x, c_phi, x)
        self.coupled.sweep(dt=dt, solver=self.solver, underRelaxation=self.relax)

    def _limit(self, x_old, phi_old) -> float:
        """Limit the update to 10 kT in each potential; returns the largest change of mu or
        phi [eV, V] before limiting."""
        cap = LIMIT_KT * self.kT
        phi = self.phi.value
        dphi = phi - phi_old
        x = self.x.value
        if self.formulation == "mu":
            dmu = x - x_old
            big = max(float(np.max(np.abs(dmu))), float(np.max(np.abs(dphi))))
            if big > cap:
                s = cap / big
                self.x.setValue(x_old + s * dmu)
                self.phi.setValue(phi_old + s * dphi)
            return big
        # Slotboom: the change of mu is kT ln(u_new/u_old); u must stay positive
        with np.errstate(divide="ignore", invalid="ignore"):
            dmu = np.where(x > 0, self.kT * np.log(np.abs(x / x_old)), -1e3 * self.kT)
        big = max(float(np.max(np.abs(dmu))), float(np.max(np.abs(dphi))))
        if big > cap:
            dmu = np.clip(dmu, -cap, cap)
            self.x.setValue(x_old * np.exp(dmu / self.kT))
            if np.max(np.abs(dphi)) > cap:
                self.phi.setValue(phi_old + cap / float(np.max(np.abs(dphi))) * dphi)
        return big

    # -- outputs -----------------------------------------------------------------------------
    def inventory(self) -> dict[str, float]:
        """Vacancies per area in each layer [m^-2] (midpoint rule on the cells)."""
        c = self.N_ref * self.c_of(self.x.value, self.phi.value)
        return {lay["name"]: float(np.sum((c * self.dx)[self.layer_index == i]) * 1e-9)
                for i, lay in enumerate(self.p["layers"])}

    def potential_drop(self) -> float:
        """phi(top) - phi(bottom) [V]; at the top face (zero flux) phi is its cell's value."""
        return float(self.phi.faceValue.value[-1])


def run(params: dict, z_nm, schedule: list[float], marks: list[float],
        formulation: str = "slotboom", **kwargs) -> dict:
    """Initial state and the time loop on the given schedule; scalars at the marked times.
    A sweep failure is reported (``failed``), not raised."""
    t0 = time.perf_counter()
    cls = FipyVectorStack if formulation == "vector" else FipyStack
    model = cls(params, np.asarray(z_nm), formulation=formulation, **kwargs)
    t_setup = time.perf_counter()
    out = {"cells": int(model.mesh.numberOfCells), "unknowns": 2 * int(model.mesh.numberOfCells),
           "formulation": formulation, "max_sweeps": model.max_sweeps, "tol": model.tol,
           "scalars": {}}
    t_init = t_setup
    try:
        model.initial_state()
        t_init = time.perf_counter()
        t = 0.0
        for dt in schedule:
            model.step(dt)
            t += dt
            for m in marks:
                if abs(t - m) <= 1e-9 * m:
                    out["scalars"][f"{m:g}"] = {"inventory_per_m2": model.inventory(),
                                                "potential_drop_V": model.potential_drop()}
    except SweepFailure as exc:
        out["failed"] = str(exc)
    t_end = time.perf_counter()
    out.update(setup_s=t_setup - t0, initial_state_s=t_init - t_setup, time_loop_s=t_end - t_init,
               wall_s=t_end - t0, steps=model.stats["steps"], sweeps=model.stats["sweeps"])
    return out


class FipyVectorStack(FipyStack):
    """The Slotboom stack as an expert FiPy user writes it (issue #26 item 5).

    - One rank-1 CellVariable ``v = (u, phi)`` and one equation with matrix coefficients (a
      2 x 2 diffusion tensor per face, a 2 x 2 implicit source per cell, a convection term
      coupling u's flux to phi), built once; only the coefficient values change per sweep.
      FiPy assembles one term set for the vector variable instead of the per-variable
      coupled form (``eq_x & eq_phi``) of :class:`FipyStack`.
    - Newton-consistent flux: J = -D n_eff(phi) grad u depends on phi through n_eff; its
      derivative, d J / d phi = (2/kT) D n_eff grad u, enters as an implicit central-difference
      convection term on phi, with its explicit counterpart in the source (they cancel at
      convergence), instead of lagging n_eff one sweep.
    - Face mobilities: harmonic means of the cells' values on interior faces, zero on the two
      boundary faces (blocking ends). That lets one vector constraint (value 0 at the bottom
      face) fix phi = 0 there while u's zero mobility keeps its end blocking.
    - Solver: FiPy's LinearLUSolver of the suite in FIPY_SOLVERS (scipy: SuperLU; petsc: PETSc
      LU), one solve per sweep.
    """

    def __init__(self, params: dict, z_nm: np.ndarray, **kwargs):
        kwargs["formulation"] = "slotboom"
        super().__init__(params, z_nm, **kwargs)
        self.formulation = "vector"  # reported; the constitutive law is the Slotboom one
        fp, m = self.fp, self.mesh
        nf, nc = m.numberOfFaces, m.numberOfCells
        self.v = fp.CellVariable(mesh=m, elementshape=(2,), name="u_phi", value=0.0)
        self.v.constrain(0.0, m.facesLeft)
        self.face_D = fp.FaceVariable(mesh=m, elementshape=(2, 2), value=0.0)
        self.face_w = fp.FaceVariable(mesh=m, elementshape=(1, 2, 2), value=0.0)
        self.cell_S = fp.CellVariable(mesh=m, elementshape=(2, 2), value=0.0)
        self.cell_b = fp.CellVariable(mesh=m, elementshape=(2,), value=0.0)
        # interior faces: face i lies between cells i-1 and i (Grid1D)
        self.left, self.right = np.arange(0, nc - 1), np.arange(1, nc)
        D = np.zeros((2, 2, nf))
        D[1, 1, 1:-1] = self._harmonic(self.eps)
        D[1, 1, 0], D[1, 1, -1] = self.eps[0], self.eps[-1]
        self._D = D
        self.face_D.setValue(D)
        self.eq_vec = (fp.DiffusionTerm(coeff=self.face_D, var=self.v)
                       + fp.CentralDifferenceConvectionTerm(coeff=self.face_w, var=self.v)
                       - fp.ImplicitSourceTerm(coeff=self.cell_S, var=self.v)
                       + self.cell_b == 0)
        self._dzc = np.diff(m.cellCenters.value[0])  # centre-to-centre distances

    def _harmonic(self, a):
        a0, a1 = a[self.left], a[self.right]
        dl, dr = self.dx[self.left], self.dx[self.right]
        return (dl + dr) / (dl / np.where(a0 > 0, a0, 1e-300) + dr / np.where(a1 > 0, a1, 1e-300)) \
            * ((a0 > 0) & (a1 > 0))

    def _sweep(self, x: np.ndarray, phi: np.ndarray, dt: float) -> None:
        """One Newton sweep of the vector equation from the state (x, phi)."""
        kT = self.kT
        ne = self.n_eff(phi)
        c = ne * x
        c_x, c_phi = ne, -2.0 * c / kT
        mob_f = self._harmonic(self.D * ne)
        D = self._D
        D[0, 0, 1:-1] = mob_f
        self.face_D.setValue(D)
        # d(flux of u)/d phi: the face mobility's phi-derivative times the face gradient of
        # u, with d mob_f / d phi ~ -(2/kT) mob_f (both cells' n_eff scale alike)
        w = np.zeros((1, 2, 2, self.mesh.numberOfFaces))
        gu = (x[self.right] - x[self.left]) / self._dzc
        w[0, 0, 1, 1:-1] = -(2.0 / kT) * mob_f * gu
        self.face_w.setValue(w)
        n, dn = self.electrons(phi)
        S = np.zeros((2, 2, x.size))
        S[0, 0], S[0, 1] = c_x / dt, c_phi / dt
        S[1, 1] = self.k_tf + self.qR * dn - c_phi
        S[1, 0] = -c_x
        self.cell_S.setValue(S)
        # explicit part of the convection term: div(w phi_old) with central face values
        phif = np.zeros(self.mesh.numberOfFaces)
        phif[1:-1] = 0.5 * (phi[self.left] + phi[self.right])
        flux = w[0, 0, 1] * phif
        div_w_phi = (flux[1:] - flux[:-1]) / self.dx
        b = np.zeros((2, x.size))
        b[0] = -(c - c_x * x - c_phi * phi - self.c_old) / dt - div_w_phi
        b[1] = self.rho_src - self.qR * (n - dn * phi) + c - c_x * x - c_phi * phi
        self.cell_b.setValue(b)
        self.v.setValue(np.vstack([x, phi]))
        self.eq_vec.sweep(var=self.v, dt=dt, solver=self.solver)
        self.x.setValue(self.v.value[0])
        self.phi.setValue(self.v.value[1])
