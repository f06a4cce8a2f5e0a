// Tests run the real WGSL kernels on whatever Vulkan driver Dawn finds. On machines without a GPU
// (here and in CI) that is SwiftShader, shipped in Debian's chromium package. An explicit
// VK_ICD_FILENAMES / VK_DRIVER_FILES in the environment wins.
import { existsSync } from 'node:fs';

const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(swiftshader)) {
  process.env.VK_ICD_FILENAMES = swiftshader;
}

// Dawn's Vulkan loader complains on every adapter request when this is unset (CI, root shells).
process.env.XDG_RUNTIME_DIR ??= '/tmp';

// The matmul autotuner's stored choices live in ~/.cache/wgtrain by default; tests get a fresh,
// empty cache folder per worker so a developer's own tuning never changes what a test runs.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
process.env.WGTRAIN_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'wgtrain-test-cache-'));
