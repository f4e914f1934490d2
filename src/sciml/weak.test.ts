// Weak-form discovery: integration by parts is exact, and Burgers, KdV, KS and Fisher-KPP are found
// at 1% and 5% noise; noise alone is refused; auto picks the strong form for clean data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { discoverAuto, discoverWeak, judge, type DiscoverResult } from './discover.js';
import { burgersPeriodic, fisherKpp, kdv, kuramotoSivashinsky } from './generators.js';
import { addNoise } from './rng.js';
import type { Field } from './spectral.js';
import { parseTerm } from './terms.js';
import { asWeak, bumpSamples, spectrumCorner, weakLibrary, weakSystem } from './weak.js';
import { Rng } from '../tensor/random.js';

const noisy = (f: Field, p: number): Field => ({ ...f, u: addNoise(f.u, p, 1) });

/** Exactly the true terms, each within `tol` relative error; returns the worst error. */
function check(r: DiscoverResult, truth: Record<string, number>, tol: number, what: string): number {
  const found = Object.fromEntries(r.terms.map((t) => [t.term, t.coef]));
  assert.deepEqual(Object.keys(found).sort(), Object.keys(truth).sort(), `${what}: terms ${JSON.stringify(found)}`);
  let worst = 0;
  for (const [k, v] of Object.entries(truth)) {
    const err = Math.abs(found[k]! / v - 1);
    assert.ok(err < tol, `${what}: ${k} = ${found[k]} (true ${v}), error ${(100 * err).toFixed(2)}% > ${100 * tol}%`);
    worst = Math.max(worst, err);
  }
  assert.ok(judge(r).ok, `${what}: ${judge(r).reason}`);
  return worst;
}

test('bump derivatives match finite differences of the bump', () => {
  const p = 5, w = 40, h = 0.1, e = 1e-5;
  const bump = (z: number): number => Math.max(0, 1 - (z / (w * h)) ** 2) ** p;
  for (const k of [1, 2]) {
    const s = bumpSamples(p, k, w, h);
    for (const i of [-31, -7, 0, 12, 38]) {
      const z = i * h;
      const fd = k === 1 ? (bump(z + e) - bump(z - e)) / (2 * e) : (bump(z + e) - 2 * bump(z) + bump(z - e)) / (e * e);
      assert.ok(Math.abs(s[i + w]! - fd) < 1e-4 * (1 + Math.abs(fd)), `k=${k} i=${i}: ${s[i + w]} vs ${fd}`);
    }
  }
});

test('integration by parts: the weak row of D^k (u^m) equals the integral of its strong form', () => {
  // u = sin(x) + 0.5 cos(2t + x): D(u^2) = 2 u u_x and D^2 u = u_xx are known in closed form.
  const nx = 200, nt = 120;
  const x = Float64Array.from({ length: nx }, (_, j) => j * 0.03), t = Float64Array.from({ length: nt }, (_, i) => i * 0.02);
  const u = new Float64Array(nx * nt), uux = new Float64Array(nx * nt), uxx = new Float64Array(nx * nt), ut = new Float64Array(nx * nt);
  for (let i = 0; i < nt; i++) for (let j = 0; j < nx; j++) {
    const a = x[j]!, b = t[i]!, c = i * nx + j;
    u[c] = Math.sin(a) + 0.5 * Math.cos(2 * b + a);
    const ux = Math.cos(a) - 0.5 * Math.sin(2 * b + a);
    uux[c] = u[c]! * ux; uxx[c] = -Math.sin(a) - 0.5 * Math.cos(2 * b + a); ut[c] = -Math.sin(2 * b + a);
  }
  const lib = weakLibrary(2, 2), names = lib.map((q) => q.name);
  // The same test functions for every system; quadrature error O(h^4) with p = 5 and two derivatives.
  const o = { widthX: 30, widthT: 20, degreeX: 5, patches: 40 };
  const sys = weakSystem({ x, t, u }, lib, o);
  // <v, phi> for a known field v: the k = 0, m = 1 column of the system built on v.
  const plain = (v: Float64Array): Float64Array => {
    const s = weakSystem({ x, t, u: v }, [{ name: 'u', k: 0, m: 1, scale: 1 }], o);
    return s.g;
  };
  const pairs: [Float64Array, number | 'b'][] = [[uux, names.indexOf('u*u_x')], [uxx, names.indexOf('u_xx')], [ut, 'b']];
  for (const [v, col] of pairs) {
    const ref = plain(v);
    for (let r = 0; r < sys.rows; r++) {
      const got = col === 'b' ? sys.b[r]! : sys.g[r * lib.length + col]!;
      assert.ok(Math.abs(got - ref[r]!) < 1e-4 * (1e-3 + Math.abs(ref[r]!)), `${String(col)} row ${r}: ${got} vs ${ref[r]}`);
    }
  }
});

