#!/usr/bin/env bash
# GPU check (under 5 minutes on one GPU): tutorial-style loop vs the trainer on that GPU, then the time of
# one 60,000-image epoch (the embedded digits repeated 6 times: the machine needs no network).
#   bash benchmarks/gpu_check.sh            # prints the tables; needs CUDA and the package installed
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: nothing to check')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

echo "== throughput, batch 100, same GPU"
python benchmarks/throughput.py --device cuda --rounds 3

work=$(mktemp -d)
python - "$work" <<'PY'
import sys
from pathlib import Path
import numpy as np
from vanilla_gan.data import load_dataset, write_idx
images, labels = load_dataset("digits")
write_idx(Path(sys.argv[1]) / "train-images-idx3-ubyte", np.tile(images.numpy(), (6, 1, 1)))
write_idx(Path(sys.argv[1]) / "train-labels-idx1-ubyte", np.tile(labels.numpy(), 6))
PY
for precision in fp32 bf16; do
  for batch in 100 1024; do
    out="$work/run-$precision-$batch"
    vanilla-gan train --dataset "$work" --device cuda --epochs 3 --batch-size $batch --precision $precision \
      --eval-every 0 --seed 1 --out "$out" > /dev/null
    python - "$out" "$precision" "$batch" <<'PY'
import json, sys
last = json.loads(open(sys.argv[1] + "/metrics.jsonl").read().splitlines()[-1])
print(f"60,000-image epoch, {sys.argv[2]}, batch {sys.argv[3]}: {60000 / last['images_per_s']:.3f} s "
      f"({last['images_per_s']:,.0f} images/s, epoch 3 of 3)")
PY
  done
done
rm -rf "$work"
