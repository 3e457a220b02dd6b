#!/usr/bin/env bash
# Wheels for benchmarks/gpu_check.sh, into benchmarks/wheels/ (ignored by git): what the GPU machine lacks
# (benchmarks/gpu_check_requirements.txt: Snakemake and the table/plot libraries, with all their dependencies).
# Run it where there is internet, with the same Python version (python3 -V) and CPU architecture as the GPU
# machine: wheels with compiled code (numpy, pyarrow, ...) are made for one Python version.
#   PYTHON=python3.11 bash benchmarks/gpu_check_wheels.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
${PYTHON:-python3} -m pip wheel -q -w "$here/wheels" -r "$here/gpu_check_requirements.txt"
ls "$here/wheels" | wc -l | xargs echo "wheels in $here/wheels:"
