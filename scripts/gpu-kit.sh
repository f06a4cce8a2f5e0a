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
cp "$data"/t10k-*-ubyte.gz .gpu-kit/fashion-mnist/
# The training split cut to its first KIT_TRAIN samples (default 12800, the most any preset uses;
# the loader takes the first trainSize samples, so the data are the same): the full file would put
# the kit near the device tool's 64 MiB carry limit.
KIT_TRAIN=${KIT_TRAIN:-12800} python3 - "$data" .gpu-kit/fashion-mnist <<'PY'
import gzip, os, struct, sys
src, dst, keep = sys.argv[1], sys.argv[2], int(os.environ['KIT_TRAIN'])
for name in ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'):
    raw = gzip.open(os.path.join(src, name)).read()
    ndim = raw[3]
    dims = list(struct.unpack('>' + 'I' * ndim, raw[4:4 + 4 * ndim]))
    per = 1
    for d in dims[1:]:
        per *= d
    n = min(keep, dims[0])
    body = raw[4 + 4 * ndim: 4 + 4 * ndim + n * per]
    with gzip.open(os.path.join(dst, name), 'wb') as f:
        f.write(raw[:4] + struct.pack('>' + 'I' * ndim, n, *dims[1:]) + body)
PY
cp scripts/device-run.sh .gpu-kit/
du -sh .gpu-kit
