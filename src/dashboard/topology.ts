// A drawing of a plan on the cluster's network: tier blocks as nested boxes, devices as cells marked by the
// groups of rank 0 they belong to (browser-safe SVG text, used by the plans page and the static reports).
import type { ClusterSpec } from '../planner/cluster.js';
import { gridOf, type ParallelPlan } from '../planner/plan.js';
import { DIMS, type Dim } from '../layout/grid.js';

export const GROUP_COLOURS: Record<Dim, string> = { tp: '#e6772e', ep: '#2e9e5b', edp: '#3a6fd8', pp: '#9b4dca' };
const GROUP_NAMES: Record<Dim, string> = { tp: 'tensor', ep: 'expert', edp: 'expert-data', pp: 'pipeline' };

/** Cells and blocks shown per box; the rest are summarized as "+N". */
const MAX_DEVICES = 16, MAX_BLOCKS = 6;
const CELL = 18, GAP = 3, PAD = 6, LABEL = 14, ELIDED = 30;

interface Drawn { w: number; h: number; draw: (x: number, y: number) => string }

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Indices in [0, n) to draw: 0, then those holding a marked rank, then the next ones, up to `cap`, sorted. */
function pick(n: number, marked: Iterable<number>, cap: number): number[] {
  const chosen = new Set<number>([0]);
  for (const i of marked) if (chosen.size < cap && i < n) chosen.add(i);
  for (let i = 1; i < n && chosen.size < cap; i++) chosen.add(i);
  return [...chosen].sort((a, b) => a - b);
}

/** Lays out children left to right, `perRow` per row, with "+N" boxes for skipped runs of indices. */
function row(items: (Drawn | number)[], perRow: number): Drawn {
  const rows: (Drawn | number)[][] = [];
  for (let i = 0; i < items.length; i += perRow) rows.push(items.slice(i, i + perRow));
  const size = (it: Drawn | number) => (typeof it === 'number' ? { w: ELIDED, h: CELL } : it);
  const widths = rows.map((r) => r.reduce<number>((s, it) => s + size(it).w + GAP, -GAP));
  const heights = rows.map((r) => Math.max(...r.map((it) => size(it).h)));
  return {
    w: Math.max(...widths), h: heights.reduce((s, h) => s + h + GAP, -GAP),
    draw: (x, y) => {
      let out = '', yy = y;
      rows.forEach((r, ri) => {
        let xx = x;
        for (const it of r) {
          if (typeof it === 'number') {
            out += `<text x="${xx + ELIDED / 2}" y="${yy + CELL / 2 + 4}" text-anchor="middle" fill="#666">+${it}</text>`;
          } else out += it.draw(xx, yy);
          xx += size(it).w + GAP;
        }
        yy += heights[ri]! + GAP;
      });
      return out;
    },
  };
}

/**
 * SVG of `plan` placed on `cluster`: rank r sits at position r (placement.order is innermost first, so
 * consecutive ranks share the innermost tier). Each device cell has four quadrants, filled when the device
 * is in rank 0's tp / ep / edp / pp group; cells carry data-rank and data-groups for tests and tooltips.
 */
