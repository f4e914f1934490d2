// Several runs on shared axes: training loss, validation loss and tokens/s by step, one line per run.
import type { MetricsRecord, RunDetail } from '../../src/dashboard/types.js';
import { PALETTE } from './bars.js';
import { LineChart } from './charts.js';
import { h } from './dom.js';

/** Each run's values of `pick` on the union of their steps (null where a run did not log that step). */
export function align(runs: RunDetail[], pick: (r: MetricsRecord) => number | undefined): { steps: number[]; series: (number | null)[][] } {
  const steps = [...new Set(runs.flatMap((r) => r.metrics.map((m) => m.step)))].sort((a, b) => a - b);
  const at = new Map(steps.map((s, i) => [s, i]));
  const series = runs.map((r) => {
    const ys = new Array<number | null>(steps.length).fill(null);
    for (const m of r.metrics) {
      const v = pick(m);
      if (typeof v === 'number' && Number.isFinite(v)) ys[at.get(m.step)!] = v;
    }
    return ys;
  });
  return { steps, series };
}

export function renderCompare(root: HTMLElement, runs: RunDetail[]): void {
  const spec = runs.map((r, i) => ({ label: r.name, colour: PALETTE[i % PALETTE.length]! }));
  const charts: [LineChart, (m: MetricsRecord) => number | undefined][] = [
    [new LineChart('loss by run', spec), (m) => m.loss],
    [new LineChart('validation loss by run', spec), (m) => m.val_loss],
    [new LineChart('tokens/s by run', spec), (m) => m.tokens_per_s],
  ];
  root.replaceChildren(h('h2', {}, `compare ${runs.map((r) => r.name).join(', ')}`), h('div', { class: 'grid' }, ...charts.map(([c]) => c.el)));
  for (const [c, pick] of charts) {
    const { steps, series } = align(runs, pick);
    c.update(steps, series);
  }
}
