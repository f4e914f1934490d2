// Ranked plans of one planning problem: table, then for the chosen plan its time breakdown, memory against
// the device's capacity, and the topology drawing with each group placed.
import type { Breakdown, Estimate } from '../../src/planner/cost.js';
import type { MemoryBreakdown } from '../../src/planner/memory.js';
import { planToJson } from '../../src/planner/plan.js';
import { topologySvg } from '../../src/dashboard/topology.js';
import type { PlanReport } from '../../src/dashboard/types.js';
import { PALETTE, stackedBar } from './bars.js';
import { bytes, fmt, h, pct, seconds, svg } from './dom.js';

const TIME_LABELS: Record<keyof Breakdown, string> = {
  compute: 'compute', bubble: 'pipeline bubble', tp: 'TP all-reduce', ep: 'EP all-to-all', wait: 'expert-load wait', pp: 'pipeline sends',
  dp: 'gradient all-reduce', zero: 'ZeRO-3 gathers', optimizer: 'optimizer step', checkpoint: 'checkpoint',
};
const MEMORY_LABELS: Record<Exclude<keyof MemoryBreakdown, 'total'>, string> = {
  weights: 'weights', grads: 'gradients', optimizer: 'optimizer state', activations: 'activations', buffers: 'buffers',
};

/** Groups in placement order with their network tier, e.g. "tp8@nvlink edp4@infiniband". */
function placement(e: Estimate): string {
  const p = e.plan, t = p.placement.tiers ?? {};
  const size = { tp: p.tp, pp: p.pp, ep: p.ep, edp: p.dp / p.ep };
  return p.placement.order.filter((d) => size[d] > 1).map((d) => `${d}${size[d]}@${t[d] ?? '?'}`).join(' ') || '-';
}

export function renderPlanReport(root: HTMLElement, r: PlanReport): void {
  const detail = h('div', { class: 'plan-detail' });
  const best = r.plans[0];
  const header = h('p', { class: 'facts-line' },
    `${r.model.name} on ${r.cluster.name} (${r.devices} devices), ${r.training.global_batch_tokens} tokens/step, ${r.training.dtype}; `,
    `searched ${r.searched} candidate plans, ${r.evaluated} fit in memory and were timed`);
  if (best === undefined) {
    root.replaceChildren(header, h('p', { class: 'error', id: 'no-plan' }, r.explanation.join(' ')));
    return;
  }
  const rows = r.plans.map((e, i) => {
    const p = e.plan;
    const tr = h('tr', { class: i === 0 ? 'plan selected' : 'plan', 'data-rank': String(i + 1) },
      h('td', {}, String(i + 1)), h('td', {}, String(p.tp)), h('td', {}, String(p.pp)), h('td', {}, String(p.dp)), h('td', {}, String(p.ep)),
      h('td', {}, String(p.zero)), h('td', {}, String(p.microBatch)), h('td', {}, p.recompute), h('td', {}, seconds(e.stepTime)),
      h('td', {}, fmt(e.tokensPerSecond)), h('td', {}, pct(e.mfu)), h('td', {}, bytes(e.memory.total)), h('td', {}, placement(e)));
    tr.addEventListener('click', () => {
      for (const x of root.querySelectorAll('tr.plan')) x.classList.remove('selected');
      tr.classList.add('selected');
      showDetail(detail, r, e, i + 1);
    });
    return tr;
  });
  const table = h('table', { class: 'plans', id: 'plans', 'data-best': JSON.stringify(planToJson(best.plan)) },
    h('tr', {}, ...['#', 'tp', 'pp', 'dp', 'ep', 'ZeRO', 'mb', 'recompute', 'step', 'tokens/s', 'MFU', 'memory', 'placement (inner first)'].map((t) => h('th', {}, t))),
    ...rows);
  root.replaceChildren(header, table, h('ul', { class: 'explanation' }, ...r.explanation.map((l) => h('li', {}, l))), detail);
  showDetail(detail, r, best, 1);
}

function showDetail(root: HTMLElement, r: PlanReport, e: Estimate, rank: number): void {
  const b = e.breakdown;
  const time = (Object.keys(TIME_LABELS) as (keyof Breakdown)[]).map((k, i) => ({ label: TIME_LABELS[k], value: b[k], colour: PALETTE[i % PALETTE.length]! }));
  const mem = (Object.keys(MEMORY_LABELS) as (keyof typeof MEMORY_LABELS)[]).map((k, i) => ({ label: MEMORY_LABELS[k], value: e.memory[k], colour: PALETTE[i]! }));
  const cap = r.cluster.device.memory_bytes;
  const ck = e.checkpoint;
  root.replaceChildren(
    h('h3', {}, `Plan #${rank}: step ${seconds(e.stepTime)}, ${fmt(e.tokensPerSecond)} tokens/s, MFU ${pct(e.mfu)} (HFU ${pct(e.hfu)})`),
    h('h4', {}, 'Where a step goes'), svg(stackedBar(time, seconds), 'breakdown'),
    h('h4', {}, `Memory per device: ${bytes(e.memory.total)} of ${bytes(cap)} (${pct(e.memory.total / cap)})`),
    svg(stackedBar(mem, bytes, { limit: cap, limitLabel: `capacity ${bytes(cap)}` }), 'memory'),
    h('p', { class: 'note' }, !Number.isFinite(ck.seconds) ? 'checkpoint: no storage described'
      : `checkpoint: ${seconds(ck.seconds)} with ${ck.writers} writers${Number.isFinite(ck.blocks) ? ` in ${ck.blocks} block(s)` : ''}`),
    h('h4', {}, 'Topology: groups of rank 0 placed on the network'), svg(topologySvg(r.cluster, e.plan), 'topology-wrap'),
  );
}
