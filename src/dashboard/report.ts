// Static, self-contained HTML reports of a run or a plan: the built dashboard app with the data embedded.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { atomicWriteSync } from '../util/durable.js';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkpoints, readRunDetail } from './runs.js';
import type { EmbeddedReport, PlanReport } from './types.js';

/** The built app (one HTML file with inline script and style, from scripts/build-web.mjs). */
export function appHtmlPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'web', 'index.html');
}

/** The app's HTML with `report` embedded: the app then renders it alone, with no server and no network. */
export function reportHtml(report: EmbeddedReport, app = appHtmlPath()): string {
  if (!existsSync(app)) throw new Error(`${app}: the dashboard app is not built (run npm run build)`);
  const html = readFileSync(app, 'utf8');
  // '<' escaped as \u003c: the JSON cannot close its script element, and JSON.parse reads it back unchanged.
  const json = JSON.stringify(report).replace(/</g, '\\u003c');
  const tag = `<script id="furnace-report" type="application/json">${json}</script>`;
  if (!html.includes('</body>')) throw new Error(`${app}: no </body> to embed the report before`);
  return html.replace('</body>', () => `${tag}\n</body>`);
}

function write(file: string, html: string): void {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  atomicWriteSync(file, html);
}

/** Writes the report of the run in `runDir` (metrics.jsonl, config.json, summary.json, verified checkpoints). */
export async function writeRunReport(runDir: string, file: string): Promise<void> {
  const dir = resolve(runDir);
  const run = readRunDetail(dirname(dir), basename(dir));
  if (run === undefined) throw new Error(`${runDir}: no metrics.jsonl (not a furnace run folder)`);
  write(file, reportHtml({ kind: 'run', run, checkpoints: await checkpoints(dir) }));
}

/** Writes the report of a planning problem: ranked plans, breakdowns, memory, topology. */
export function writePlanReport(planResult: PlanReport, file: string): void {
  write(file, reportHtml({ kind: 'plan', plan: planResult }));
}
