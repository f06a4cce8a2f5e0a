/**
 * The lab CLI end to end (bundled by scripts/build-node.mjs as npm run lab bundles it, run as a child process on SwiftShader):
 * `--jobs 2`, and two `--shard`s merged with `--merge`, give results identical to a serial run of
 * the quick cpu-early preset (wall time and adapter excepted); `--merge` of a folder into itself
 * rewrites the same results and a report, names missing runs (exit status 3) and refuses another
 * experiment's folder; `--plan` times steps on the adapter and writes nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { preset } from '../src/lab/experiment/presets/index.js';
import { planRuns } from '../src/lab/experiment/runner.js';
import { quickSpec } from '../src/lab/experiment/spec.js';
import type { RunResult } from '../src/lab/experiment/types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TMP = mkdtempSync(join(tmpdir(), 'wgtrain-lab-cli-'));
const BUNDLE = join(ROOT, 'dist-node', `lab-cli-test-${process.pid}.mjs`);

beforeAll(async () => {
  // The bundle npm run lab makes (scripts/build-node.mjs), under a name of this test's own.
  const built = await new Promise<number | null>((done) =>
    spawn(process.execPath, [join(ROOT, 'scripts/build-node.mjs'), 'src/cli/lab.ts', '--name', basename(BUNDLE, '.mjs')], { cwd: ROOT, stdio: 'inherit' }).on('exit', done),
  );
  expect(built).toBe(0);
});
afterAll(() => {
  rmSync(TMP, { recursive: true, force: true });
  rmSync(BUNDLE, { force: true });
});

/** CLI processes still running: a test that times out must not leave them behind. */
const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

/** Runs the bundled CLI; resolves with its exit status and output. */
function lab(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BUNDLE, ...args], { cwd: TMP, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.on('exit', () => running.delete(child));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

const dir = (name: string) => join(TMP, name);
const resultsText = (d: string) => readFileSync(join(d, 'results.jsonl'), 'utf8');
/** The results of a folder without what differs between processes (wall time, adapter), in file order. */
const comparable = (d: string) =>
  resultsText(d).split('\n').filter(Boolean).map((l) => {
    const { seconds, adapter, ...rest } = JSON.parse(l) as RunResult;
    expect(seconds).toBeGreaterThan(0);
    expect(adapter).toContain('swiftshader');
    return rest;
  });

const QUICK = ['--preset', 'cpu-early', '--quick', '--no-progress'];
const planned = planRuns(quickSpec(preset('cpu-early'))).map((r) => r.key);

describe('npm run lab', () => {
  test('--jobs 2, and --shard 1/2 + --shard 2/2 merged, give the serial results of the quick preset', async () => {
    const serial = await lab(...QUICK, '--out', dir('serial'));
    expect(serial.code, serial.stderr).toBe(0);
    const reference = comparable(dir('serial'));
    expect(reference.map((r) => `${r.cell}/${r.arm}/seed${r.seed}`)).toEqual(planned);

    const jobs = await lab(...QUICK, '--jobs', '2', '--out', dir('jobs'));
    expect(jobs.code, jobs.stderr).toBe(0);
    expect(comparable(dir('jobs'))).toEqual(reference);
    expect(existsSync(join(dir('jobs'), 'report.md'))).toBe(true);
    // Each worker trained its own share in its own folder; together, every run once.
    const perWorker = ['1-of-2', '2-of-2'].map((w) => comparable(join(dir('jobs'), 'jobs', w)).map((r) => `${r.cell}/${r.arm}/seed${r.seed}`));
    expect(perWorker.every((k) => k.length > 0)).toBe(true);
    expect(perWorker.flat()).toEqual(planned);

    for (const k of [1, 2]) {
      const shard = await lab(...QUICK, '--shard', `${k}/2`, '--out', dir(`shard${k}`));
      expect(shard.code, shard.stderr).toBe(0);
      expect(shard.stderr).toContain(`shard ${k}/2:`);
      expect(existsSync(join(dir(`shard${k}`), 'report.md'))).toBe(false); // a shard alone is no report
    }
    const merged = await lab('--merge', dir('shard2'), dir('shard1'), '--out', dir('merged'));
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stderr).toContain(`merged ${planned.length} of ${planned.length} runs of cpu-early-quick`);
    expect(comparable(dir('merged'))).toEqual(reference);
    expect(readFileSync(join(dir('merged'), 'spec.json'), 'utf8')).toBe(readFileSync(join(dir('serial'), 'spec.json'), 'utf8'));
    expect(existsSync(join(dir('merged'), 'report.md'))).toBe(true);
  }, 900_000); // five CLI runs (seven processes) on a software adapter, often on a loaded machine

  test('--merge: one folder into itself rewrites the same results and the report; missing runs are named; another experiment is refused', async () => {
    const serial = dir('serial');
    const before = resultsText(serial);
    rmSync(join(serial, 'report.md'));
    const self = await lab('--merge', serial);
    expect(self.code, self.stderr).toBe(0);
    expect(resultsText(serial)).toBe(before);
    expect(existsSync(join(serial, 'report.md'))).toBe(true);

    const partial = await lab('--merge', dir('shard1'), '--out', dir('partial'));
    expect(partial.code).toBe(3);
    const missing = planned.filter((k) => !comparable(dir('shard1')).some((r) => `${r.cell}/${r.arm}/seed${r.seed}` === k));
    expect(missing.length).toBeGreaterThan(0);
    expect(partial.stderr).toContain(`missing ${missing.length} runs: ${missing.join(', ')}`);

    const other = dir('other');
    mkdirSync(other);
    writeFileSync(join(other, 'spec.json'), JSON.stringify(quickSpec(preset('cpu-late'))));
    const refused = await lab('--merge', serial, other, '--out', dir('never'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/merge: .*other holds a different experiment from .*serial \(/);
    expect(existsSync(dir('never'))).toBe(false);
  }, 300_000);

  test('--plan times a few steps on this adapter and writes nothing', async () => {
    const plan = await lab(...QUICK, '--plan', '--plan-steps', '2', '--out', dir('planned'));
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(`= ${planned.length} runs (nothing is trained or written)`);
    expect(plan.stdout).toMatch(/cell mlp32: [\d.]+ m?s per step \(2 after a warm-up step\)/);
    expect(plan.stdout).toContain('Minimum detectable effect');
    expect(existsSync(dir('planned'))).toBe(false);
    expect(readdirSync(TMP)).not.toContain('reports');
    // Options that do not go together say so before anything runs.
    const bad = await lab('--merge', dir('serial'), '--preset', 'cpu-early');
    expect([bad.code, bad.stderr]).toEqual([1, expect.stringContaining('--merge takes output folders and --out only, not --preset')]);
    const part = await lab('--preset', 'early-dropout', '--part', '2', '--plan');
    expect(part.stderr).toContain("preset 'early-dropout' is not split into parts");
  }, 300_000);
});
