"""The studies of heterofem: series and calibrations over the problem configs.

Each study is a module with ``main(argv) -> result`` (run it with
``python -m heterofem.studies.<name> --help``) that runs the read-only inputs of ``problems/``
through the Python API or the CLI and writes its tables and pictures to an output directory:

- :mod:`.ruo2_work_function_study`: the RuO2/TiO2(110) study of issue #22 in one command:
  fit (at most three parameters to the KPFM points), predictions against the paper with
  hit/miss, sensitivities and a Latin-hypercube band (spec: :mod:`.ruo2_study_spec`);
- :mod:`.ruo2_thickness_series`: RuO2/TiO2(110) work function against film thickness;
- :mod:`.calibrate_ruo2_work_function`: the RuO2 study's fit alone (writes the overlay);
- :mod:`.tio2_vo2_growth_study`: the TiO2-on-VO2 low-temperature epitaxy study;
- :mod:`.calibrate_tio2_epitaxy`: fits the amorphous film's vacancy formation energy.

Uncertainty toolkit for every study: :mod:`.uncertainty` (ledger knobs, finite-difference
sensitivities, Latin-hypercube bands, least-squares fits), :mod:`.uncertainty_models` (batch
models made of heterofem runs through ``heterofem sweep``), :mod:`.uncertainty_report`
(predictions table with hit/miss, Markdown/JSON/CSV).

Layout (paths below): problem configs and their parameter ledgers in ``problems/`` (inputs,
never written by a study), measured reference data in ``problems/reference/``, calibrated
values in ``studies/calibrated/*.toml`` (overlays a calibration writes and the studies apply,
:mod:`.overlay`), calibration reports in ``studies/reports/``.

The studies read the repository's ``problems/`` folder (from a source checkout, the editable
install); an installed wheel (the containers) finds it through the environment variable
``HETEROFEM_PROBLEMS``.
"""

from __future__ import annotations

import os
from pathlib import Path

#: this package's folder (``studies/`` of the checkout)
HERE = Path(__file__).resolve().parent
#: the repository root
ROOT = HERE.parent
#: the problem configs (read-only inputs) and their parameter ledgers
PROBLEMS = Path(os.environ.get("HETEROFEM_PROBLEMS", ROOT / "problems"))
#: measured reference data the studies compare with (CSV)
REFERENCE = PROBLEMS / "reference"
#: parameter ledgers of the studies (heterofem.solver.ledger)
LEDGERS = PROBLEMS / "ledgers"
#: the calibrations' reports (Markdown + JSON)
REPORTS = HERE / "reports"
#: the calibrated-value overlays (TOML) the calibrations write and the studies apply
CALIBRATED = HERE / "calibrated"
