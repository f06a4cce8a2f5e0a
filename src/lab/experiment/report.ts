/**
 * The experiment report, the thin entry the CLI, the browser lab and the demo page call:
 *
 *   findings.ts   analyzeExperiment: the findings as data (tests, verdicts, claims, checks);
 *   figures.ts    the figures as Vega-Lite specs;
 *   markdown.ts   the words of report.md;
 *   here          renderReport (markdown + SVG strings, browser-safe) and writeReport (Node,
 *                 atomic files), and analyzeExperiment with each claim's summary and sentences.
 */
import type { ExperimentSpec, RunResult } from './types.js';
import * as findings from './findings.js';
import { planFigures, regimeFigure } from './figures.js';
import { claimLines, claimSummary, reportMarkdown, type ReportOptions } from './markdown.js';
import { armPalette, renderSvg } from './plots.js';
import type { PairedTest } from './stats.js';

export type { ReportOptions } from './markdown.js';
export type { ArmAnalysis, CellAnalysis, ClaimId, ClaimStatus, Comparison, Measure, WindowMeasure } from './findings.js';
export { PAPER_CLAIMS } from './findings.js';
export { describeData, describeModel, formatDelta, formatNumber, formatValue } from './format.js';

/** A comparison under the names the lab page used before the findings module: comparator as `baseline`, the test as `comparison`. */
export type Finding = findings.Comparison & { baseline: string; comparison: PairedTest };

/** A claim with its outcome in words (markdown): `summary` after the statement, one line per comparison. */
export interface ClaimReport extends findings.Claim {
  summary: string;
  lines: string[];
  findings: Finding[];
}

/** The findings with each claim worded (the lab page shows these). */
export type ExperimentAnalysis = Omit<findings.ExperimentAnalysis, 'claims'> & { claims: ClaimReport[] };

/** findings.analyzeExperiment plus each claim's summary and sentences. */
export function analyzeExperiment(spec: ExperimentSpec, results: readonly RunResult[]): ExperimentAnalysis {
  const a = findings.analyzeExperiment(spec, results);
  return {
    ...a,
    claims: a.claims.map((c) => ({
      ...c,
      summary: claimSummary(c),
      lines: claimLines(c, a),
      findings: c.comparisons.map((x) => ({ ...x, baseline: x.comparator, comparison: x.test })),
    })),
  };
}

export interface RenderedReport {
  markdown: string;
  /** SVG figures by file name (relative to report.md, which links them). */
  plots: Record<string, string>;
}

/** The markdown report and its SVG figures (browser-safe). */
export async function renderReport(spec: ExperimentSpec, results: readonly RunResult[], options: ReportOptions): Promise<RenderedReport> {
  const a = findings.analyzeExperiment(spec, results);
  const palette = armPalette(
    spec.arms.map((x) => x.name),
    a.cells.find((c) => c.baseline)?.baseline,
  );
  const figures = planFigures(a, palette);
  const regimeFig = regimeFigure(a);
  const markdown = reportMarkdown(a, options, figures, regimeFig);
  const plots: Record<string, string> = {};
  for (const f of [...[...figures.values()].flat(), ...(regimeFig ? [regimeFig] : [])]) plots[f.file] = await renderSvg(f.spec);
  return { markdown, plots };
}

/**
 * Node: renders the report and writes `report.md` and the SVGs into `outDir` (created if needed).
 * Each file is written atomically (a temp file in the same folder, flushed, then renamed), as the
 * run store does, so a reader never sees half a report; report.md goes last, after its figures.
 */
export async function writeReport(
  spec: ExperimentSpec,
  results: RunResult[],
  outDir: string,
  options: { adapter: string; quick?: boolean; date?: string },
): Promise<{ reportPath: string; plots: string[] }> {
  const [fs, { join }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  const { markdown, plots } = await renderReport(spec, results, options);
  await fs.mkdir(outDir, { recursive: true });
  let counter = 0;
  const writeAtomic = async (path: string, text: string) => {
    const tmp = `${path}.tmp-${process.pid}-${counter++}`;
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } catch (e) {
      await fh.close();
      await fs.rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    await fs.rename(tmp, path);
  };
  const written: string[] = [];
  for (const [file, svg] of Object.entries(plots)) {
    const path = join(outDir, file);
    await writeAtomic(path, svg);
    written.push(path);
  }
  const reportPath = join(outDir, 'report.md');
  await writeAtomic(reportPath, markdown);
  return { reportPath, plots: written };
}
