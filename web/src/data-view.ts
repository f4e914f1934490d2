// A cleaning report of `furnace data clean`: documents per stage, removals by reason with samples, clusters.
import { PALETTE, stackedBar } from './bars.js';
import { fmt, h, svg } from './dom.js';

interface Stage { name: string; enabled: boolean; docs_in: number; docs_out: number; removed: Record<string, number>; modified: number }
interface Sample { id: string; source: string; line: number; excerpt: string; duplicate_of?: string }

const asRecord = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? v as Record<string, unknown> : {});

export function renderDataReport(root: HTMLElement, name: string, report: Record<string, unknown>): void {
  const stages = (Array.isArray(report['stages']) ? report['stages'] : []) as Stage[];
  const samples = asRecord(report['samples']) as Record<string, Sample[]>;
  const near = asRecord(report['near_dedup']);
  const clusters = (Array.isArray(near['items']) ? near['items'] : []) as { kept: string; removed: string[] }[];
  const docsIn = Number(report['docs_in']), docsOut = Number(report['docs_out']);
  const removedParts = stages.flatMap((s) => Object.entries(s.removed).map(([reason, n]) => ({ stage: s.name, reason, n })))
    .sort((a, b) => b.n - a.n);
  root.replaceChildren(
    h('h2', {}, `data report ${name}`),
    h('p', { class: 'facts-line' }, `${String(report['input'])}: ${docsIn} documents in, ${docsOut} out (${docsIn > 0 ? ((100 * docsOut) / docsIn).toFixed(1) : '-'}% kept), ` +
      `${fmt(Number(report['bytes_in']))} bytes in, ${fmt(Number(report['seconds']))} s`),
    h('h3', {}, 'Documents per stage'),
    h('table', { class: 'stages', id: 'stages' },
      h('tr', {}, ...['stage', 'in', 'out', 'removed', 'modified', ''].map((t) => h('th', {}, t))),
      ...stages.map((s) => {
        const removed = Object.values(s.removed).reduce((a, b) => a + b, 0);
        const w = docsIn > 0 ? (100 * s.docs_out) / docsIn : 0;
        return h('tr', { 'data-stage': s.name }, h('td', {}, s.name + (s.enabled ? '' : ' (off)')), h('td', {}, String(s.docs_in)), h('td', {}, String(s.docs_out)),
          h('td', {}, String(removed)), h('td', {}, String(s.modified)), h('td', { class: 'meter' }, h('div', { style: `width:${w.toFixed(1)}%` })));
      })),
    h('h3', {}, 'Removed, by reason'),
    svg(stackedBar(removedParts.map((p, i) => ({ label: `${p.stage}/${p.reason}`, value: p.n, colour: PALETTE[i % PALETTE.length]! })), (v) => String(v))),
    h('p', { class: 'note' }, `PII redacted: ${Object.entries(asRecord(report['pii'])).map(([k, v]) => `${k} ${String(v)}`).join(', ')}; ` +
      `bad input lines: ${String(asRecord(report['bad_input'])['total'] ?? 0)}; C4 lines dropped inside kept documents: ${String(report['c4_units_dropped'] ?? 0)}`),
    ...removedParts.map((p, i) => h('details', { class: 'reason', 'data-reason': p.reason, ...(i === 0 ? { open: '' } : {}) },
      h('summary', {}, `${p.stage}/${p.reason}: ${p.n}`),
      ...(samples[p.reason] ?? []).map((s) => h('div', { class: 'sample' },
        h('div', { class: 'where' }, `${s.id} (${s.source}:${s.line})${s.duplicate_of !== undefined ? ` duplicate of ${s.duplicate_of}` : ''}`),
        h('pre', {}, s.excerpt))))),
    h('h3', {}, `Near-duplicate clusters: ${Number(near['clusters'] ?? 0)} (largest ${Number(near['largest'] ?? 0)}, ${Number(near['confirmed_pairs'] ?? 0)} confirmed pairs)`),
    clusters.length === 0 ? h('p', { class: 'note' }, 'no near-duplicate clusters')
      : h('table', { class: 'clusters', id: 'clusters' }, h('tr', {}, h('th', {}, 'kept'), h('th', {}, 'removed')),
        ...clusters.slice(0, 200).map((c) => h('tr', {}, h('td', {}, c.kept), h('td', {}, c.removed.join(', '))))),
    h('details', {}, h('summary', {}, 'report.json'), h('pre', {}, JSON.stringify(report, null, 2).slice(0, 200000))),
  );
}
