// The fused causal attention op: finite differences, and the composed ops' values and gradients on
// every backend; the causal softmax kernels against a masked softmax.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { causalAttention, ropeTables } from './attention.js';
import { composedAttention } from '../nn/attention.js';
import { tensor, type Tensor } from './tensor.js';
import { setBackend } from './engine.js';
import { grad } from '../autograd/backward.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { Rng } from './random.js';
import { createBackend, probeBackends } from '../backends/index.js';
import { JsBackend } from '../backends/js.js';

function randQkv(rng: Rng, b: number, t: number, h: number, d: number): Tensor {
  return tensor(Array.from({ length: b * t * 3 * h * d }, () => rng.normal()), [b * t, 3 * h * d], true);
}

function close(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

describe('causalAttention', () => {
  it('gradient matches finite differences (js)', () => {
    setBackend(new JsBackend());
    const rng = new Rng(3);
    const [b, t, h, d] = [2, 5, 2, 3];
    const r = gradcheck((x) => causalAttention(x, b, t, h, d), [randQkv(rng, b, t, h, d)]);
    assert.ok(r.maxRelError < 2e-2, `max relative error ${r.maxRelError} at ${JSON.stringify(r.worst)}`);
  });

  // t = 70 and 128 split into causal row blocks (32 + 32 + 6, and 4 x 32) and key blocks (64 + 6, 64 + 64).
  it('values and gradients equal the composed ops on every available backend', async () => {
    for (const p of await probeBackends()) {
      if (!p.available) { process.stdout.write(`# skipped ${p.name}: ${p.reason}\n`); continue; }
      setBackend(await createBackend(p.name));
      for (const [b, t, h, d] of [[2, 9, 3, 4], [1, 1, 1, 8], [3, 16, 2, 8], [1, 70, 2, 4], [2, 128, 1, 4]] as const) {
        const rng = new Rng(b * 100 + t);
        const x = randQkv(rng, b, t, h, d);
        const w = tensor(Array.from({ length: b * t * h * d }, () => rng.normal()), [b * t, h * d]);
        const yf = causalAttention(x, b, t, h, d), yc = composedAttention(x, b, t, h, d);
        close(yf.data, yc.data, 1e-5, `${p.name} y (${b},${t},${h},${d})`);
        const [gf] = grad(yf.mul(w).sum(), [x]), [gc] = grad(yc.mul(w).sum(), [x]);
        close(gf!.data, gc!.data, 1e-4, `${p.name} dqkv (${b},${t},${h},${d})`);
      }
    }
  });

  it('refuses second derivatives by name', () => {
    setBackend(new JsBackend());
    const x = randQkv(new Rng(1), 1, 3, 1, 2);
    const [g] = grad(causalAttention(x, 1, 3, 1, 2).sum(), [x]);
    assert.ok(g !== undefined);
    assert.throws(() => grad(causalAttention(x, 1, 3, 1, 2).sum(), [x], { createGraph: true }), /causalAttention is differentiable once/);
  });

  it('causalSoftmax kernels: a masked softmax, in place, reading nothing above the diagonal and writing zeros there', async () => {
    const js = new JsBackend();
    for (const p of await probeBackends()) {
      if (!p.available) continue;
      const be = await createBackend(p.name);
      setBackend(be);
      const rows = 14, t = 7, rng = new Rng(9);
      const x = be.alloc(rows * t), dy = be.alloc(rows * t);
      for (let i = 0; i < x.length; i++) { x[i] = 3 * rng.normal(); dy[i] = rng.normal(); }
      // Reference: the row-wise softmax of x with -inf above the diagonal.
      const masked = new Float32Array(x), want = new Float32Array(rows * t), dwant = new Float32Array(rows * t);
      for (let r = 0; r < rows; r++) for (let j = (r % t) + 1; j < t; j++) masked[r * t + j] = -Infinity;
      js.softmax(masked, rows, t, want);
      js.softmaxBackward(want, dy, rows, t, dwant);
      for (let i = 0; i < dwant.length; i++) dwant[i]! *= 0.5;
      const y = be.alloc(rows * t);
      y.set(x);
      // Entries above the diagonal are not read: NaN there must not reach the output.
      for (let r = 0; r < rows; r++) y.fill(NaN, r * t + (r % t) + 1, (r + 1) * t);
      be.causalSoftmax(y, rows, t, y);
      close(y, want, 2e-6, `${p.name} causalSoftmax`);
      const dx = be.alloc(rows * t);
      dx.set(dy);
      be.causalSoftmaxBackward(y, dx, rows, t, 0.5, dx);
      close(dx, dwant, 2e-5, `${p.name} causalSoftmaxBackward`);
      for (let r = 0; r < rows; r++) {
        for (let j = (r % t) + 1; j < t; j++) assert.ok(y[r * t + j] === 0 && dx[r * t + j] === 0, `${p.name} (${r}, ${j}) above the diagonal`);
      }
    }
  });

  it('rope kernels: equal to js, inverse undoes, norms kept, dot products depend on relative positions only', async () => {
    const js = new JsBackend();
    const [h, d, t] = [2, 8, 12];
    for (const p of await probeBackends()) {
      if (!p.available) continue;
      const be = await createBackend(p.name);
      setBackend(be);
      const tab = ropeTables(3 * t, d), rng = new Rng(5), rows = 2 * t, n = rows * h * 3 * d;
      const x = be.alloc(n);
      for (let i = 0; i < n; i++) x[i] = rng.normal();
      const y = be.alloc(n), want = new Float32Array(n);
      be.rope(x, rows, t, 3, h, d, tab.cos, tab.sin, false, y);
      js.rope(new Float32Array(x), rows, t, 3, h, d, new Float32Array(tab.cos), new Float32Array(tab.sin), false, want);
      close(y, want, 1e-6, `${p.name} rope`);
      const back = be.alloc(n);
      back.set(y);
      be.rope(back, rows, t, 3, h, d, tab.cos, tab.sin, true, back);
      close(back, x, 1e-5, `${p.name} inverse rope`);
      const norm = (a: Float32Array, o: number): number => Math.hypot(...a.subarray(o, o + d));
      assert.ok(Math.abs(norm(y, 0) - norm(x, 0)) < 1e-4, `${p.name} norm of q`);
      // q . k of one row pair, turned to positions (i + s, j + s) for shifts s: the same for every s.
      const q = Float32Array.from({ length: h * 3 * d }, () => rng.normal()), k = Float32Array.from(q, () => rng.normal());
      const at = (v: Float32Array, pos: number, part: number): Float32Array => {
        const out = be.alloc(h * 3 * d);
        be.rope(v, 1, 1, pos, h, d, tab.cos, tab.sin, false, out);
        return out.subarray(part * d, part * d + d);
      };
      const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
      const base = dot(at(q, 5, 0), at(k, 2, 1));
      for (const s of [1, 7, 20]) assert.ok(Math.abs(dot(at(q, 5 + s, 0), at(k, 2 + s, 1)) - base) < 1e-4, `${p.name} shift ${s}`);
      assert.ok(Math.abs(dot(at(q, 6, 0), at(k, 2, 1)) - base) > 1e-3, `${p.name}: another distance gives another score`);
    }
  });

  it('with RoPE: finite differences, and equal to the composed ops on turned q and k', async () => {
    setBackend(new JsBackend());
    const rng = new Rng(8);
    const [b, t, h, d] = [2, 5, 2, 4];
    const tab = ropeTables(t, d);
    const r = gradcheck((x) => causalAttention(x, b, t, h, d, tab), [randQkv(rng, b, t, h, d)]);
    assert.ok(r.maxRelError < 2e-2, `max relative error ${r.maxRelError} at ${JSON.stringify(r.worst)}`);
    for (const p of await probeBackends()) {
      if (!p.available) continue;
      const be = await createBackend(p.name);
      setBackend(be);
      const [b2, t2] = [2, 40];
      const tab2 = ropeTables(t2, d);
      const x = randQkv(rng, b2, t2, h, d);
      const turned = tensor(new Float32Array(x.size), x.shape, true);
      be.rope(x.data, b2 * t2, t2, 0, h, d, tab2.cos, tab2.sin, false, turned.data);
      const w = tensor(Array.from({ length: b2 * t2 * h * d }, () => rng.normal()), [b2 * t2, h * d]);
      const yf = causalAttention(x, b2, t2, h, d, tab2), yc = composedAttention(turned, b2, t2, h, d);
      close(yf.data, yc.data, 1e-5, `${p.name} y with rope`);
      const [gf] = grad(yf.mul(w).sum(), [x]), [gc] = grad(yc.mul(w).sum(), [turned]);
      const want = be.alloc(x.size);
      be.rope(gc!.data, b2 * t2, t2, 0, h, d, tab2.cos, tab2.sin, true, want); // the rotation's transpose
      close(gf!.data, want, 1e-4, `${p.name} dqkv with rope`);
    }
  });
});
