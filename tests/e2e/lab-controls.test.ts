/**
 * End to end, the lab page's controls in headless Chromium (WebGPU on SwiftShader), on the
 * demo-tiny preset:
 *
 * - a bad setting is named as the form names the field, next to the field (red border, red focus
 *   ring), and the status says why Run is off;
 * - Stop says the remaining runs were not trained (not "still to come");
 * - leaving a running page asks first; after the reload the finished runs are back and Continue
 *   trains only the rest.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { RunResult } from '../../src/lab/experiment/types.js';
import { openDemoSession, openPage, waitInPage, type DemoSession } from './helpers.js';

const LOAD_MS = 60_000;
let session: DemoSession;

beforeAll(async () => {
  session = await openDemoSession('controls');
}, 120_000);

afterAll(async () => {
  await session?.close();
});

async function openLab(): Promise<Awaited<ReturnType<typeof openPage>>> {
  const opened = await openPage(session);
  await opened.page.goto(`${session.server.origin}/demos/lab.html?preset=demo-tiny`, { waitUntil: 'load', timeout: LOAD_MS });
  await waitInPage(opened.page, opened.log, 'the lab page', () => window.__lab?.state === 'ready', LOAD_MS);
  return opened;
}

test('a bad setting is named as the form names it, at its field, and the status says why Run is off', async () => {
  const { page, log } = await openLab();
  const input = '[data-field="arms[1].p"]';
  await page.focus(input);
  await page.keyboard.down('Control');
  await page.keyboard.press('KeyA');
  await page.keyboard.up('Control');
  await page.keyboard.type('1.5');

  const summary = await page.$$eval('#spec-problems li', (lis) => lis.map((li) => li.textContent ?? ''));
  expect(summary).toEqual(['Mode 2 “early” · rate p: rate must be in [0, 1), got 1.5']);
  // At the field: the message under it, the red border, and a red focus ring while it is edited.
  const at = await page.$eval(input, (e) => {
    const note = document.querySelector('[data-problem-for="arms[1].p"]') as HTMLElement | null;
    const style = getComputedStyle(e);
    return {
      invalid: e.getAttribute('aria-invalid'),
      describedBy: e.getAttribute('aria-describedby'),
      note: note?.textContent,
      noteId: note?.id,
      noteShown: (note?.offsetHeight ?? 0) > 0,
      noteInSameCell: note?.closest('td') === e.closest('td'),
      focused: document.activeElement === e,
      border: style.borderTopColor,
      outline: style.outlineColor,
      outlineStyle: style.outlineStyle,
    };
  });
  expect(at).toEqual({
    invalid: 'true',
    describedBy: at.noteId,
    note: 'rate must be in [0, 1), got 1.5',
    noteId: 'problem-arms-1-p',
    noteShown: true,
    noteInSameCell: true,
    focused: true,
    border: 'rgb(179, 38, 30)',
    outline: 'rgb(179, 38, 30)',
    outlineStyle: 'solid',
  });
  expect(await page.$eval('#run', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
  expect(await page.$eval('#run-status', (e) => e.textContent)).toBe('Fix the settings before running: 1 problem, marked at its field.');

  // A problem in a field the form does not show (only the JSON has it) is spelled out in words.
  await page.$eval('#json-editor', (d) => ((d as HTMLDetailsElement).open = true));
  const json = JSON.parse(await page.$eval('#spec-json', (e) => (e as HTMLTextAreaElement).value));
  json.arms[1].p = 0.2;
  json.cells = [{ name: 'wide', model: { kind: 'mlp', hiddenSizes: [-4] } }];
  await page.$eval('#spec-json', (e, text) => ((e as HTMLTextAreaElement).value = text as string), JSON.stringify(json));
  await page.click('#apply-json');
  const problems = await page.$$eval('#spec-problems li', (lis) => lis.map((li) => li.textContent ?? ''));
  expect(problems.length).toBeGreaterThan(0);
  for (const p of problems) expect(p, 'no internal paths').not.toMatch(/\w\[\d+\]/);
  expect(problems.some((p) => p.startsWith('cell 1 · model · hiddenSize 1: ')), problems.join('\n')).toBe(true);

  // Fixed: the marks go, and the page is ready again.
  delete json.cells;
  await page.$eval('#spec-json', (e, text) => ((e as HTMLTextAreaElement).value = text as string), JSON.stringify(json));
  await page.click('#apply-json');
  expect(await page.$$eval('#spec-problems li', (lis) => lis.length)).toBe(0);
  expect(await page.$$eval('.field-problem, [aria-invalid="true"]', (es) => es.length)).toBe(0);
  expect(await page.$eval('#run', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
  expect(await page.$eval('#run-status', (e) => e.textContent)).toBe('Ready.');
  expect(log.errors).toEqual([]);
  await page.close();
});

test('Stop says what was not trained; leaving a running page asks first; after a reload Continue trains only the rest', async () => {
  const { page, log } = await openLab();
  await page.click('#run');
  // Stop the moment the first run is in, from inside the page: a tiny run takes well under a second
  // on an idle machine, so a click sent from Node after polling could land after the last run.
  await page.evaluate(
    () =>
      new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (window.__lab!.results().length < 1 && window.__lab!.state === 'running') return;
          clearInterval(poll);
          (document.querySelector('#stop') as HTMLButtonElement).click();
          resolve();
        }, 1);
      }),
  );
  await waitInPage(page, log, 'the stop', () => window.__lab!.state === 'stopped' || window.__lab!.state === 'done', 120_000);
  expect(await page.evaluate(() => window.__lab!.state)).toBe('stopped');
  const kept = (await page.evaluate(() => window.__lab!.results())) as RunResult[];
  const left = 4 - kept.length;
  expect(kept.length).toBeGreaterThanOrEqual(1);
  expect(left).toBeGreaterThan(0);
  const line = await page.$eval('#results-progress', (e) => e.textContent ?? '');
  expect(line).not.toContain('still to come');
  expect(line).toBe(`${kept.length} of 4 runs finished; the experiment was stopped, so ${left} run${left === 1 ? ' was' : 's were'} not trained (comparisons use the seeds present in both modes).`);
  expect(await page.$eval('#run-status', (e) => e.textContent)).toBe(`Stopped after ${kept.length} of 4 runs; the results show the finished ones (Continue trains the rest).`);
  expect(await page.$eval('#continue', (b) => [(b as HTMLButtonElement).hidden, b.textContent])).toEqual([false, `Continue (${left} run${left === 1 ? '' : 's'} left)`]);

  // Run starts over; leaving the page while it runs asks first (the finished runs are kept).
  await page.click('#run');
  await waitInPage(page, log, 'a finished run of the new experiment', () => window.__lab!.results().length >= 1 || window.__lab!.state !== 'running', 120_000);
  const before = (await page.evaluate(() => window.__lab!.results())) as RunResult[];
  expect(await page.evaluate(() => window.__lab!.state)).toBe('running');
  await page.reload({ waitUntil: 'load' });
  expect(log.lines, 'a beforeunload dialog').toContain('[page dialog] beforeunload');
  await page.waitForFunction(() => window.__lab !== undefined, { timeout: LOAD_MS });
  await page.evaluate(() => window.__lab!.loaded);
  await waitInPage(page, log, 'the worker after the reload', () => window.__lab?.state === 'ready', LOAD_MS);
  const restored = await page.evaluate(() => window.__lab!.restored);
  expect(restored).toBeGreaterThanOrEqual(before.length);
  const kept2 = (await page.evaluate(() => window.__lab!.results())) as RunResult[];
  expect(await page.$eval('#continue', (b) => (b as HTMLButtonElement).hidden)).toBe(false);

  // Continue: only the missing runs train; the restored ones come back unchanged.
  await page.click('#continue');
  await waitInPage(page, log, 'the continued experiment', () => ['done', 'error', 'stopped'].includes(window.__lab?.state ?? ''), 180_000);
  expect(await page.evaluate(() => window.__lab!.state)).toBe('done');
  const all = (await page.evaluate(() => window.__lab!.results())) as RunResult[];
  expect(all.map((r) => `${r.arm}/${r.seed}`).sort()).toEqual(['early/0', 'early/1', 'none/0', 'none/1']);
  for (const r of kept2) expect(all.find((x) => x.arm === r.arm && x.seed === r.seed), `${r.arm}/${r.seed} kept as it was`).toEqual(r);
  expect(await page.$eval('#results-progress', (e) => e.textContent)).toBe('4 of 4 runs finished.');
  expect(await page.$eval('#continue', (b) => (b as HTMLButtonElement).hidden)).toBe(true);
  expect(log.errors).toEqual([]);
  await page.close();
}, 420_000);
