# Two commands do all set-up on a fresh machine: `make demo` and `make test` (`make demo-full`: the full-size demo).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0

.PHONY: install demo demo-full test bench bench-keras clean

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

# The Keras reference engine for bench/train.py: TensorFlow lives in its own environment, so it is
# never a lociflow dependency and never slows `make test`.
KERAS_VENV := bench/.venv-keras
$(KERAS_VENV)/bin/python:
	$(PYTHON) -m venv $(KERAS_VENV)
	$(KERAS_VENV)/bin/pip install --quiet --upgrade pip
	$(KERAS_VENV)/bin/pip install --quiet "torch==$(TORCH_VERSION)"
	$(KERAS_VENV)/bin/pip install --quiet tensorflow-cpu -e .

bench-keras: $(KERAS_VENV)/bin/python
	$(KERAS_VENV)/bin/python bench/train.py --reference keras --threads 1
