#!/usr/bin/env bash
# The GPU check: one command on a GPU machine without internet (see README, "A GPU check"). It runs the tiny
# default run's rounds with the hf backend on CUDA in bf16 and one FSDP fine-tune step over 1 GPU, and reports
# what ran and how fast (benchmarks/gpu_check.py; report in gpu-check/report.md).
#
#   here, with internet:   bash benchmarks/gpu_check_wheels.sh      # wheels of what the GPU machine lacks
#   copy the repository (benchmarks/wheels/ included) to the GPU machine, then there:
#                          bash benchmarks/gpu_check.sh              # under 10 minutes on one GPU
#   without a GPU:         bash benchmarks/gpu_check.sh --cpu        # the same steps, small, on the CPU
#
# The GPU machine's python3 must have torch (a CUDA build), transformers, peft and accelerate. The rest (Snakemake,
# pandas, pyarrow, matplotlib, jsonschema) is installed from benchmarks/wheels/ into gpu-check/venv, a venv that
# sees the machine's own packages. GPU_CHECK_PYTHON=<python> skips that and uses a Python that has everything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=${GPU_CHECK_OUT:-$repo/gpu-check}
mkdir -p "$out"
python=${GPU_CHECK_PYTHON:-}
if [ -z "$python" ]; then
  if [ ! -x "$out/venv/bin/python" ]; then
    [ -d "$here/wheels" ] || { echo "gpu_check: no $here/wheels: run benchmarks/gpu_check_wheels.sh where there is internet, and copy the folder here" >&2; exit 1; }
    python3 -m venv --system-site-packages "$out/venv"
    "$out/venv/bin/python" -m pip install -q --no-index --find-links "$here/wheels" \
      -r "$here/gpu_check_requirements.txt"
  fi
  python=$out/venv/bin/python
fi
# tpt from this checkout (no install needed); Snakemake's jobs inherit it
export PYTHONPATH=$repo/src${PYTHONPATH:+:$PYTHONPATH}
export PATH=$(dirname "$python"):$PATH
exec timeout 900 "$python" "$here/gpu_check.py" --out "$out" "$@"
