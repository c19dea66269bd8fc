# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv.
VENV      ?= .venv
BIN       := $(VENV)/bin
DEMO      ?= problems/demo_growth_2d_island.toml
DEMO_OUT  ?= results/demo
NP        ?= 2

.PHONY: venv demo test test-fast bench bench-quick docs gallery clean

venv:
	@scripts/bootstrap.sh

## The demo: a coupled problem (vacancies + electrons + crystallization front, TiO2 grown on a
## VO2 template with an island, 2D) in about a minute, and its pictures: results/demo/
## headline.png (kymograph of the front and the deposit), xi_map.png, delta_map.png,
## xi_animation.gif; summary.json, profiles.csv, fields
demo: venv
	$(BIN)/heterofem run $(DEMO) --out $(DEMO_OUT) --overwrite
	$(BIN)/heterofem plot $(DEMO_OUT)
	$(BIN)/heterofem plot $(DEMO_OUT) --animate --field xi
	@echo "demo: results and pictures in $(DEMO_OUT)/ (start with headline.png)"

## Run the whole test suite (serial tests, plus mpirun -n 2 tests in subprocesses)
test: venv
	$(BIN)/python -m pytest -q

## Skip the mpirun tests
test-fast: venv
	$(BIN)/python -m pytest -q -m "not mpi"

## Benchmarks (FiPy comparison needs the bench extra; ~40 min on the quiet 2 cores here; bench-quick ~1.5 min);
## benchmarks/results/report.md states each goal of issue #10 as a measured ratio
bench: venv
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	$(BIN)/python benchmarks/vacancy_poisson.py
	$(BIN)/python benchmarks/scipy_poisson.py
	$(BIN)/python benchmarks/coupled_cases.py
	$(BIN)/python benchmarks/assembly_cost.py
	$(BIN)/python benchmarks/sweep_throughput.py
	$(BIN)/python benchmarks/scaling.py --ranks 1 2
	$(BIN)/python benchmarks/scaling.py --ranks 1 2 --size-nm 0.2
	$(BIN)/python benchmarks/scaling.py --ranks 1 2 --size-nm 0.2 --solver picard
	$(BIN)/python benchmarks/meshing.py
	$(BIN)/python benchmarks/adaptivity.py
	$(BIN)/python benchmarks/setup_share.py
	$(BIN)/python benchmarks/fitted_flux.py
	$(BIN)/python benchmarks/fitted_flux.py --size small --flux exact
	$(BIN)/python benchmarks/fipy_fair.py
	cd benchmarks && ../$(BIN)/python solver_crossover.py
	cd benchmarks && ../$(BIN)/python solver_crossover_combos.py --combo crystal --scale 1 0.5 0.35 0.25 0.18
	cd benchmarks && ../$(BIN)/python solver_crossover_combos.py --combo polar --scale 1 0.6 0.4 0.3 0.22
	$(BIN)/python benchmarks/report.py

bench-quick: venv
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	$(BIN)/python benchmarks/vacancy_poisson.py --quick
	$(BIN)/python benchmarks/scipy_poisson.py --quick
	$(BIN)/python benchmarks/coupled_cases.py --quick
	$(BIN)/python benchmarks/meshing.py --quick
	$(BIN)/python benchmarks/fipy_fair.py --quick --flux exact
	$(BIN)/python benchmarks/report.py --dir benchmarks/results/quick

## The documentation site, offline: build/docs/html/index.html (Sphinx, warnings are errors);
## installs the docs extra (pinned in constraints.txt). `make gallery` redraws its pictures.
docs: venv
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[docs]"
	$(BIN)/python -m sphinx -W --keep-going -b html docs build/docs/html
	@echo "docs: open build/docs/html/index.html"

gallery: venv
	$(BIN)/python docs/gallery/make_gallery.py

clean:
	rm -rf results .pytest_cache build/docs
