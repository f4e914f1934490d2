// The dashboard app: hash routes for runs, plans and data; or, in a static report, the embedded run or plan.
import type { EmbeddedReport } from '../../src/dashboard/types.js';
import { api, offline } from './api.js';
import { renderCompare } from './compare-view.js';
import { renderDataReport } from './data-view.js';
import { fmt, h } from './dom.js';
import { renderPlanReport } from './plan-view.js';
import { renderPlansPage } from './plans-page.js';
import { renderRun } from './run-view.js';
import './style.css';

const app = document.getElementById('app')!;
let stop: () => void = () => {};

function failed(e: unknown): void {
  app.replaceChildren(h('p', { class: 'error' }, offline() ? 'This static copy has no server: only the Plans page works here.' : (e as Error).message));
}

/** The runs table, refreshed every few seconds so that new runs and steps appear. */
async function runsPage(): Promise<void> {
  await drawRuns();
  const timer = setInterval(() => { drawRuns().catch(failed); }, 3000);
  stop = () => clearInterval(timer);
}

/** Runs ticked for comparison survive the table's refreshes. */
const ticked = new Set<string>();

async function drawRuns(): Promise<void> {
  const runs = await api.runs();
  const compare = h('a', { id: 'compare', class: 'button' }, 'compare ticked runs');
  const link = () => compare.setAttribute('href', `#/compare?runs=${[...ticked].map(encodeURIComponent).join(',')}`);
  link();
  const tick = (name: string) => {
    const box = h('input', { type: 'checkbox', 'data-run': name, ...(ticked.has(name) ? { checked: '' } : {}) });
    box.addEventListener('change', () => { if (box.checked) ticked.add(name); else ticked.delete(name); link(); });
    return box;
  };
  app.replaceChildren(h('h2', {}, 'Runs'), runs.length === 0 ? h('p', { class: 'note' }, 'no runs (folders with metrics.jsonl) in the runs folder')
    : h('table', { class: 'runs', id: 'runs' },
      h('tr', {}, ...['run', 'status', 'steps', 'last loss', 'last val loss', 'updated', ''].map((t) => h('th', {}, t))),
      ...runs.map((r) => h('tr', { 'data-run': r.name },
        h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(r.name)}` }, r.name)), h('td', { class: `status ${r.status}` }, r.status),
        h('td', {}, String(r.steps)), h('td', {}, fmt(r.last_loss)), h('td', {}, fmt(r.last_val_loss)),
        h('td', {}, new Date(r.updated * 1000).toLocaleString()), h('td', {}, tick(r.name))))), compare);
}

async function dataPage(): Promise<void> {
  const list = await api.data();
  app.replaceChildren(h('h2', {}, 'Data reports'), list.length === 0 ? h('p', { class: 'note' }, 'no cleaning reports (folders with report.json from furnace data clean)')
    : h('table', { class: 'data' }, h('tr', {}, ...['report', 'input', 'documents in', 'out'].map((t) => h('th', {}, t))),
      ...list.map((d) => h('tr', {}, h('td', {}, h('a', { href: `#/data/${encodeURIComponent(d.name)}` }, d.name)), h('td', {}, d.input),
        h('td', {}, String(d.docs_in)), h('td', {}, String(d.docs_out))))));
}

async function route(): Promise<void> {
  stop();
  stop = () => {};
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('href') === `#/${parts[0] === 'compare' ? 'runs' : parts[0] ?? (offline() ? 'plans' : 'runs')}`);
  app.replaceChildren(h('p', { class: 'note' }, 'loading...'));
  try {
    if (parts[0] === 'plans' || (parts.length === 0 && offline())) renderPlansPage(app, new URLSearchParams(query));
    else if (parts[0] === 'runs' && parts[1] !== undefined) {
      const name = parts[1];
      stop = renderRun(app, await api.run(name), api.checkpoints(name), true);
    } else if (parts[0] === 'compare') {
      const names = (new URLSearchParams(query).get('runs') ?? '').split(',').filter((n) => n !== '');
      renderCompare(app, await Promise.all(names.map((n) => api.run(n))));
    } else if (parts[0] === 'data' && parts[1] !== undefined) renderDataReport(app, parts[1], await api.dataReport(parts[1]));
    else if (parts[0] === 'data') await dataPage();
    else await runsPage();
  } catch (e) {
    failed(e);
  }
}

const embedded = document.getElementById('furnace-report');
if (embedded !== null) {
  // A static report: one run or one plan, no navigation, no server.
  document.getElementById('nav')?.remove();
  const report = JSON.parse(embedded.textContent ?? '{}') as EmbeddedReport;
  if (report.kind === 'run') renderRun(app, report.run, report.checkpoints, false);
  else { app.replaceChildren(h('h2', {}, 'Plan report')); const div = h('div'); app.append(div); renderPlanReport(div, report.plan); }
  document.title = `furnace report: ${report.kind === 'run' ? report.run.name : `${report.plan.model.name} on ${report.plan.cluster.name}`}`;
} else {
  window.addEventListener('hashchange', () => { void route(); });
  void route();
}
