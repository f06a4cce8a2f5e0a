#!/usr/bin/env node
/**
 * The `wgtrain` command of the npm package (package.json `bin`):
 *
 *   wgtrain lab [options]     the experiment lab, headless (what `npm run lab --` does in the repository)
 *   wgtrain bench             the benchmark against TensorFlow.js (what `npm run bench:node` does)
 *   wgtrain --help | --version
 *
 * Bundled by scripts/build-lib.mjs into lib/cli/wgtrain.mjs beside lab.mjs and bench.mjs, which it
 * loads only for their command: each is a self-contained bundle, so the package's engine users do not
 * install the CLI's dependencies (commander, cli-progress, vega, TensorFlow.js).
 */
import { readFileSync } from 'node:fs';

const COMMANDS: Record<string, { file: string; what: string; env: string }> = {
  lab: { file: './lab.mjs', what: 'runs an experiment preset of the early-dropout lab and writes its report (wgtrain lab --help)', env: 'WGTRAIN_LAB_COMMAND' },
  bench: { file: './bench.mjs', what: 'times wgtrain beside TensorFlow.js on this adapter (wgtrain bench --help)', env: 'WGTRAIN_BENCH_COMMAND' },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const HELP = `Usage: wgtrain <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)}${c.what}`).join('\n')}

Options:
  -h, --help     this help
  -v, --version  the package version

WebGPU in Node comes from the optional 'webgpu' package (Dawn); on a machine without a GPU,
install Chromium (it ships SwiftShader) and libvulkan1.
`;

const [command, ...rest] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  process.stdout.write(HELP);
} else if (command === '--version' || command === '-v') {
  console.log(version());
} else if (command in COMMANDS) {
  const c = COMMANDS[command];
  // The command's own module reads process.argv.slice(2) (and --jobs forks it with its own arguments).
  process.argv.splice(2, process.argv.length - 2, ...rest);
  process.env[c.env] ??= `wgtrain ${command}`;
  // A computed URL: the command's bundle is loaded at run time, not bundled into this one.
  await import(new URL(c.file, import.meta.url).href);
} else {
  console.error(`wgtrain: unknown command '${command}'\n\n${HELP}`);
  process.exitCode = 2;
}
