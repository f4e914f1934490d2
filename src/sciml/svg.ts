// Small SVG plot writer: heatmaps (solution, error, residual), coefficient bars, loss curves.
import { encodePng } from './png.js';

const W = 640, H = 420, L = 70, R = 90, T = 40, B = 50; // canvas and margins, px

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

/** Viridis, by linear interpolation of 9 anchors (matplotlib's _viridis_data, every 32nd entry). */
const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
/** Diverging blue-white-red for signed quantities (errors, residuals). */
const DIVERGING = [[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247], [253, 219, 199], [239, 138, 98], [178, 24, 43]];

function colour(map: number[][], s: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(s) ? s : 0)) * (map.length - 1);
  const i = Math.min(map.length - 2, Math.floor(x)), f = x - i;
  const a = map[i]!, b = map[i + 1]!;
  return [0, 1, 2].map((c) => Math.round(a[c]! + f * (b[c]! - a[c]!))) as [number, number, number];
}

function frame(title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">\n` +
    `<rect width="${W}" height="${H}" fill="white"/>\n<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${esc(title)}</text>\n${body}</svg>\n`;
}

function ticks(lo: number, hi: number, n = 5): number[] {
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

export interface HeatmapSpec {
  title: string;
  x: ArrayLike<number>; y: ArrayLike<number>; // horizontal and vertical coordinates
  values: ArrayLike<number>; // (ny, nx): values[i * nx + j] at (x_j, y_i); NaN is drawn grey
  xLabel: string; yLabel: string;
  diverging?: boolean; // symmetric range around 0, blue-white-red
}

/** A heatmap: the field as an embedded PNG (one pixel per grid point, scaled without smoothing),
 * with axes, ticks and a colour bar drawn as SVG. */
export function heatmap(s: HeatmapSpec): string {
  const nx = s.x.length, ny = s.y.length;
  let lo = Infinity, hi = -Infinity;
  for (let c = 0; c < nx * ny; c++) { const v = s.values[c]!; if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  if (s.diverging === true) { const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1; lo = -m; hi = m; }
  if (hi === lo) hi = lo + 1;
  const map = s.diverging === true ? DIVERGING : VIRIDIS;
  const rgb = new Uint8Array(nx * ny * 3);
  for (let i = 0; i < ny; i++) for (let j = 0; j < nx; j++) {
    const v = s.values[i * nx + j]!;
    const c = Number.isFinite(v) ? colour(map, (v - lo) / (hi - lo)) : [160, 160, 160];
    rgb.set(c, ((ny - 1 - i) * nx + j) * 3); // first y row at the bottom
  }
  const png = encodePng(nx, ny, rgb).toString('base64');
  const pw = W - L - R, ph = H - T - B;
  let body = `<image x="${L}" y="${T}" width="${pw}" height="${ph}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,${png}"/>\n`;
  body += `<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="black"/>\n`;
  const x0 = s.x[0]!, x1 = s.x[nx - 1]!, y0 = s.y[0]!, y1 = s.y[ny - 1]!;
  for (const v of ticks(x0, x1)) {
    const px = L + ((v - x0) / (x1 - x0 || 1)) * pw;
    body += `<line x1="${px}" y1="${T + ph}" x2="${px}" y2="${T + ph + 5}" stroke="black"/><text x="${px}" y="${T + ph + 18}" text-anchor="middle">${label(v)}</text>\n`;
  }
  for (const v of ticks(y0, y1)) {
    const py = T + ph - ((v - y0) / (y1 - y0 || 1)) * ph;
    body += `<line x1="${L - 5}" y1="${py}" x2="${L}" y2="${py}" stroke="black"/><text x="${L - 8}" y="${py + 4}" text-anchor="end">${label(v)}</text>\n`;
  }
  body += `<text x="${L + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(s.xLabel)}</text>\n`;
  body += `<text x="18" y="${T + ph / 2}" text-anchor="middle" transform="rotate(-90 18 ${T + ph / 2})">${esc(s.yLabel)}</text>\n`;
  const cx = W - R + 20, steps = 40;
  for (let k = 0; k < steps; k++) {
    const [r, g, b] = colour(map, (k + 0.5) / steps);
    body += `<rect x="${cx}" y="${(T + ph - ((k + 1) * ph) / steps).toFixed(2)}" width="16" height="${(ph / steps + 0.5).toFixed(2)}" fill="rgb(${r},${g},${b})"/>`;
  }
  body += `\n<text x="${cx + 20}" y="${T + ph}">${label(lo)}</text><text x="${cx + 20}" y="${T + 10}">${label(hi)}</text>\n`;
  return frame(s.title, body);
}

export interface BarsSpec {
  title: string;
  labels: string[];
  values: number[];
  errors?: number[]; // +- error bars
  reference?: (number | undefined)[]; // true values drawn as ticks
  yLabel?: string;
}

/** Horizontal coefficient bars with optional error bars and reference ticks. */
export function bars(s: BarsSpec): string {
  const n = s.labels.length, pw = W - 2 * L - 60, ph = H - T - B;
  const ext = [0, ...s.values.map((v, i) => Math.abs(v) + (s.errors?.[i] ?? 0)), ...(s.reference ?? []).map((v) => Math.abs(v ?? 0))];
  const m = Math.max(...ext) || 1;
  const zero = L + 60 + pw / 2, scale = pw / 2 / m, bh = Math.min(28, ph / Math.max(n, 1) - 6);
  let body = `<line x1="${zero}" y1="${T}" x2="${zero}" y2="${T + ph}" stroke="black"/>\n`;
  s.labels.forEach((lab, i) => {
    const y = T + (i + 0.5) * (ph / Math.max(n, 1));
    const v = s.values[i]!, w = Math.abs(v) * scale;
    body += `<text x="${L + 50}" y="${y + 4}" text-anchor="end">${esc(lab)}</text>`;
    body += `<rect x="${v < 0 ? zero - w : zero}" y="${y - bh / 2}" width="${w}" height="${bh}" fill="${v < 0 ? '#2166ac' : '#b2182b'}"/>`;
    const e = s.errors?.[i];
    if (e !== undefined && e > 0) body += `<line x1="${zero + (v - e) * scale}" y1="${y}" x2="${zero + (v + e) * scale}" y2="${y}" stroke="black" stroke-width="2"/>`;
    const r = s.reference?.[i];
    if (r !== undefined) body += `<line x1="${zero + r * scale}" y1="${y - bh / 2 - 3}" x2="${zero + r * scale}" y2="${y + bh / 2 + 3}" stroke="#333" stroke-dasharray="3,2" stroke-width="2"/>`;
    body += `<text x="${v < 0 ? zero + 6 : zero - 6}" y="${y + 4}" text-anchor="${v < 0 ? 'start' : 'end'}">${label(v)}</text>\n`;
  });
  for (const v of [-m, -m / 2, 0, m / 2, m]) {
    const px = zero + v * scale;
    body += `<line x1="${px}" y1="${T + ph}" x2="${px}" y2="${T + ph + 5}" stroke="black"/><text x="${px}" y="${T + ph + 18}" text-anchor="middle">${label(v)}</text>\n`;
  }
  if (s.yLabel !== undefined) body += `<text x="${zero}" y="${H - 12}" text-anchor="middle">${esc(s.yLabel)}</text>\n`;
  return frame(s.title, body);
}

export interface LinesSpec {
  title: string; xLabel: string; yLabel: string;
  series: { name: string; x: number[]; y: number[] }[];
  logY?: boolean;
}

/** Line plot (e.g. loss against step), optionally with a log10 y axis. */
export function lines(s: LinesSpec): string {
  const pw = W - L - R - 40, ph = H - T - B;
  const tf = (v: number): number => (s.logY === true ? Math.log10(Math.max(v, 1e-300)) : v);
  const xs = s.series.flatMap((q) => q.x), ys = s.series.flatMap((q) => q.y.map(tf)).filter(Number.isFinite);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const px = (v: number): number => L + ((v - x0) / (x1 - x0 || 1)) * pw;
  const py = (v: number): number => T + ph - ((tf(v) - y0) / (y1 - y0 || 1)) * ph;
  const palette = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02'];
  let body = `<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="black"/>\n`;
  s.series.forEach((q, k) => {
    const pts = q.x.map((v, i) => `${px(v).toFixed(1)},${py(q.y[i]!).toFixed(1)}`).join(' ');
    body += `<polyline points="${pts}" fill="none" stroke="${palette[k % palette.length]}" stroke-width="1.5"/>\n`;
    body += `<text x="${L + pw + 8}" y="${T + 14 + 16 * k}" fill="${palette[k % palette.length]}">${esc(q.name)}</text>\n`;
  });
  for (const v of ticks(x0, x1)) body += `<text x="${px(v)}" y="${T + ph + 18}" text-anchor="middle">${label(v)}</text>\n`;
  for (const v of ticks(y0, y1)) {
    const y = T + ph - ((v - y0) / (y1 - y0 || 1)) * ph;
    body += `<text x="${L - 8}" y="${y + 4}" text-anchor="end">${s.logY === true ? label(10 ** v) : label(v)}</text>\n`;
  }
  body += `<text x="${L + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(s.xLabel)}</text>\n`;
  body += `<text x="18" y="${T + ph / 2}" text-anchor="middle" transform="rotate(-90 18 ${T + ph / 2})">${esc(s.yLabel)}</text>\n`;
  return frame(s.title, body);
}
