// Static reports are one self-contained file whose embedded data reads back exactly, even with hostile strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { furnace, writeRun } from './testing/fixtures.js';
import { writeRunReport } from './report.js';
import { readRunDetail } from './runs.js';
import type { EmbeddedReport } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'furnace-report-'));

function embedded(html: string): EmbeddedReport {
  const m = /<script id="furnace-report" type="application\/json">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m !== null, 'no embedded report');
  return JSON.parse(m[1]!) as EmbeddedReport;
}

function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /<script[^>]+\bsrc=/i, 'external script');
  assert.doesNotMatch(html, /<link[^>]+rel="stylesheet"/i, 'external stylesheet');
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i, 'network reference');
  assert.match(html, /<script type="module">/);
}

test('writeRunReport embeds the run as the dashboard reads it, and hostile strings cannot break out', async () => {
  const run = join(dir, 'runs', 'r1');
  writeRun(run, 12, true);
  const hostile = '</script><script>document.title="owned"</script><!--';
  writeFileSync(join(run, 'config.json'), JSON.stringify({ model: { name: hostile }, train: { steps: 12 } }));
  const file = join(dir, 'out', 'r1.html');
  await writeRunReport(run, file);
  const html = readFileSync(file, 'utf8');
  assertSelfContained(html);
  assert.ok(!html.includes(hostile));
  const r = embedded(html);
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') return;
  const { updated: _u, status: _s, ...want } = readRunDetail(join(dir, 'runs'), 'r1')!;
  const { updated: _u2, status: _s2, ...got } = r.run;
  assert.deepEqual(got, want);
  assert.equal((r.run.config as { model: { name: string } }).model.name, hostile);
  assert.deepEqual(r.checkpoints, []);
});

test('writeRunReport refuses a folder that is not a run', async () => {
  await assert.rejects(writeRunReport(dir, join(dir, 'x.html')), /no metrics\.jsonl/);
});

test('furnace plan --report writes a report whose ranked plans are the ones --json prints', () => {
  const file = join(dir, 'plan.html');
  const r = furnace(['plan', '--model', 'preset:megatron-1.7b', '--cluster', 'preset:a100-selene', '--devices', '32', '--top', '3', '--report', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const cli = JSON.parse(r.stdout.trim().split('\n').pop()!) as { plans: { tp: number; pp: number; dp: number; ep: number; zero: number; micro_batch: number; recompute: string; step_time_s: number }[]; explanation: string[]; searched: number };
  const html = readFileSync(file, 'utf8');
  assertSelfContained(html);
  const e = embedded(html);
  assert.equal(e.kind, 'plan');
  if (e.kind !== 'plan') return;
  assert.equal(e.plan.plans.length, 3);
  e.plan.plans.forEach((p, i) => {
    const c = cli.plans[i]!;
    assert.deepEqual([p.plan.tp, p.plan.pp, p.plan.dp, p.plan.ep, p.plan.zero, p.plan.microBatch, p.plan.recompute, p.stepTime],
      [c.tp, c.pp, c.dp, c.ep, c.zero, c.micro_batch, c.recompute, c.step_time_s]);
  });
  assert.deepEqual(e.plan.explanation, cli.explanation);
  assert.equal(e.plan.searched, cli.searched);
  assert.equal(e.plan.devices, 32);
});
