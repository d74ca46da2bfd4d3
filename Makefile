# Two commands do all set-up on a fresh machine: `make demo` and `make test` (`make demo-full`: the full-size demo).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0

.PHONY: install demo demo-full test bench clean

$(BIN)/lociflow: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned, so that nothing later pulls a CUDA build
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/lociflow

install: $(BIN)/lociflow

# a few minutes on two cores: 6,000 loci, sequence only, 6 epochs (examples/demo.yaml)
demo: install
	bash examples/demo.sh

# the full-size run: every locus, RNA structure, 20 epochs (examples/pum2.yaml)
demo-full: install
	bash examples/demo.sh full

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/preprocess.py

clean:
	rm -rf $(VENV) demo_out demo_out_full .pytest_cache
