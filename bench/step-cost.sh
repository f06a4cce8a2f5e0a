#!/usr/bin/env bash
# The step-cost comparison of docs/performance.md ("A cheap training step on a software adapter"):
# ROUNDS rounds (default 3), each running back to back
#   1. PyTorch eager on the CPU      bench/torch_train_step.py mlp-cpu (Debian's python3-torch), with its
#                                    default threads and with as many threads as the machine has cores
#   2. wgtrain's Trainer step         bench/step-profile.ts: Fashion-MNIST on the GPU, metrics every 25 steps
#   3. the same with WGTRAIN_PATIENT_WAIT=off (Dawn polls while the GPU works, as before 2026-12-03)
# then once the bench's training row, wgtrain beside TensorFlow.js on the same adapter (a fixed
# synthetic batch; TF.js takes about 0.6 s a step on SwiftShader). Prints each measurement and,
# per round, wgtrain / PyTorch. Run it on an otherwise idle machine: the rounds alternate so that
# drift hits all three alike, but another job on the same cores changes every number.
#
#   bash bench/step-cost.sh            # ROUNDS=5 STEPS=400 TF=0 bash bench/step-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-400}
TF=${TF:-1}
PYTHON=${PYTHON:-/usr/bin/python3}
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

node scripts/build-node.mjs bench/step-profile.ts > /dev/null
[ "$TF" = 1 ] && node scripts/build-node.mjs > /dev/null

# ms per step of PyTorch's training step (extra arguments: --threads N).
torch_ms() { "$PYTHON" bench/torch_train_step.py mlp-cpu "$@" 2>&1 | awk '/ms\/step/ { for (i = 1; i <= NF; i++) if ($i == "ms/step") print $(i - 1) }'; }

echo "step-cost: MLP 784-32-32-10, batch 256, AdamW, dropout 0.1; $(nproc) cores; $(date -u +%FT%TZ)"
for r in $(seq 1 "$ROUNDS"); do
  torch=$(torch_ms)
  torchAll=$(torch_ms --threads "$(nproc)")
  ours=$(node dist-node/step-profile.mjs 256 32 "$STEPS" | awk '/^  wall/ { print $2 }')
  polling=$(WGTRAIN_PATIENT_WAIT=off node dist-node/step-profile.mjs 256 32 "$STEPS" | awk '/^  wall/ { print $2 }')
  awk -v r="$r" -v t="$torch" -v ta="$torchAll" -v n="$(nproc)" -v o="$ours" -v p="$polling" 'BEGIN {
    printf "round %d: PyTorch %.2f ms (%d threads: %.2f ms), wgtrain %.2f ms (%.2fx / %.2fx PyTorch), wgtrain polling %.2f ms (%.2fx / %.2fx)\n", r, t, n, ta, o, o / t, o / ta, p, p / t, p / ta }'
done
if [ "$TF" = 1 ]; then
  WGTRAIN_BENCH_TRAIN=mlp-cpu WGTRAIN_BENCH_MATMUL=none WGTRAIN_BENCH_DROPOUT=none WGTRAIN_BENCH_SHAPES=none \
    node dist-node/bench.mjs 2> /dev/null | grep -E "adapter|^model|^MLP" || true
fi
