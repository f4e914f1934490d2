// furnace pinn end to end: a tiny run's JSON result and plots, and one-line config errors (exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../main.js', import.meta.url));
const furnace = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

test('furnace pinn --json: a short inverse run reports errors, coefficients and plots', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-pinn-'));
  const cfg = join(dir, 'cfg.json');
  writeFileSync(cfg, JSON.stringify({ problem: 'burgers-inverse', dataPoints: 200, widths: [2, 8, 8, 1], adamSteps: 5, lbfgsSteps: 3 }));
  const r = furnace('pinn', '--config', cfg, '--json', '--out', dir);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const res = JSON.parse(lines[lines.length - 1]!) as { relL2: number; coefs: Record<string, number>; adamSteps: number; files: string[] };
  assert.ok(Number.isFinite(res.relL2) && res.relL2 > 0);
  assert.deepEqual(Object.keys(res.coefs).sort(), ['u*u_x', 'u_xx']);
  assert.equal(res.adamSteps, 5);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.svg')).sort(), ['error.svg', 'loss.svg', 'residual.svg', 'solution.svg']);
});

test('furnace pinn: bad configs and flags exit 2 with one line naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-pinn-'));
  const cases: [unknown, RegExp][] = [
    [{ problem: 'burgers', adamStep: 3 }, /adamStep: unknown key/],
    [{ problem: 'burgers', weighting: 'magic' }, /weighting: expected one of fixed, annealing, dual/],
    [{ problem: 'burgers', constraints: [{ kind: 'convex' }] }, /constraints\[0\].kind/],
    [[1, 2], /expected a JSON object/],
  ];
  cases.forEach(([body, re], i) => {
    const p = join(dir, `c${i}.json`);
    writeFileSync(p, JSON.stringify(body));
    const r = furnace('pinn', '--config', p);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
  for (const args of [['--problem', 'heat'], ['--problem', 'burgers', '--adam-steps', '-1'], []]) {
    const r = furnace('pinn', ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});
