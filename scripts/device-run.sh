#!/usr/bin/env bash
# Runs on the NVIDIA device machine (no Node there), from the project root, after scripts/gpu-kit.sh
# packed .gpu-kit/ here. Each argument is one part; each part has its own time limit so one slow part
# cannot eat the whole call, and writes under $OUT (the folder the device tool brings back):
#   bench          kernel tables + training steps beside TensorFlow.js  -> $OUT/bench/, bench.txt
#   tensorcore     subgroup-matrix matmul correctness + TFLOP/s          -> $OUT/tensorcore.json
#   lab:NAME       lab preset NAME (resumable: pass LAB_RESULTS=dir with an earlier call's output)
#   torch          PyTorch eager training steps, when python3 with torch exists there
# Example: bash scripts/device-run.sh bench tensorcore lab:analysis
set -uo pipefail
source .gpu-kit/on-device.sh
out=${OUT:-/tmp/wgtrain-out}
mkdir -p "$out"
export WGTRAIN_FASHION_MNIST_DIR=${WGTRAIN_FASHION_MNIST_DIR:-$PWD/.gpu-kit/fashion-mnist}
labdir=${LAB_RESULTS:-$out/lab}
part_limit=${PART_LIMIT_S:-240}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/nvidia-smi.txt" 2>&1 || true
for part in "$@"; do
  echo "== $part ($(date -u +%H:%M:%S))" | tee -a "$out/parts.log"
  case $part in
    bench) WGTRAIN_BENCH_OUT=$out/bench timeout "$part_limit" /tmp/gpu-node .gpu-kit/bench.mjs > "$out/bench.txt" 2>&1 ;;
    tensorcore) timeout "$part_limit" /tmp/gpu-node .gpu-kit/tensorcore-check.mjs > "$out/tensorcore.json" 2> "$out/tensorcore.err" ;;
    lab:*) timeout "$part_limit" /tmp/gpu-node .gpu-kit/lab.mjs --preset "${part#lab:}" --out "$labdir/${part#lab:}" --no-progress > "$out/lab-${part#lab:}.txt" 2>&1 ;;
    torch) timeout "$part_limit" python3 bench/torch_train_step.py --out "$out/torch.json" > /dev/null 2> "$out/torch.txt" ;;
    *) echo "device-run: unknown part '$part' (bench, tensorcore, lab:NAME, torch)" ;;
  esac
  echo "   exit $? ($(date -u +%H:%M:%S))" | tee -a "$out/parts.log"
done
