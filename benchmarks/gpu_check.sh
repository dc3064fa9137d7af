#!/usr/bin/env bash
# GPU check (under 5 minutes on one GPU): the CUDA tests, the tutorial-style loop vs the trainer on that GPU,
# then the time of one 60,000-image epoch through the CLI (the embedded digits tiled 6 times: no network).
#   bash benchmarks/gpu_check.sh      # needs CUDA; uses the installed package, else the source tree (src/)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
$python -c "import vanilla_gan" 2>/dev/null || export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
$python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: nothing to check')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

status=0
echo "== CUDA tests"
$python -m pytest -q -n 0 -m gpu tests || status=1  # one process: the GPU is shared

echo "== throughput: tutorial-style loop (batch 100) vs vanilla-gan, 60,000-image epochs, same GPU"
$python benchmarks/throughput.py --device cuda --rounds 3 --repeat 6 --batch-sizes 100 || status=1
$python benchmarks/throughput.py --device cuda --rounds 3 --repeat 6 --batch-sizes 100 --project-batch-size 1024 || status=1

echo "== one 60,000-image epoch through the CLI (vanilla-gan train, epoch 3 of 3)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$python - "$work" <<'PY'
import sys
from pathlib import Path
import numpy as np
from vanilla_gan.data import load_dataset, write_idx
images, labels = load_dataset("digits")
write_idx(Path(sys.argv[1]) / "train-images-idx3-ubyte", np.tile(images.numpy(), (6, 1, 1)))
write_idx(Path(sys.argv[1]) / "train-labels-idx1-ubyte", np.tile(labels.numpy(), 6))
PY
echo "| precision | batch | 60,000-image epoch | images/s |"
echo "|---|---|---|---|"
for precision in fp32 bf16; do
  for batch in 100 1024; do
    out="$work/run-$precision-$batch"
    $python -m vanilla_gan train --dataset "$work" --device cuda --epochs 3 --batch-size $batch \
      --precision $precision --eval-every 0 --seed 1 --out "$out" > /dev/null || { status=1; continue; }
    $python - "$out" "$precision" "$batch" <<'PY'
import json, sys
last = json.loads(open(sys.argv[1] + "/metrics.jsonl").read().splitlines()[-1])
print(f"| {sys.argv[2]} | {sys.argv[3]} | {60000 / last['images_per_s']:.3f} s | {last['images_per_s']:,.0f} |")
PY
  done
done
exit $status
