"""What the RuO2/TiO2(110) work-function study (:mod:`.ruo2_work_function_study`) fits, varies
and compares with: data, not code. Switching the physics is a change here and in the ledger
(problems/ledgers/ruo2_tio2_110_work_function.toml), not in the pipeline.

Everything measured comes from Jeong et al., Nat. Commun. (2026) (seed 002): the KPFM points
(problems/reference/ruo2_tio2_110_work_function.csv), the ptychography of the 2.5/3.8/2.5 nm
TiO2/RuO2/TiO2 trilayer, the RSMs and the transport analysis. The measured intervals below
turn the paper's words ("~7 nm", "over 1 eV", "nearly zero") into numbers; they were written
down before the model's predictions were looked at, with the reason next to each.
"""

from __future__ import annotations

from heterofem.studies import PROBLEMS

#: the study's configs: the thickness series and the ptychography trilayer
BILAYER = PROBLEMS / "ruo2_tio2_110_polar_1d.toml"
TRILAYER = PROBLEMS / "tio2_ruo2_tio2_110_trilayer_1d.toml"

#: the label the report and figure carry: which interface mechanism the configs use
MECHANISM = "flexoelectric coupling to the solved strain step + per-pair interface table"

#: the scanned config key and the thickness grids (each contains the KPFM thicknesses and the
#: RSM thicknesses 4.0 and 6.5 nm)
THICKNESS_KEY = "layers.film.thickness_nm"
THICKNESSES_NM = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 6.5, 7.0, 8.0, 10.0, 12.0, 17.2)
#: the sensitivities' grid (fewer runs; enough points around the peak and the minimum)
SENSITIVITY_THICKNESSES_NM = (1.5, 2.5, 3.5, 4.0, 5.0, 6.5, 8.0, 10.0, 17.2)
#: the reduced grid of the tests (tests/problems/test_study_ruo2.py)
REDUCED_THICKNESSES_NM = (1.5, 3.5, 4.0, 6.5, 17.2)

#: the KPFM points the fit may use: thickness [nm] -> Phi [eV], and the assumed 1-sigma (the
#: paper gives standard errors only in its figure)
KPFM_EV = {1.5: 4.25, 3.5: 5.40, 17.2: 5.05}
SIGMA_EV = 0.05
#: the ledger's [study].data items of those points (names in the report)
KPFM_DATA = {1.5: "KPFM Phi = 4.25 eV at 1.5 nm", 3.5: "KPFM Phi = 5.40 eV at 3.5 nm (the peak)",
             17.2: "KPFM Phi = 5.05 eV at 17.2 nm"}

#: the fitted parameters (at most three; ledger names), with the bounds of the least squares
#: (the flexocoupling within the range its database entry gives, -1 to -100 V; a fit at a
#: bound is reported as such) and the points they are fitted to (at most the three KPFM
#: points). "start": where the least squares starts: the optimum of earlier runs of the same
#: fit (first started from F = -60 V and the database's a1 and g; the run of 2026-12-06
#: started from -99.98 V, 1.007e9, 1.634e-8 reached -100 V, 9.969e8, 1.636e-8 but stopped at
#: its evaluation limit), so that a rerun converges in a few runs and checks that it is one
FIT = (
    {"name": "RuO2.flexo_coupling", "low": -100.0, "high": -1.0, "start": -100.0},
    {"name": "RuO2.landau_a1", "low": 1.0e8, "high": 1.0e10, "start": 9.969e8},
    {"name": "RuO2.gradient_energy", "low": 1.0e-10, "high": 1.0e-7, "start": 1.636e-8},
)
FIT_POINTS_NM = (1.5, 3.5, 17.2)

#: what it means when a fitted knob ends on a bound of its fit range (the report's Fit
#: section prints the note of each knob the fit leaves on a bound)
BOUND_NOTES = {
    "RuO2.flexo_coupling": (
        "`RuO2.flexo_coupling` ends on the -100 V bound. The range -1 to -100 V is the "
        "literature order of magnitude of a flexocoupling (Kogan's estimate e/(4 pi eps0 a) ~ "
        "1-10 V; Zubko et al., Annu. Rev. Mater. Res. 43, 387 (2013)) extended by a decade. "
        "The KPFM points push |F| beyond it: with this mechanism the interface field needed "
        "for a > 1 eV polarization-induced rise needs a flexocoupling above 100 V, i.e. more "
        "than ten times the literature scale. The range is NOT widened to follow the data "
        "(that would be tuning a free field, not testing a mechanism); the misses that follow "
        "from the too-small interface field are reported as misses."),
}

#: values set from a fitted knob in configs that name it differently: {config stem:
#: [(ledger-style name set, fitted name, factor)]} (the old mechanism's per-facet fields)
TIES: dict[str, list[tuple[str, str, float]]] = {}