export function topologySvg(cluster: ClusterSpec, plan: ParallelPlan): string {
  const grid = gridOf(plan);
  const world = grid.world;
  const top = cluster.tiers.findIndex((t) => t.group_size >= world);
  const tiers = cluster.tiers.slice(0, top < 0 ? cluster.tiers.length : top + 1);
  const members: Record<Dim, number[]> = { tp: [], ep: [], edp: [], pp: [] };
  for (const d of DIMS) members[d] = grid.groupOf(d, 0);
  // Ranks worth showing: the first few and the last member of each group.
  const marked = [...new Set(DIMS.flatMap((d) => [...members[d].slice(0, 6), members[d][members[d].length - 1]!]))].sort((a, b) => a - b);
  const shown: Record<Dim, Set<number>> = { tp: new Set(), ep: new Set(), edp: new Set(), pp: new Set() };

  const device = (r: number): Drawn => {
    const c = grid.coordsOf(r);
    const groups = DIMS.filter((d) => DIMS.every((o) => o === d || c[o] === 0));
    for (const d of groups) shown[d].add(r);
    return {
      w: CELL, h: CELL,
      draw: (x, y) => {
        const h = CELL / 2;
        const quads = DIMS.map((d, i) => `<rect x="${x + (i % 2) * h}" y="${y + Math.floor(i / 2) * h}" width="${h}" height="${h}" fill="${groups.includes(d) ? GROUP_COLOURS[d] : '#f1f1f1'}"/>`).join('');
        const title = `rank ${r}: ${DIMS.map((d) => `${d} ${c[d]}`).join(', ')}`;
        return `<g class="device" data-rank="${r}" data-groups="${groups.join(' ')}"><title>${esc(title)}</title>${quads}` +
          `<rect x="${x}" y="${y}" width="${CELL}" height="${CELL}" fill="none" stroke="${r === 0 ? '#000' : '#bbb'}" stroke-width="${r === 0 ? 2 : 1}"/></g>`;
      },
    };
  };

  // A block of tier `level` holding ranks [start, start + size).
  const block = (level: number, start: number, size: number): Drawn => {
    const childSize = level === 0 ? 1 : tiers[level - 1]!.group_size;
    const n = Math.ceil(size / childSize);
    const inside = marked.filter((r) => r >= start && r < start + size).map((r) => Math.floor((r - start) / childSize));
    const idx = pick(n, inside, level === 0 ? MAX_DEVICES : MAX_BLOCKS);
    const items: (Drawn | number)[] = [];
    idx.forEach((i, k) => {
      const prev = k === 0 ? -1 : idx[k - 1]!;
      if (i - prev > 1) items.push(i - prev - 1);
      items.push(level === 0 ? device(start + i) : block(level - 1, start + i * childSize, Math.min(childSize, size - i * childSize)));
    });
    if (n - 1 > idx[idx.length - 1]!) items.push(n - 1 - idx[idx.length - 1]!);
    const inner = row(items, level === 0 ? 8 : level === 1 ? 3 : 2);
    const tier = tiers[level]!;
    const label = `${tier.name} ${Math.floor(start / tier.group_size)} (ranks ${start}-${start + size - 1})`;
    const w = Math.max(inner.w + 2 * PAD, label.length * 6.2 + 2 * PAD), h = inner.h + 2 * PAD + LABEL;
    return {
      w, h,
      draw: (x, y) => `<g class="block" data-tier="${esc(tier.name)}" data-start="${start}" data-size="${size}">` +
        `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="4" fill="${level % 2 === 0 ? '#fafafa' : '#eef2f7'}" stroke="#9aa5b1"/>` +
        `<text x="${x + PAD}" y="${y + LABEL}" fill="#333">${esc(label)}</text>${inner.draw(x + PAD, y + PAD + LABEL)}</g>`,
    };
  };

  const body = block(tiers.length - 1, 0, world);
  const bodySvg = body.draw(0, 0); // fills `shown`
  const where = plan.placement.tiers ?? {};
  const legend = DIMS.map((d, i) => {
    const n = members[d].length;
    const text = `${d} (${GROUP_NAMES[d]}) group of rank 0: ${n} rank${n === 1 ? '' : 's'}${n > 1 && where[d] !== undefined ? `, across ${where[d]}` : ''}` +
      `${shown[d].size < n ? ` (${shown[d].size} drawn)` : ''}`;
    return `<g class="legend" data-dim="${d}" data-members="${n}"><rect x="0" y="${i * 18}" width="12" height="12" fill="${GROUP_COLOURS[d]}"/>` +
      `<text x="18" y="${i * 18 + 10}">${esc(text)}</text></g>`;
  }).join('');
  const legendH = DIMS.length * 18 + 8;
  const w = Math.max(body.w, 460) + 2, h = body.h + legendH + 2;
  return `<svg class="topology" xmlns="http://www.w3.org/2000/svg" viewBox="-1 -1 ${w} ${h}" width="${w}" height="${h}" font-family="sans-serif" font-size="11">` +
    `${legend}<g transform="translate(0 ${legendH})">${bodySvg}</g></svg>`;
}
