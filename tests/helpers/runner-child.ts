/**
 * A child process for tests/runner.test.ts's kill test: runs an experiment and prints one line per
 * runner event ("<kind> <runsDone> <step>"), so the parent can SIGKILL it mid-run.
 * Usage (after bundling with esbuild): node child.mjs SPEC_JSON_FILE OUT_DIR CHECKPOINT_EVERY
 */
import { existsSync, readFileSync, writeSync } from 'node:fs';

const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(swiftshader)) process.env.VK_ICD_FILENAMES = swiftshader;
process.env.XDG_RUNTIME_DIR ??= '/tmp';

const { init, shutdown } = await import('../../src/index.js');
const { runExperiment } = await import('../../src/lab/experiment/runner.js');

const [specFile, outDir, every] = process.argv.slice(2);
await init();
try {
  await runExperiment(JSON.parse(readFileSync(specFile, 'utf8')), {
    outDir,
    checkpointEvery: Number(every),
    // writeSync: the line is out before the next step, whatever happens to the process then.
    onProgress: (p) => writeSync(1, `${p.kind} ${p.runsDone} ${p.step ?? -1}\n`),
  });
  writeSync(1, 'done\n');
} finally {
  shutdown();
}
