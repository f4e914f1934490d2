// furnace discover end to end: JSON result, plots, and one-line errors with exit code 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../main.js', import.meta.url));
const furnace = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

test('furnace discover --json: one JSON result line with canonical terms, and SVG plots in --out', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-discover-'));
  // u = exp(-(x - 0.5 t)^2 ...) advected: u_t = -0.5 u_x exactly.
  const x = Array.from({ length: 80 }, (_, j) => -4 + j * 0.1), t = Array.from({ length: 30 }, (_, i) => i * 0.1);
  const u = t.map((ti) => x.map((xj) => Math.exp(-((xj - 0.5 * ti) ** 2))));
  const file = join(dir, 'adv.json');
  writeFileSync(file, JSON.stringify({ x, t, u }));
  const r = furnace('discover', '--data', file, '--max-order', '3', '--bags', '3', '--json', '--out', join(dir, 'plots'));
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const res = JSON.parse(lines[lines.length - 1]!) as { terms: { term: string; coef: number }[]; residual: number };
  assert.deepEqual(res.terms.map((q) => q.term), ['u_x']);
  assert.ok(Math.abs(res.terms[0]!.coef + 0.5) < 1e-3);
  assert.deepEqual(readdirSync(join(dir, 'plots')).sort(), ['coefficients.svg', 'data.svg', 'inclusion.svg', 'residual.svg']);
});

test('furnace discover: bad input exits 2 with one line naming the problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-discover-'));
  const cases: [string, string, RegExp][] = [
    ['ragged.json', JSON.stringify({ x: [0, 1, 2], t: [0, 1, 2], u: [[1, 2, 3], [1, 2], [1, 2, 3]] }), /ragged grid/],
    ['uneven.json', JSON.stringify({ x: [0, 1, 3], t: [0, 1, 2], u: [[1, 2, 3], [1, 2, 3], [1, 2, 3]] }), /non-uniform spacing in x/],
    ['nan.csv', 'x,t,u\n0,0,1\n1,0,nan\n', /u is 'nan'/],
    ['small.json', JSON.stringify({ x: [0, 1, 2, 3, 4], t: [0, 1, 2, 3, 4], u: Array(5).fill([1, 2, 3, 4, 5]) }), /x has 5 points; finite differences up to order 4 need at least 7/],
  ];
  for (const [name, body, re] of cases) {
    const p = join(dir, name);
    writeFileSync(p, body);
    const r = furnace('discover', '--data', p, '--no-plots', '--diff', 'fd');
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  for (const args of [['--data', join(dir, 'missing.json')], ['--problem', 'nope'], ['--data', 'x', '--max-order', 'two'], ['--data', 'x', '--terms', 'sin(u)'], []]) {
    const r = furnace('discover', ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('furnace discover: noise alone is refused with exit 1, one line, and the best candidate in --json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-discover-'));
  let s = 12345; // a small LCG, so the data file does not depend on the library's generator
  const rand = (): number => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
  const x = Array.from({ length: 96 }, (_, j) => j * 0.1), t = Array.from({ length: 80 }, (_, i) => i * 0.05);
  const file = join(dir, 'noise.json');
  writeFileSync(file, JSON.stringify({ x, t, u: t.map(() => x.map(() => rand())) }));
  const r = furnace('discover', '--data', file, '--bags', '6', '--no-plots', '--json');
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[lines.length - 1]!, /^furnace: .*noise\.json: no (stable )?sparse model/);
  const out = r.stdout.trim().split('\n');
  const res = JSON.parse(out[out.length - 1]!) as { ok: boolean; best: { equation: string; residual: number } };
  assert.equal(res.ok, false);
  assert.match(res.best.equation, /^u_t = /);
  assert.ok(res.best.residual > 0.5, `best residual ${res.best.residual}`);
});

test('furnace discover: weak-form flags are checked', () => {
  for (const [args, re] of [
    [['--method', 'weak', '--diff', 'fd'], /--diff: .*strong form only/],
    [['--method', 'weakest'], /--method: expected auto, strong or weak/],
    [['--method', 'weak', '--terms', 'u_x^2'], /u_x\^2' is not an x-derivative of a power of u/],
    [['--method', 'weak', '--width-x', '200'], /half-width 200/],
  ] as [string[], RegExp][]) {
    const r = furnace('discover', '--problem', 'burgers', '--no-plots', ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
