/**
 * docs/api/ is TypeDoc's markdown of the public API (typedoc.json, `npm run docs`), committed so that
 * it reads on the repository's web page. It must be what the doc comments give now: regenerated into a
 * temporary folder, every file must be the same. When this fails, run `npm run docs` and commit.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TMP = mkdtempSync(join(tmpdir(), 'wgtrain-api-docs-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const files = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name).slice(dir.length + 1)).sort();

test('docs/api is up to date with the doc comments (npm run docs)', async () => {
  await new Promise<void>((done, fail) =>
    execFile(process.execPath, [join(ROOT, 'node_modules/typedoc/bin/typedoc'), '--out', TMP, '--logLevel', 'Error'], { cwd: ROOT }, (e, stdout, stderr) =>
      e ? fail(new Error(`typedoc failed: ${e.message}\n${stdout}${stderr}`)) : done(),
    ),
  );
  const committed = join(ROOT, 'docs/api');
  expect(files(committed)).toEqual(files(TMP));
  for (const f of files(TMP)) expect(readFileSync(join(committed, f), 'utf8'), `docs/api/${f} is stale: run npm run docs`).toBe(readFileSync(join(TMP, f), 'utf8'));
}, 180_000);
