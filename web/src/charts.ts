// Charts: uPlot line charts over steps and canvas heatmaps of expert load; each keeps data-points current.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmt, h } from './dom.js';

export interface SeriesSpec { label: string; colour: string; scale?: string }

/** A line chart over x; `update` replaces the data. The container's data-points is the number of x values,
 * data-series-points the non-null points per series (comma separated). */
export class LineChart {
  readonly el: HTMLDivElement;
  private plot: uPlot | undefined;
  private data: (number | null)[][] = [];

  constructor(readonly title: string, private readonly series: SeriesSpec[], private readonly xLabel = 'step', private readonly log = false) {
    this.el = h('div', { class: 'chart', 'data-title': title, 'data-points': '0' });
  }

  update(xs: number[], ys: (number | null)[][]): void {
    this.data = [xs, ...ys];
    this.el.dataset['points'] = String(xs.length);
    this.el.dataset['seriesPoints'] = ys.map((s) => s.filter((v) => v !== null && Number.isFinite(v)).length).join(',');
    if (this.plot === undefined) {
      if (!this.el.isConnected) return;
      this.create();
    } else this.plot.setData(this.data as uPlot.AlignedData);
  }

  /** Builds the plot once the container is in the page (uPlot measures it). */
  mount(): void {
    if (this.plot === undefined && this.data.length > 0) this.create();
  }

  private create(): void {
    const width = Math.max(320, this.el.clientWidth || 480);
    const scales: uPlot.Scales = { x: { time: false } };
    if (this.log) scales['y'] = { distr: 3 };
    this.plot = new uPlot({
      title: this.title, width, height: 220, scales,
      axes: [{ label: this.xLabel }, { size: 64, values: (_u, splits) => splits.map((v) => fmt(v, 3)) }],
      series: [{ label: this.xLabel }, ...this.series.map((s) => ({ label: s.label, stroke: s.colour, width: 2, spanGaps: true, points: { show: true, size: 4 },
        value: (_u: uPlot, v: number | null) => (v === null ? '-' : fmt(v)) }))],
    }, this.data as uPlot.AlignedData, this.el);
  }
}

/** Viridis anchors (matplotlib), interpolated linearly. */
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - i;
  const a = VIRIDIS[i]!, b = VIRIDIS[i + 1]!;
  return `rgb(${[0, 1, 2].map((c) => Math.round(a[c]! + f * (b[c]! - a[c]!))).join(',')})`;
}

/**
 * Expert load of one MoE layer over steps: column = logged step, row = expert, colour = that expert's share
 * of the layer's routed choices (1/E is perfect balance; the scale tops at 2/E or the largest share).
 */
export class Heatmap {
  readonly el: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly caption: HTMLDivElement;
  /** The router's selection bias per expert at the last step (aux-loss-free balancing), when the run has one. */
  private readonly bias: HTMLDivElement;

  constructor(readonly layer: number) {
    this.canvas = h('canvas', { width: '600', height: '120' });
    this.caption = h('div', { class: 'caption' });
    this.bias = h('div', { class: 'bias' });
    this.canvas.addEventListener('mousemove', (ev) => {
      const r = this.canvas.getBoundingClientRect();
      this.canvas.title = this.hover(((ev.clientX - r.left) * this.canvas.width) / r.width, ((ev.clientY - r.top) * this.canvas.height) / r.height);
    });
    this.el = h('div', { class: 'heatmap', 'data-layer': String(layer), 'data-points': '0' }, h('div', { class: 'title' }, `MoE layer ${layer}: expert load share over steps`), this.canvas, this.caption, this.bias);
  }

  /** Tooltip: the steps, expert and share under the pointer. */
  private hover: (x: number, y: number) => string = () => '';

  update(steps: number[], loads: number[][], bias?: number[]): void {
    this.showBias(bias);
    const experts = Math.max(0, ...loads.map((l) => l.length));
    this.el.dataset['points'] = String(loads.length);
    this.el.dataset['experts'] = String(experts);
    const ctx = this.canvas.getContext('2d');
    if (ctx === null || experts === 0) return;
    const W = this.canvas.width, H = this.canvas.height, left = 28;
    // More steps than pixels: each column sums the routed choices of a run of consecutive steps.
    const per = Math.ceil(loads.length / (W - left));
    const cols: number[][] = [];
    for (let i = 0; i < loads.length; i += per) {
      const sum = new Array<number>(experts).fill(0);
      for (const l of loads.slice(i, i + per)) l.forEach((v, e) => { sum[e] = (sum[e] ?? 0) + v; });
      cols.push(sum);
    }
    const shares = cols.map((l) => { const s = l.reduce((a, b) => a + b, 0); return l.map((v) => (s > 0 ? v / s : 0)); });
    let top = 2 / experts;
    for (const c of shares) for (const v of c) top = Math.max(top, v);
    ctx.clearRect(0, 0, W, H);
    const cw = (W - left) / Math.max(1, shares.length), rh = H / experts;
    this.hover = (x, y) => {
      const c = Math.floor((x - left) / cw), e = Math.floor(y / rh);
      if (c < 0 || c >= shares.length || e < 0 || e >= experts) return '';
      const first = steps[c * per], last = steps[Math.min(steps.length, (c + 1) * per) - 1];
      return `step${per > 1 ? `s ${first}..${last}` : ` ${first}`}, expert ${e}: ${(100 * shares[c]![e]!).toFixed(1)}% of routed choices`;
    };
    shares.forEach((col, i) => col.forEach((v, e) => {
      ctx.fillStyle = viridis(v / top);
      ctx.fillRect(left + i * cw, e * rh, Math.ceil(cw), Math.ceil(rh));
    }));
    ctx.fillStyle = '#333';
    ctx.font = '10px sans-serif';
    for (let e = 0; e < experts; e += Math.ceil(experts / 8)) ctx.fillText(`e${e}`, 2, e * rh + Math.min(rh, 12) - 2);
    const lastLoad = loads[loads.length - 1] ?? [], lastSum = lastLoad.reduce((a, b) => a + b, 0);
    const last = lastLoad.map((v) => (lastSum > 0 ? v / lastSum : 0));
    const imbalance = last.length > 0 ? Math.max(...last) * experts : NaN;
    this.caption.textContent = `steps ${steps[0] ?? '-'}..${steps[steps.length - 1] ?? '-'}${per > 1 ? ` (${per} steps per column)` : ''}; colour: share of routed choices (max ${(100 * top).toFixed(0)}%); ` +
      `last step: busiest expert ${Number.isFinite(imbalance) ? imbalance.toFixed(2) : '-'}x the balanced load`;
  }

  /** The last step's router bias per expert: raised for experts below the mean load, lowered above it. */
  private showBias(bias: number[] | undefined): void {
    this.el.dataset['bias'] = bias === undefined ? '' : bias.map((b) => b.toFixed(4)).join(' ');
    this.bias.textContent = bias === undefined ? '' : `router bias (aux-loss-free balancing), last step: ${bias.map((b, e) => `e${e} ${b >= 0 ? '+' : ''}${b.toFixed(4)}`).join(', ')}`;
  }
}
