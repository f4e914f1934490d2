// Training on a two-tier network (threads, and MPI when installed; the topology file's nodes are the tiers): with
// topology-aware placement and hierarchical collectives, and with the naive layout and flat
// collectives, every layout trains the same model as one rank, and the run records which it used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findMpirun } from '../comm/mpi-group.js';
import type { CollectivesRecord } from '../comm/topology-collectives.js';
import { assertSameRun, readRun, runFurnace, trainFixture, type RunOutputs } from './testing/train-runs.js';

const fx = trainFixture('topo');
const { dir, corpus, config } = fx;
// 2 nodes x 2 ranks: shared memory inside a node, 1 Gbit/s Ethernet between them.
const topology = join(dir, 'topology.json');
writeFileSync(topology, JSON.stringify({ tiers: [{ name: 'node', group_size: 2, bandwidth: 10e9, latency: 1e-6 },
  { name: 'network', group_size: 4, bandwidth: 125e6, latency: 50e-6 }] }));

/** Runs furnace, under `prefix` (e.g. mpirun ...) when given. */
function furnace(args: string[], prefix: string[] = []) {
  return runFurnace(fx, args, { prefix });
}

interface Run extends RunOutputs { collectives?: CollectivesRecord; order: string[] }

function trainRun(name: string, layout: string[], prefix: string[] = []): Run {
  const out = join(dir, name);
  const r = furnace(['train', '--config', config, '--corpus', corpus, '--out', out, '--sample-tokens', '0', '--json', ...layout], prefix);
  assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { collectives?: CollectivesRecord };
  const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as { placement: { order: string[] } };
  return { ...readRun(out), order: plan.placement.order, ...(summary.collectives !== undefined ? { collectives: summary.collectives } : {}) };
}

let baseline: Run | undefined;
const base = () => (baseline ??= trainRun('one-rank', ['--dp', '1']));

// dp4 x ep2: ep inside a node (flat all-to-all), dp across both (two-level all-reduce), expertDp one
// rank per node (flat). dp4 x ep4: ep and dp both span the nodes (two-level all-to-all and all-reduce).
// The micro model's dense gradients (18k floats) are above MIN_HIERARCHICAL_ALLREDUCE: they take the two-level path.
const cases: [string, string[], CollectivesRecord][] = [
  ['dp4 x ep2', ['--dp', '4', '--ep', '2'], { placement: 'topology', allreduce: { dp: 'hierarchical', edp: 'flat' } }],
  ['dp4 x ep4', ['--dp', '4', '--ep', '4'], { placement: 'topology', allreduce: { dp: 'hierarchical' } }],
  // ZeRO-1: the dp gradients are reduce-scattered and the parameters all-gathered in two levels.
  ['dp4 x ep2 ZeRO-1', ['--dp', '4', '--ep', '2', '--zero'], { placement: 'topology', allreduce: { dp: 'hierarchical', edp: 'flat' } }],
];
for (const [name, layout, expected] of cases) {
  test(`threads ${name} on 2 nodes x 2 ranks: topology-aware and naive both match one rank`, { timeout: 300_000 }, () => {
    const topo = trainRun(`topo-${name}`, [...layout, '--topology', topology]);
    assert.deepEqual(topo.collectives?.allreduce, expected.allreduce);
    assert.equal(topo.collectives?.placement, 'topology');
    assert.equal(topo.collectives?.alltoall?.kind, layout[3] === '4' ? 'hierarchical' : 'flat');
    assertSameRun(base(), topo, `${name} topology`);
    const naive = trainRun(`naive-${name}`, [...layout, '--topology', topology, '--placement', 'naive']);
    assert.equal(naive.collectives?.placement, 'naive');
    assert.equal(naive.collectives?.alltoall?.kind, 'flat');
    assert.deepEqual(naive.collectives?.allreduce, layout[3] === '4' ? { dp: 'flat' } : { dp: 'flat', edp: 'flat' });
    assert.deepEqual(naive.order, ['tp', 'ep', 'edp', 'pp']);
    assertSameRun(topo, naive, `${name} naive against topology`);
  });
}

const mpirun = findMpirun();
test('mpi dp4 x ep4 on 2 nodes x 2 ranks: two-level collectives match one rank', {
  timeout: 300_000, skip: mpirun === undefined ? 'Open MPI (mpirun) is not installed' : false }, () => {
  const prefix = ['mpirun', '--allow-run-as-root', '--oversubscribe', '--mca', 'mpi_yield_when_idle', '1', '-np', '4'];
  const run = trainRun('mpi-dp4-ep4', ['--dp', '4', '--ep', '4', '--comm', 'mpi', '--topology', topology], prefix);
  assert.equal(run.collectives?.alltoall?.kind, 'hierarchical');
  assert.deepEqual(run.collectives?.allreduce, { dp: 'hierarchical' });
  assertSameRun(base(), run, 'mpi dp4 x ep4 topology');
});

test('--placement: an unknown value, or naive with a plan, is refused in one line (exit 2)', () => {
  const bad = furnace(['train', '--config', config, '--corpus', corpus, '--dp', '4', '--placement', 'fast']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--placement: unknown placement 'fast'/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  const plan = join(dir, 'plan.json');
  writeFileSync(plan, JSON.stringify({ dp: 4, tp: 1, pp: 1, ep: 2, zero: 0, micro_batch: 1, recompute: 'none' }));
  const both = furnace(['train', '--config', config, '--corpus', corpus, '--plan', plan, '--placement', 'naive']);
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /--placement: naive/);
});
