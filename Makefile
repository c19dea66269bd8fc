# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv.
VENV      ?= .venv
BIN       := $(VENV)/bin
DEMO      ?= problems/tio2_vo2_tio2_001_2d_step.toml
DEMO_OUT  ?= results/demo
NP        ?= 2

.PHONY: venv demo test test-fast bench bench-quick clean

venv:
	@scripts/bootstrap.sh

## Run the default problem and draw it (results/demo/: summary.json, profiles.csv, fields, PNG)
demo: venv
	$(BIN)/heterofem run $(DEMO) --out $(DEMO_OUT) --overwrite
	$(BIN)/heterofem plot $(DEMO_OUT)
	@echo "demo: results and pictures in $(DEMO_OUT)/"

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
	$(BIN)/python benchmarks/report.py

bench-quick: venv
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	$(BIN)/python benchmarks/vacancy_poisson.py --quick
	$(BIN)/python benchmarks/scipy_poisson.py --quick
	$(BIN)/python benchmarks/coupled_cases.py --quick
	$(BIN)/python benchmarks/report.py --dir benchmarks/results/quick

clean:
	rm -rf results .pytest_cache
