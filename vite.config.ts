import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

const ROOT = dirname(fileURLToPath(import.meta.url));

/**
 * Kernels live in shaders/*.wgsl and are imported as text (`import src from '.../x.wgsl'`), in the
 * browser build, in vitest and (through esbuild's `--loader:.wgsl=text`) in the Node bundles.
 */
export function wgslText(): Plugin {
  return {
    name: 'wgsl-text',
    transform(code, id) {
      if (!id.endsWith('.wgsl')) return null;
      return { code: `export default ${JSON.stringify(code)};`, map: null };
    },
  };
}

/** Where the dev server serves Fashion-MNIST from, and the meta tag that tells the lab page so. */
export const FASHION_MNIST_URL = '/datasets/fashion-mnist/';
const FASHION_MNIST_FILE_NAMES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

/**
 * Dev server only (`npm run demo`, the e2e tests): serves the Debian Fashion-MNIST files (or
 * $WGTRAIN_FASHION_MNIST_DIR, as src/lab/data/fashion-mnist.ts reads them in Node) at
 * /datasets/fashion-mnist/, and marks pages with <meta name="wgtrain-fashion-mnist"> when all four
 * files are there, so the lab page offers them without probing URLs that may not exist. The
 * static build has neither: there the user picks the files.
 */
export function fashionMnistDevData(): Plugin {
  const dir = process.env.WGTRAIN_FASHION_MNIST_DIR || '/usr/share/datasets/fashion-mnist';
  const available = () => FASHION_MNIST_FILE_NAMES.every((f) => existsSync(join(dir, f)));
  return {
    name: 'fashion-mnist-dev-data',
    apply: 'serve',
    configureServer(server) {
      server.middlewares.use(FASHION_MNIST_URL, (req, res, next) => {
        const name = decodeURIComponent((req.url ?? '/').split('?')[0].replace(/^\//, ''));
        // Only the four file names: nothing else of the disk is reachable through this route.
        if (!FASHION_MNIST_FILE_NAMES.includes(name)) return next();
        const file = join(dir, name);
        if (!existsSync(file)) return next();
        // The .gz bytes as they are (no Content-Encoding): the page's IDX loader gunzips them.
        res.setHeader('Content-Type', 'application/octet-stream');
        res.setHeader('Content-Length', String(statSync(file).size));
        createReadStream(file).pipe(res);
      });
    },
    transformIndexHtml() {
      return available() ? [{ tag: 'meta', attrs: { name: 'wgtrain-fashion-mnist', content: FASHION_MNIST_URL }, injectTo: 'head' }] : [];
    },
  };
}

/** The demo site's pages (`npm run demo` serves demos/, `npm run build` writes them to dist/). */
const DEMO_PAGES = ['index', 'lab', 'bench', 'engine-check'];

export default defineConfig({
  plugins: [wgslText(), fashionMnistDevData()],
  server: { host: '127.0.0.1' },
  // Relative asset URLs, so dist/ works from any static host and any sub-path.
  base: './',
  build: {
    outDir: resolve(ROOT, 'dist'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    rolldownOptions: { input: Object.fromEntries(DEMO_PAGES.map((p) => [p, resolve(ROOT, 'demos', `${p}.html`)])) },
  },
  // The lab's training worker is bundled on its own: it needs the .wgsl plugin too, and ES output
  // (it has dynamic imports, which the default iife format cannot split).
  worker: { format: 'es', plugins: () => [wgslText()] },
  test: {
    include: ['tests/**/*.test.ts'],
    // Dawn (the `webgpu` package) is a native addon: one process per test file, few at a time,
    // since SwiftShader already uses every core.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['tests/setup/swiftshader.ts'],
  },
});
