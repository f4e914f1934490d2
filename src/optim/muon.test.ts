// Muon's Newton-Schulz orthogonalization against a float64 reference (the polar factor U V^T from
// a Jacobi eigendecomposition), and one Muon update against its formula.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../tensor/random.js';
import { tensor } from '../tensor/tensor.js';
import { singleContext } from '../parallel/context.js';
import { Muon, newtonSchulz, usesMuon, MUON_MOMENTUM } from './muon.js';
import { GPT } from '../nn/gpt.js';
import { PRESETS } from '../train/config.js';

/** Eigenvalues and eigenvectors (columns of v) of a symmetric n x n matrix, by cyclic Jacobi rotations. */
function symEig(a0: Float64Array, n: number): { values: Float64Array; v: Float64Array } {
  const a = Float64Array.from(a0), v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) { // a <- a J (columns p, q), then J^T a (rows p, q)
          const akp = a[k * n + p]!, akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq; a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!, aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk; a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!, vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq; v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i * n + i]!), v };
}

/** X X^T of a row-major (m, n) matrix, in float64. */
function gram(x: ArrayLike<number>, m: number, n: number): Float64Array {
  const g = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += x[i * n + k]! * x[j * n + k]!;
    g[i * m + j] = s;
  }
  return g;
}

/** Polar factor U V^T of a wide (m <= n) matrix: (G G^T)^(-1/2) G. */
function polar(g: Float32Array, m: number, n: number): Float64Array {
  const { values, v } = symEig(gram(g, m, n), m);
  const inv = new Float64Array(m * m); // Q diag(1/sqrt(l)) Q^T
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += (v[i * m + k]! * v[j * m + k]!) / Math.sqrt(values[k]!);
    inv[i * m + j] = s;
  }
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += inv[i * m + k]! * g[k * n + j]!;
    out[i * n + j] = s;
  }
  return out;
}

function transpose(x: ArrayLike<number>, rows: number, cols: number): Float32Array {
  return Float32Array.from({ length: rows * cols }, (_, i) => x[(i % rows) * cols + Math.floor(i / rows)]!);
}

test('Newton-Schulz: singular values near 1 and the direction of U V^T, wide and tall, one matrix or a stack', () => {
  const rng = new Rng(11);
  for (const [m, n] of [[24, 40], [40, 24], [32, 32]] as const) {
    const g = Float32Array.from({ length: m * n }, () => rng.normal());
    const o = newtonSchulz(g, 1, m, n);
    // Work with the wide form: singular values are those of the matrix or of its transpose.
    const [w, ow, r, c] = m <= n ? [g, o, m, n] : [transpose(g, m, n), transpose(o, m, n), n, m];
    const sv = Array.from(symEig(gram(ow, r, c), r).values, (l) => Math.sqrt(Math.max(0, l)));
    assert.ok(Math.min(...sv) > 0.6 && Math.max(...sv) < 1.25, `${m}x${n}: singular values in [${Math.min(...sv)}, ${Math.max(...sv)}]`);
    const ref = polar(w, r, c);
    let dot = 0, nn = 0, nr = 0;
    for (let i = 0; i < ref.length; i++) { dot += ow[i]! * ref[i]!; nn += ow[i]! ** 2; nr += ref[i]! ** 2; }
    assert.ok(dot / Math.sqrt(nn * nr) > 0.97, `${m}x${n}: cosine to U V^T ${dot / Math.sqrt(nn * nr)}`);
  }
  // A stack is orthogonalized matrix by matrix.
  const stack = Float32Array.from({ length: 3 * 8 * 12 }, () => rng.normal());
  const all = newtonSchulz(stack, 3, 8, 12);
  for (let b = 0; b < 3; b++) {
    const one = newtonSchulz(stack.slice(b * 96, (b + 1) * 96), 1, 8, 12);
    one.forEach((v, i) => assert.ok(Math.abs(v - all[b * 96 + i]!) < 1e-5));
  }
});

test('a Muon step: Nesterov momentum, the orthogonalized update scaled by 0.2 sqrt(max dim), decoupled decay', async () => {
  const rng = new Rng(2);
  const w = tensor(Array.from({ length: 6 * 10 }, () => rng.normal()), [6, 10], true);
  const p0 = Float32Array.from(w.data);
  const muon = new Muon([{ name: 'w', param: w, spec: undefined, expert: false }], singleContext(), 0.1);
  const g1 = Float32Array.from({ length: 60 }, () => rng.normal()), g2 = Float32Array.from({ length: 60 }, () => rng.normal());
  w.grad = tensor(g1, [6, 10]);
  await muon.update(0.01, 1);
  const p1 = Float32Array.from(w.data);
  w.grad = tensor(g2, [6, 10]);
  await muon.update(0.02, 0.5);
  const b = MUON_MOMENTUM;
  const buf = g1.map((x, i) => b * x + 0.5 * g2[i]!);
  buf.forEach((x, i) => assert.ok(Math.abs(muon.momentum[0]!.data[i]! - x) < 1e-6, 'momentum'));
  const step = (p: Float32Array, lr: number, u: Float32Array) => {
    const o = newtonSchulz(u, 1, 6, 10);
    return p.map((x, i) => x * (1 - lr * 0.1) - lr * 0.2 * Math.sqrt(10) * o[i]!);
  };
  step(p0, 0.01, g1.map((x) => x + b * x)).forEach((x, i) => assert.ok(Math.abs(p1[i]! - x) < 1e-6, 'step 1'));
  step(p1, 0.02, buf.map((x, i) => 0.5 * g2[i]! + b * x)).forEach((x, i) => assert.ok(Math.abs(w.data[i]! - x) < 1e-6, 'step 2'));
});

test('Muon takes the weight matrices; AdamW the embeddings, norms and the router', () => {
  const model = new GPT({ ...PRESETS.tiny.model, position: 'learned', shared_experts: 1 }, 1);
  const muon = model.parameterInfo().filter(usesMuon).map((i) => i.name);
  assert.deepEqual(muon.filter((n) => n.startsWith('blocks.0.')), ['blocks.0.attn.qkv.weight', 'blocks.0.attn.proj.weight',
    'blocks.0.moe.experts.w1', 'blocks.0.moe.experts.w2', 'blocks.0.moe.shared.fc.weight', 'blocks.0.moe.shared.proj.weight']);
  assert.ok(!muon.some((n) => /emb|router|ln/.test(n)));
});
