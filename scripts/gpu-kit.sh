#!/usr/bin/env bash
# Packs everything one device session needs into .gpu-kit/ (git-ignored), here, before the first
# `run` call: Node + Dawn + the Vulkan loader (../shared/gpu/prepare-kit.sh), the Node bundles of
# the benchmark, the lab CLI and the tensor-core check, and the Fashion-MNIST IDX files (the device
# machine has no network and no Debian dataset package).
#
#   scripts/gpu-kit.sh            after `npm ci`, in the project root
#
# Then one device call (carry [".gpu-kit"]) runs scripts/device-run.sh with the parts wanted, e.g.
#   bash scripts/device-run.sh bench tensorcore lab:analysis
# and everything lands under $OUT. See bench/README.md ("On a GPU server") and docs/performance.md.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
node scripts/build-node.mjs bench/bench-node.ts --name bench src/cli/lab.ts --name lab
if [ -f bench/tensorcore-check.ts ]; then node scripts/build-node.mjs bench/tensorcore-check.ts --name tensorcore-check; fi
kit_bundles=(dist-node/bench.mjs dist-node/lab.mjs)
[ -f dist-node/tensorcore-check.mjs ] && kit_bundles+=(dist-node/tensorcore-check.mjs)
../shared/gpu/prepare-kit.sh "${kit_bundles[@]}"
data=${WGTRAIN_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
mkdir -p .gpu-kit/fashion-mnist
cp "$data"/*-ubyte.gz .gpu-kit/fashion-mnist/
cp scripts/device-run.sh .gpu-kit/
du -sh .gpu-kit
