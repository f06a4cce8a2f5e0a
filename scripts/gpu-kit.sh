#!/usr/bin/env bash
# Packs everything one device session needs into .gpu-kit/ (git-ignored), here, before the first
# `run` call: Node + Dawn + the Vulkan loader and NVIDIA's GL-vendor libraries, the Node bundles of
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
kit=.gpu-kit
mkdir -p "$kit/node_modules/webgpu/dist/linux-x64" "$kit/debs"
cp dist-node/bench.mjs dist-node/lab.mjs "$kit/"
[ -f dist-node/tensorcore-check.mjs ] && cp dist-node/tensorcore-check.mjs "$kit/"

# The runtime: the device machine has no Node, no npm and no network, so the kit carries Node
# itself, Dawn for Node (the optional `webgpu` dependency; linux-x64 only), compressed, and the
# Debian packages of the Vulkan loader and of the GL-vendor libraries NVIDIA's Vulkan driver loads.
dawn=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] || { echo "gpu-kit: no $dawn: run 'npm ci' first (the 'webgpu' optional dependency)" >&2; exit 1; }
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$kit/node_modules/webgpu/"
[ -f "$kit/$dawn.xz" ] || xz -T0 -6 -c "$dawn" > "$kit/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
[ -f "$kit/node.xz" ] || xz -T0 -6 -c "$(command -v node)" > "$kit/node.xz"
if ! ls "$kit"/debs/libvulkan1_*.deb >/dev/null 2>&1; then
  (cd "$kit/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
fi
# Sourced on the device machine by scripts/device-run.sh: unpacks Node and Dawn, installs the
# libraries, points the Vulkan loader at NVIDIA's driver, and defines gpu-node.
cat > "$kit/on-device.sh" <<'EOS'
_kit=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -x /tmp/gpu-node ] || { xz -d -c "$_kit/node.xz" > /tmp/gpu-node && chmod +x /tmp/gpu-node; }
_dawn="$_kit/node_modules/webgpu/dist/linux-x64/dawn.node"
[ -f "$_dawn" ] || xz -d -c "$_dawn.xz" > "$_dawn"
for _deb in "$_kit"/debs/*.deb; do dpkg -x "$_deb" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export XDG_RUNTIME_DIR=/tmp
gpu-node() { /tmp/gpu-node "$@"; }
EOS

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