def tied(sample: dict, stem: str) -> dict:
    """The sample with the TIES of this config (values set from a fitted knob)."""
    return {**sample, **{name: sample[src] * f for name, src, f in TIES.get(stem, [])
                         if src in sample}}

#: ledger names not varied in the sensitivities and the band, with the reason
NOT_VARIED = {
    "boundary.bottom.phi_V": "a gauge (the energy zero)",
}

#: the compared quantities: output name -> (label, unit, measured text, measured interval or
#: None, whether the fit used it, the paper's source). Intervals: the paper's words as numbers;
#: a stated KPFM value +- SIGMA_EV.
MEASURED = {
    "phi_1.5nm_eV": ("Phi at 1.5 nm", "eV", "4.25 eV", (4.20, 4.30), False, "KPFM, Fig. 2b"),
    "phi_3.5nm_eV": ("Phi at 3.5 nm", "eV", "5.40 eV", (5.35, 5.45), False, "KPFM, Fig. 2b"),
    "phi_peak_eV": ("Phi at its maximum", "eV", "5.40 eV (at 3.5 nm)", (5.35, 5.45), False,
                    "KPFM, Fig. 2b"),
    "phi_17.2nm_eV": ("Phi at 17.2 nm", "eV", "5.05 eV", (5.00, 5.10), False, "KPFM, Fig. 2b"),
    "t_peak_nm": ("thickness of the Phi maximum", "nm", "3.5 nm (t_c ~ 4 nm)", (3.0, 4.5),
                  False, "KPFM: maximum at 3.5 nm of the measured set (1.5, 3.5, ... nm)"),
    "t_min_nm": ("thickness of the Phi minimum after the peak", "nm", "~7 nm", (6.0, 8.0),
                 False, "KPFM: 'decreases up to ~7 nm' (+-1 nm: the spacing of the series)"),
    "phi_min_eV": ("Phi at that minimum", "eV", "not stated (below 5.05 eV)", (0.0, 5.05),
                   False, "KPFM: Phi decreases to ~7 nm, then rises linearly to 5.05 eV at "
                   "17.2 nm"),
    "modulation_eV": ("modulation max - min of Phi(t)", "eV", "over 1 eV (1.15 eV)",
                      (1.0, 1.5), False, "KPFM, the paper's Fig. 3 definition"),
    "pol_part_peak_eV": ("largest polarization-induced part (Phi - linear baseline)", "eV",
                         "> 1 eV (peak near 3.5 nm)", (1.0, 2.0), False,
                         "KPFM minus the paper's linear baseline, Fig. S15"),
    "t_pol_peak_nm": ("thickness of that largest part", "nm", "~3.5 nm (t_c ~ 4 nm)",
                      (3.0, 4.5), False, "Fig. S15 / Fig. 2b"),
    "u_plane_pm": ("plane-averaged polar displacement, trilayer", "pm", "~9 pm", (7.0, 11.0),
                   False, "ptychography Fig. 1d (+-2 pm: the scatter of the plane averages)"),
    "u_local_pm": ("largest local polar displacement", "pm", "17.4 pm", None, False,
                   "ptychography Fig. 1c: a single column; a 1D plane-averaged model has none"),
    "u_top_ratio": ("displacement at the top surface / its maximum", "", "nearly zero",
                    (0.0, 0.25), False, "ptychography Fig. S5"),
    "u_substrate_ratio": ("displacement in the substrate (> 2 nm below the buffer/film "
                          "interface) / its maximum", "", "nearly zero", (0.0, 0.25), False,
                          "ptychography Fig. S5"),
    "opposite_P": ("trilayer interfaces polarized oppositely (-sign(P_lower P_upper))", "",
                   "opposite (P from TiO2 into RuO2 at both)", (1.0, 1.0), False,
                   "ptychography Fig. 1c-e"),
    "t_comp_bilayer_nm": ("compensated interfacial layer, bilayer", "nm", "1.59 nm",
                          (1.27, 1.91), False, "transport, Fig. 4a (+-20 %: not given)"),
    "t_comp_trilayer_nm": ("compensated interfacial layers, trilayer (sum)", "nm", "0.71 nm",
                           (0.57, 0.85), False, "transport, Fig. 4b (+-20 %: not given)"),
    "retained_x_4nm": ("retained [001] misfit fraction at 4 nm", "", "fully strained",
                       (0.9, 1.0), False, "RSM Fig. 2c"),
    "retained_x_6.5nm": ("retained [001] misfit fraction at 6.5 nm", "", "partly relaxed",
                         (0.05, 0.9), False, "RSM Fig. 2d"),
    "retained_y_17.2nm": ("retained [1-10] misfit fraction at 17.2 nm", "",
                          "strained (persists to 17 nm)", (0.9, 1.0), False, "RSM Fig. S10d"),
    "hc_x_nm": ("critical thickness along [001]", "nm", "between 4 and 6.5 nm", (4.0, 6.5),
                False, "RSM Fig. 2c-d"),
}

