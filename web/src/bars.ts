// Horizontal stacked bars as SVG text: where a step's time goes, what fills a device's memory.

export interface Part { label: string; value: number; colour: string }

export const PALETTE = ['#3a6fd8', '#e6772e', '#2e9e5b', '#9b4dca', '#d64545', '#c9a227', '#17a2b8', '#7f7f7f', '#e377c2'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * One bar of `parts` scaled to `scale` (default: their sum); with `limit`, a red line marks it (capacity).
 * Below the bar, a legend lists each non-zero part with `describe(value)` and its share of the sum.
 */
export function stackedBar(parts: Part[], describe: (v: number) => string, opts: { scale?: number; limit?: number; limitLabel?: string } = {}): string {
  const W = 640, BAR = 26, live = parts.filter((p) => p.value > 0);
  const sum = live.reduce((s, p) => s + p.value, 0);
  const scale = Math.max(opts.scale ?? sum, opts.limit ?? 0, 1e-300);
  let x = 0, bars = '';
  for (const p of live) {
    const w = (W * p.value) / scale;
    bars += `<rect class="part" data-label="${esc(p.label)}" data-value="${p.value}" x="${x}" y="0" width="${w}" height="${BAR}" fill="${p.colour}"><title>${esc(p.label)}: ${esc(describe(p.value))}</title></rect>`;
    x += w;
  }
  if (opts.limit !== undefined) {
    const lx = Math.min(W - 1, (W * opts.limit) / scale);
    bars += `<line x1="${lx}" x2="${lx}" y1="-4" y2="${BAR + 4}" stroke="#c00" stroke-width="2"/>` +
      `<text x="${Math.max(0, lx - 4)}" y="${BAR + 16}" text-anchor="end" fill="#c00">${esc(opts.limitLabel ?? describe(opts.limit))}</text>`;
  }
  const rows = Math.ceil(live.length / 3);
  const legend = live.map((p, i) => {
    const lx = (i % 3) * 215, ly = BAR + 30 + Math.floor(i / 3) * 18;
    return `<rect x="${lx}" y="${ly - 10}" width="10" height="10" fill="${p.colour}"/><text x="${lx + 14}" y="${ly}">${esc(p.label)} ${esc(describe(p.value))} (${sum > 0 ? ((100 * p.value) / sum).toFixed(1) : '0'}%)</text>`;
  }).join('');
  const H = BAR + 30 + rows * 18;
  return `<svg class="bar" xmlns="http://www.w3.org/2000/svg" viewBox="0 -6 ${W} ${H + 6}" width="${W}" height="${H + 6}" font-family="sans-serif" font-size="11">${bars}${legend}</svg>`;
}
