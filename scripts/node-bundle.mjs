/**
 * esbuild options for a Node program bundled into one ESM file with shaders/*.wgsl inlined as
 * text and the `webgpu` package (Dawn's native addon) left external: shared by
 * scripts/build-node.mjs (dist-node/, the GPU kit) and scripts/build-lib.mjs (the npm package's CLI).
 */

/** The CommonJS dependencies (commander, cli-progress, tfjs-core's Node code) call require(); ESM output has none. */
export const REQUIRE_BANNER = "import { createRequire as __wgtrainCreateRequire } from 'node:module'; const require = __wgtrainCreateRequire(import.meta.url);";

/** Options for esbuild's build(): entry -> outfile, everything bundled but `webgpu` (or every package). */
export function nodeBundleOptions({ entry, outfile, externalPackages = false, minify = false }) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu'],
    packages: externalPackages ? 'external' : undefined,
    // ESM builds first (esbuild's Node default is main, then module): tfjs-core's CommonJS bundle
    // leaves out its gradients, which only the ESM build's dist/register_all_gradients registers.
    mainFields: ['module', 'main'],
    loader: { '.wgsl': 'text' },
    banner: { js: REQUIRE_BANNER },
    minify,
    logLevel: 'warning',
  };
}
