// Cleaning report files: report.json (everything), summary.txt (for people), manifest.json
// (provenance: inputs and their hashes, options, outputs, furnace version) for reproduction.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { CleanOptions, CleanReport } from './clean.js';
import { writeTextAtomic } from './shards.js';

export function furnaceVersion(): string {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version?: string };
  return pkg.version ?? 'unknown';
}

/** The readable summary: one row per stage, then removals by reason, bad input, clusters, PII. */
export function summaryText(r: CleanReport): string {
  const lines: string[] = [];
  const mb = r.bytes_in / 1e6;
  lines.push(`furnace data clean: ${r.input} -> ${r.out_dir}`);
  lines.push(`${r.docs_in} documents in, ${r.docs_out} out (${pct(r.docs_out, r.docs_in)} kept); ` +
    `${mb.toFixed(2)} MB in ${r.seconds.toFixed(2)} s = ${(mb / r.seconds).toFixed(2)} MB/s; languages: en ${r.languages.en}, zh ${r.languages.zh}`);
  lines.push('');
  lines.push(`${'stage'.padEnd(12)} ${'in'.padStart(9)} ${'out'.padStart(9)} ${'removed'.padStart(9)} ${'modified'.padStart(9)}`);
  for (const s of r.stages) {
    const removed = Object.values(s.removed).reduce((a, b) => a + b, 0);
    lines.push(`${s.name.padEnd(12)} ${String(s.docs_in).padStart(9)} ${String(s.docs_out).padStart(9)} ${String(removed).padStart(9)} ` +
      `${String(s.modified).padStart(9)}${s.enabled ? '' : '  (off)'}`);
  }
  lines.push('');
  lines.push('removed, by reason:');
  for (const s of r.stages) {
    for (const [reason, n] of Object.entries(s.removed).sort((a, b) => b[1] - a[1])) {
      const ex = r.samples[reason]?.[0];
      lines.push(`  ${s.name}/${reason}: ${n}${ex ? `   e.g. ${ex.id} (${ex.source}:${ex.line})${ex.duplicate_of ? ` = ${ex.duplicate_of}` : ''}` : ''}`);
    }
  }
  if (r.bad_input.total > 0) {
    lines.push('');
    lines.push(`bad input: ${r.bad_input.total} (${Object.entries(r.bad_input.by_reason).map(([k, v]) => `${k} ${v}`).join(', ')})`);
    for (const b of r.bad_input.items.slice(0, 20)) lines.push(`  ${b.source}:${b.line}: ${b.reason} (${b.detail})`);
    if (r.bad_input.total > 20) lines.push(`  ... see report.json (${r.bad_input.items.length} listed)`);
  }
  lines.push('');
  lines.push(`near-duplicate clusters: ${r.near_dedup.clusters} (largest ${r.near_dedup.largest}, ${r.near_dedup.confirmed_pairs} confirmed pairs)`);
  for (const c of r.near_dedup.items.slice(0, 10)) lines.push(`  kept ${c.kept}, removed ${c.removed.slice(0, 5).join(', ')}${c.removed.length > 5 ? ', ...' : ''}`);
  lines.push(`C4 lines/paragraphs dropped inside kept documents: ${r.c4_units_dropped}`);
  lines.push(`PII redacted: ${Object.entries(r.pii).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return lines.join('\n') + '\n';
}

export interface Manifest {
  tool: 'furnace';
  furnace_version: string;
  node_version: string;
  created: string;
  command: string[];
  inputs: { path: string; bytes: number; sha256: string }[];
  options: CleanOptions;
  outputs: { path: string; bytes: number; sha256: string }[];
}

/** Writes report.json, summary.txt and manifest.json into the report's out_dir (atomically each). */
export function writeReport(r: CleanReport, options: CleanOptions, command: string[]): Manifest {
  const dir = r.out_dir;
  writeTextAtomic(join(dir, 'report.json'), JSON.stringify(r, null, 2) + '\n');
  writeTextAtomic(join(dir, 'summary.txt'), summaryText(r));
  const outputs = [...r.outputs];
  for (const f of ['report.json', 'summary.txt']) {
    const b = readFileSync(join(dir, f));
    outputs.push({ path: join(dir, f), bytes: b.length, sha256: createHash('sha256').update(b).digest('hex') });
  }
  const manifest: Manifest = {
    tool: 'furnace', furnace_version: furnaceVersion(), node_version: process.version, created: new Date().toISOString(),
    command, inputs: r.sources, options, outputs,
  };
  writeTextAtomic(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

function pct(a: number, b: number): string {
  return b === 0 ? '-' : `${((100 * a) / b).toFixed(1)}%`;
}