test('strong-form terms with a D^k (u^m) form map to it; products of derivatives are refused', () => {
  assert.deepEqual(asWeak(parseTerm('u*u_x')), { name: 'u*u_x', k: 1, m: 2, scale: 0.5 });
  assert.deepEqual(asWeak(parseTerm('u^2*u_x')), { name: 'u^2*u_x', k: 1, m: 3, scale: 1 / 3 });
  assert.equal(asWeak(parseTerm('u_xxx'))?.k, 3);
  assert.equal(asWeak(parseTerm('u^3'))?.m, 3);
  assert.equal(asWeak(parseTerm('u_x^2')), undefined);
  assert.equal(asWeak(parseTerm('u*u_xx')), undefined);
});

test('the spectrum corner separates a band-limited signal from a white-noise floor', () => {
  const spec = Float64Array.from({ length: 129 }, (_, k) => (k < 20 ? 100 * Math.exp(-k / 5) : 0) + 0.5);
  const c = spectrumCorner(spec);
  assert.ok(c >= 8 && c <= 22, `corner ${c}`);
});

const targets = (noise: number, ks: boolean): number => (ks && noise > 0.01 ? 0.1 : 0.05);

test('Burgers by the weak form at 1% and 5% noise', () => {
  const f = burgersPeriodic();
  for (const p of [0.01, 0.05]) check(discoverWeak(noisy(f, p), { bags: 20, dropTerms: 1 }), { 'u*u_x': -1, u_xx: 0.1 }, targets(p, false), `Burgers ${p}`);
});

test('KdV by the weak form at 1% and 5% noise', () => {
  const f = kdv();
  for (const p of [0.01, 0.05]) check(discoverWeak(noisy(f, p), { bags: 20, dropTerms: 1 }), { 'u*u_x': -6, u_xxx: -1 }, targets(p, false), `KdV ${p}`);
});

test('Kuramoto-Sivashinsky by the weak form at 1% and 5% noise', () => {
  const f = kuramotoSivashinsky();
  for (const p of [0.01, 0.05]) check(discoverWeak(noisy(f, p), { bags: 20, dropTerms: 1 }), { 'u*u_x': -1, u_xx: -1, u_xxxx: -1 }, targets(p, true), `KS ${p}`);
});

test('Fisher-KPP by the weak form at 1% and 5% noise', () => {
  const f = fisherKpp();
  for (const p of [0.01, 0.05]) check(discoverWeak(noisy(f, p), { bags: 20, dropTerms: 1 }), { u_xx: 0.5, u: 1, 'u^2': -1 }, targets(p, false), `Fisher-KPP ${p}`);
});

test('noise alone is refused by both forms and by auto, with the best candidate named', () => {
  const nx = 128, nt = 101, rng = new Rng(7);
  const f: Field = {
    x: Float64Array.from({ length: nx }, (_, j) => j * 0.1), t: Float64Array.from({ length: nt }, (_, i) => i * 0.05),
    u: Float64Array.from({ length: nx * nt }, () => rng.normal()),
  };
  const r = discoverAuto(f, { bags: 10, dropTerms: 1 });
  assert.equal(r.verdict.ok, false, `auto accepted ${JSON.stringify(r.terms)}: ${r.verdict.reason}`);
  assert.match(r.verdict.reason, /^no (stable )?sparse model/);
  assert.match(r.best.equation, /^u_t = /);
  assert.ok(r.best.residual > 0.5, `best single-term residual ${r.best.residual}`);
});

test('auto: strong form on clean data, weak form on noisy data, and says why', () => {
  const f = burgersPeriodic();
  const clean = discoverAuto(f, { bags: 4 });
  assert.equal(clean.method, 'strong');
  assert.match(clean.why, /strong form/);
  check(clean, { 'u*u_x': -1, u_xx: 0.1 }, 0.01, 'auto clean');
  const n = discoverAuto(noisy(f, 0.05), { bags: 10, dropTerms: 1 });
  assert.equal(n.method, 'weak');
  assert.match(n.why, /estimated noise 5\.\d+% .*weak form/);
  check(n, { 'u*u_x': -1, u_xx: 0.1 }, 0.05, 'auto 5%');
});

test('library bootstrap: inclusion counts only the bags that offered a term', () => {
  const r = discoverWeak(noisy(burgersPeriodic(), 0.01), { bags: 20, dropTerms: 3 });
  const lib = Object.fromEntries(r.library.map((l) => [l.term, l.inclusion]));
  assert.equal(lib['u*u_x'], 1, 'u*u_x is kept by every bag that offers it');
  assert.ok(lib['u_xx']! >= 0.9, `u_xx inclusion ${lib['u_xx']}`);
  for (const [k, v] of Object.entries(lib)) if (k !== 'u*u_x' && k !== 'u_xx') assert.ok(v! < 0.5, `${k} inclusion ${v}`);
  assert.ok(r.stability >= 0.5, `stability ${r.stability} over the bags offered both terms`);
});
