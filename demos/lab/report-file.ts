/**
 * "Download report" on the lab page: the headless lab's own report (renderReport in
 * src/lab/experiment/report.ts, the code behind `npm run lab`'s report.md and its SVG figures),
 * from the runs in the page, as
 *
 *   - HTML: one self-contained file, the markdown turned into HTML by `marked` with every figure
 *     inlined as SVG where the markdown links it;
 *   - a zip of report.md and the SVG files, exactly the files `npm run lab` writes (fflate).
 */
import { strToU8, zipSync } from 'fflate';
import { Marked } from 'marked';
import { renderReport, type RenderedReport } from '../../src/lab/experiment/report.js';
import type { ExperimentSpec, RunResult } from '../../src/lab/experiment/types.js';

export interface ReportInput {
  spec: ExperimentSpec;
  results: readonly RunResult[];
  /** The adapter as the runs name it (RunResult.adapter, the runner's adapterName()). */
  adapter: string;
  quick: boolean;
  /** YYYY-MM-DD (default: today). */
  date?: string;
}

export function renderLabReport(x: ReportInput): Promise<RenderedReport> {
  return renderReport(x.spec, x.results, { adapter: x.adapter, quick: x.quick, date: x.date });
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A standalone HTML page of the report, figures inlined. */
export function reportHtml(title: string, r: RenderedReport): string {
  const marked = new Marked({
    gfm: true,
    renderer: {
      image({ href, text }) {
        const svg = r.plots[href];
        return svg ? `<figure>${svg}<figcaption>${escapeHtml(text)}</figcaption></figure>` : false;
      },
    },
  });
  const body = marked.parse(r.markdown, { async: false });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${escapeHtml(title)}</title>
<style>
  body { font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1d2329; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
  table { border-collapse: collapse; font-size: 0.88rem; margin: 0.6rem 0; display: block; overflow-x: auto; }
  th, td { border-bottom: 1px solid #dde2e7; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
  th { background: #f1f4f7; }
  figure { margin: 1rem 0; overflow-x: auto; }
  figure svg { max-width: 100%; height: auto; }
  figcaption { font-size: 0.85rem; color: #5b6670; }
  code { font-size: 0.88em; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** report.md and the SVG figures, as `npm run lab` writes them into its output folder, zipped. */
export function reportZip(folder: string, r: RenderedReport): Uint8Array {
  const files: Record<string, Uint8Array> = { [`${folder}/report.md`]: strToU8(r.markdown) };
  for (const [name, svg] of Object.entries(r.plots)) files[`${folder}/${name}`] = strToU8(svg);
  return zipSync(files, { level: 6 });
}
