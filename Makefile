# make demo: set everything up, then run the seed chapter's training with its figure.
# make test: set everything up (plus the dev tools), then lint, type-check, check the import
# contracts and run the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test bench fuzz lint data browser bytecode setup clean

demo: data bytecode
	$(BIN)/softmaxreg train --out runs/demo --overwrite
	@echo "figure: runs/demo/curves.svg (and curves.png)"

test: $(VENV)/.dev data browser bytecode lint
	$(BIN)/python -m pytest -q

bench: $(VENV)/.bench data bytecode
	$(BIN)/python bench/run.py

fuzz: $(VENV)/.dev
	FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -q tests/test_fuzz.py

# Style, types and the architecture's import contracts (pyproject.toml: [tool.importlinter]).
lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench scripts examples
	$(BIN)/ruff format --check src tests bench scripts examples
	$(BIN)/mypy
	$(BIN)/lint-imports

setup: $(VENV)/.installed

# The package and its runtime dependencies; torch is pinned to the CPU wheel (constraints.txt).
# A C compiler builds the fused engine's compiled step (without one it runs its PyTorch form).
$(VENV)/.installed: pyproject.toml setup.py constraints.txt src/softmaxreg/kernel/_fused_step.c
	bash scripts/ensure-command.sh cc "the fast fused engine needs it" gcc libc6-dev
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $@

# The dev tools and every optional extra, so that the suite exercises them all.
EXTRAS := dev,book,onnx,serve,sklearn
$(VENV)/.dev: $(VENV)/.installed pyproject.toml
	$(PIP) -e '.[$(EXTRAS)]'
	touch $@

$(VENV)/.bench: $(VENV)/.dev
	$(PIP) -e '.[$(EXTRAS),bench]'
	touch $@

# Fashion-MNIST: already verified, or Debian's dataset-fashion-mnist, or a download; else a
# message that says what to do.
data: $(VENV)/.installed
	bash scripts/ensure-data.sh $(BIN)/softmaxreg

# The package's bytecode, compiled ahead of use: where PYTHONDONTWRITEBYTECODE is set (as on
# this project's machines) Python would otherwise compile every module again on every start.
bytecode: $(VENV)/.installed
	$(BIN)/python -m compileall -q src > /dev/null

# Debian's chromium, for the HTML report's browser test.
browser:
	bash scripts/ensure-command.sh chromium "the report's browser test needs it" chromium

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