#: outputs fixed by the fitted points when these thickness outputs fall on a fitted thickness
#: (then reported as "fitted", not as a test): the modulation's maximum and minimum, the
#: polarization-induced part at the peak (Phi there minus the fixed baseline)
DEPENDS_ON_THICKNESS = {"modulation_eV": ("t_peak_nm", "t_lowest_nm"),
                        "pol_part_peak_eV": ("t_pol_peak_nm",), "phi_peak_eV": ("t_peak_nm",)}

#: what a reader must know about a comparison, whatever its verdict (written before it)
_RSM = ("the strain law was chosen knowing the RSM (ledger: strain.law fitted); it has no "
        "parameter that was moved to it")
NOTES = {
    "retained_x_4nm": _RSM, "retained_x_6.5nm": _RSM, "retained_y_17.2nm": _RSM,
    "hc_x_nm": _RSM,
    "opposite_P": ("the flexocoupling's sign was chosen knowing the polarity at the interfaces; "
                   "that the two interfaces come out opposite follows from the geometry "
                   "(h = [F.eps] changes sign with the normal)"),
    "u_local_pm": "a 1D model has plane averages only",
    "phi_17.2nm_eV": ("the paper's linear baseline ends at W(RuO2) = the 17.2 nm value "
                      "(ledger: fitted)"),
}

#: why a prediction misses (written after the comparison; explanations, not retuning; the
#: numbers are those of the study's report of 2026-12-06)
_MONO = ("Phi(t) rises monotonically: the polarization-induced part peaks near 4 nm but stays "
         "below ~0.8 eV, and it falls after 4 nm more slowly (People-Bean relaxation: r_x = "
         "0.85 at 4 nm, 0.73 at 6.5 nm, ~0.5 at 17.2 nm) than the linear baseline rises")
_RSM_MISS = ("People-Bean with the database's elastic constants (RuO2: TiO2 x 1.25) gives "
             "h_c = 2.2 nm along [001], while the RSM sees the film fully strained at 4 nm; "
             "the relaxation is computed, not typed, and no nucleation kinetics is modelled")
MISS_REASONS: dict[str, str] = {
    "t_peak_nm": _MONO,
    "t_min_nm": "no minimum after a peak: " + _MONO,
    "phi_min_eV": "no minimum after a peak: " + _MONO,
    "pol_part_peak_eV": ("the flexocoupling ends at the -100 V bound of its range and the fit "
                         "trades it against a1: the 1.5 nm film keeps ~0.45 eV (Phi(1.5 nm) "
                         "~0.4 eV above KPFM), so the fit cannot raise the peak without raising "
                         "the 1.5 nm value"),
    "u_plane_pm": ("the interface P (~0.14 C/m^2) gives ~4.4 pm with Z* = 6; the field that "
                   "drives it is at the bound of the flexocoupling's range"),
    "u_substrate_ratio": ("P decays into the 2.5 nm TiO2 buffer over TiO2's correlation length "
                          "(hand-set gradient energy, Curie-Weiss a1): ~30 % of the peak is left "
                          "2 nm below the interface"),
    "t_comp_bilayer_nm": ("the model's measure (equivalent width of P on the RuO2 side, "
                          "docs/model.md) follows RuO2's correlation length at the fitted g and "
                          "a1* (~0.8 nm); the transport thickness also reflects suppressed "
                          "conduction, which the model does not compute"),
    "t_comp_trilayer_nm": ("each interface keeps ~0.9 nm, as in the bilayer: the model has no "
                           "mechanism that shrinks the layers when two opposite interfaces face "
                           "each other across 3.8 nm; the paper's reduction is not reproduced"),
    "retained_x_4nm": _RSM_MISS,
    "hc_x_nm": _RSM_MISS,
}

#: hits by the band-overlap rule whose nominal value misses (written after the comparison,
#: numbers of the report of 2026-12-06, 32 samples): what the hit rests on
def _edge(chi2: str) -> str:
    return ("only the band's upper edge reaches the measured interval: the samples that get "
            f"there have chi^2 = {chi2} at the three KPFM points (optimum 119), moved there "
            "along the weakly determined direction of the fit (smaller |F|, a1 and g together) "
            "and by the non-fitted parameters over their ledger ranges (eps_inf, the strain "
            "couplings, RuO2's elastic constants); a weak hit")


WEAK_HITS: dict[str, str] = {
    "pol_part_peak_eV": ("weak hit: the fitted model gives 0.75 eV (below 1 eV) with the "
                         "flexocoupling on its -100 V bound; " + _edge("194-237 (3 of 29)")),
    "u_plane_pm": ("weak hit: the fitted model gives 4.4 pm (measured ~9 pm; Z* = 6, "
                   "P ~ 0.14 C/m^2 at the bound of the flexocoupling); "
                   + _edge("121-237 (6 of 32 above 7 pm)")),
}
