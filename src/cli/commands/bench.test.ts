// `furnace bench`: every bench prints its usage on --help, and bad flags exit 2 naming the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../main.js', import.meta.url));
const furnace = (...args: string[]) => spawnSync(process.execPath, [main, 'bench', ...args], { encoding: 'utf8' });

test('furnace bench KIND --help prints that bench usage and exits 0', () => {
  for (const kind of ['kernels', 'step', 'comm', 'ckpt', 'data', 'sciml', 'plan', 'topology']) {
    const r = furnace(kind, '--help');
    assert.equal(r.status, 0, `${kind}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: furnace bench ${kind} \\[`), kind);
  }
  assert.match(furnace('ckpt', '-h').stdout, /--repeats N/);
});

test('furnace bench: an unknown bench or a bad flag exits 2 with one line naming it', () => {
  const cases: [string[], RegExp][] = [
    [['nope'], /bench: unknown benchmark 'nope' \(choose kernels, step, comm/],
    [['step', '--preset', 'huge'], /--preset: 'tiny' or 'small', got 'huge'/],
    [['comm', '--ops', 'allReduce,scan'], /--ops: unknown op 'scan'/],
    [['kernels', '--sizes', '0'], /--sizes: integers in \[1, 8192\]/],
    [['plan', '--repeat', 'x'], /--repeat: expected an integer, got 'x'/],
    [['data', '--typo'], /Unknown option '--typo'/],
    // Checked before any cluster is made, so these run without root.
    [['topology', '--link', '1gbit,fast'], /--link: expected a rate like 1gbit/],
    [['topology', '--nodes', '1'], /--nodes: expected a comma-separated list, got '1'/],
    [['topology', '--steps', '1'], /--steps/],
    [['topology', '--map-by', 'core'], /--map-by: expected node or slot, got 'core'/],
    [['topology', '--nodes', '2,3', '--ep', '4'], /--ep: 4 does not divide 3 nodes x 2 ranks/],
  ];
  for (const [args, re] of cases) {
    const r = furnace(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});
