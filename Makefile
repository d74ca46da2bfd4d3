# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0

.PHONY: install demo test bench clean

$(BIN)/lociflow: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned, so that nothing later pulls a CUDA build
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/lociflow

install: $(BIN)/lociflow

demo: install
	bash examples/demo.sh

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/preprocess.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
