// Every op's gradient against central finite differences, and second derivatives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, tensor } from './tensor.js';
import * as ops from './ops.js';
import { grad } from '../autograd/backward.js';
import { gradcheck } from '../autograd/gradcheck.js';
import { Rng } from './random.js';

const rng = new Rng(1);
function rand(shape: number[], lo = -1, hi = 1): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return tensor(Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform()), shape);
}

function check(name: string, f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], tol = 2e-2): void {
  test(`gradient of ${name} matches finite differences`, () => {
    const r = gradcheck(f, inputs);
    assert.ok(r.maxRelError < tol, `${name}: max relative error ${r.maxRelError} at ${JSON.stringify(r.worst)}`);
  });
}

const unaries: [string, (x: Tensor) => Tensor, [number, number]][] = [
  ['neg', (x) => x.neg(), [-1, 1]], ['exp', (x) => x.exp(), [-1, 1]], ['log', (x) => x.log(), [0.5, 2]],
  ['sqrt', (x) => x.sqrt(), [0.5, 2]], ['rsqrt', (x) => x.rsqrt(), [0.5, 2]], ['tanh', (x) => x.tanh(), [-2, 2]],
  ['sigmoid', (x) => x.sigmoid(), [-2, 2]], ['relu', (x) => x.relu(), [0.1, 1]], ['gelu', (x) => x.gelu(), [-2, 2]],
  ['silu', (x) => x.silu(), [-2, 2]], ['abs', (x) => x.abs(), [0.1, 1]], ['square', (x) => x.square(), [-1, 1]],
  ['recip', (x) => x.recip(), [0.5, 2]], ['sin', (x) => x.sin(), [-2, 2]], ['cos', (x) => x.cos(), [-2, 2]],
  ['pow(2.5)', (x) => x.pow(2.5), [0.5, 2]], ['affine', (x) => x.mul(3).add(1), [-1, 1]],
];
for (const [name, f, [lo, hi]] of unaries) check(name, f, [rand([3, 4], lo, hi)]);

check('add (broadcast)', (a, b) => a.add(b), [rand([3, 4]), rand([4])]);
check('sub (broadcast)', (a, b) => a.sub(b), [rand([2, 3, 4]), rand([3, 1])]);
check('mul (broadcast)', (a, b) => a.mul(b), [rand([3, 4]), rand([3, 1])]);
check('div (broadcast)', (a, b) => a.div(b), [rand([3, 4]), rand([1, 4], 0.5, 2)]);
check('maximum', (a, b) => a.maximum(b), [rand([5, 4]), rand([5, 4])]);
check('minimum', (a, b) => a.minimum(b), [rand([5, 4]), rand([4])]);
check('matmul', (a, b) => a.matmul(b), [rand([3, 5]), rand([5, 4])]);
check('matmul transA', (a, b) => a.matmul(b, true, false), [rand([5, 3]), rand([5, 4])]);
check('matmul transB', (a, b) => a.matmul(b, false, true), [rand([3, 5]), rand([4, 5])]);
check('matmul transA transB', (a, b) => a.matmul(b, true, true), [rand([5, 3]), rand([4, 5])]);
check('batched matmul', (a, b) => a.matmul(b), [rand([2, 3, 3, 5]), rand([2, 3, 5, 2])]);
check('batched @ shared weight', (a, b) => a.matmul(b), [rand([2, 3, 5]), rand([5, 4])]);
check('sum all', (x) => x.sum(), [rand([3, 4])]);
check('sum axis', (x) => x.sum(1), [rand([2, 3, 4])]);
check('sum axes keepdim', (x) => x.sum([0, 2], true), [rand([2, 3, 4])]);
check('mean', (x) => x.mean(-1), [rand([2, 3, 4])]);
check('max', (x) => x.max(1), [rand([3, 5])]);
const rw = rand([4, 3]);
check('reshape', (x) => x.reshape([4, 3]).mul(rw), [rand([3, 4])]);
check('permute', (x) => x.permute([2, 0, 1]), [rand([2, 3, 4])]);
check('transpose', (x) => x.transpose(), [rand([2, 3, 4])]);
check('expand', (x) => x.expand([3, 2, 4]), [rand([2, 1])]);
check('rows', (x) => x.rows(1, 2), [rand([4, 3])]);
check('concat0', (a, b) => ops.concat0([a, b]), [rand([2, 3]), rand([1, 3])]);
check('gatherRows', (x) => ops.gatherRows(x, Int32Array.from([2, 0, 2, 1])), [rand([3, 4])]);
check('scatterAddRows', (x) => ops.scatterAddRows(x, Int32Array.from([1, 1, 0]), 3), [rand([3, 2])]);
check('embedding', (w) => ops.embedding(w, Int32Array.from([0, 3, 3])), [rand([4, 2])]);
check('softmax', (x) => x.softmax(), [rand([3, 5], -2, 2)]);
check('logSoftmax', (x) => x.logSoftmax(), [rand([3, 5], -2, 2)]);
check('crossEntropy', (x) => ops.crossEntropy(x, Int32Array.from([1, -1, 4])), [rand([3, 5], -2, 2)]);
check('rmsnorm', (x, w) => ops.rmsnorm(x, w), [rand([3, 6]), rand([6])]);
check('layerNorm', (x, w, b) => ops.layerNorm(x, w, b), [rand([3, 6]), rand([6]), rand([6])]);
check('topk values', (x) => ops.topk(x, 2).values, [rand([4, 5])]);

test('topk picks the largest entries in order', () => {
  const { values, indices } = ops.topk(tensor([1, 5, 3, 4, 2, 0], [2, 3]), 2);
  assert.deepEqual(Array.from(indices), [1, 2, 0, 1]);
  assert.deepEqual(values.toArray(), [5, 3, 4, 2]);
});

// Second derivatives: differentiate the gradient again (createGraph) and compare with finite
// differences of the first derivative.
function secondOrder(name: string, f: (x: Tensor) => Tensor, d2: (x: number) => number, lo = -1.5, hi = 1.5): void {
  test(`second derivative of ${name}`, () => {
    const x = rand([7], lo, hi);
    x.requiresGrad = true;
    const [dx] = grad(f(x).sum(), [x], { createGraph: true });
    const [dxx] = grad(dx!.sum(), [x]);
    for (let i = 0; i < x.size; i++) {
      const want = d2(x.data[i]!);
      assert.ok(Math.abs(dxx!.data[i]! - want) < 2e-3 * Math.max(1, Math.abs(want)), `${name}''(${x.data[i]}) = ${dxx!.data[i]}, want ${want}`);
    }
  });
}
secondOrder('tanh', (x) => x.tanh(), (v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2));
secondOrder('exp', (x) => x.exp(), Math.exp);
secondOrder('sin', (x) => x.sin(), (v) => -Math.sin(v));
secondOrder('x^3', (x) => x.mul(x).mul(x), (v) => 6 * v);
secondOrder('x / (1 + x^2)', (x) => x.div(x.square().add(1)), (v) => (2 * v * (v * v - 3)) / (1 + v * v) ** 3);
secondOrder('sigmoid', (x) => x.sigmoid(), (v) => { const s = 1 / (1 + Math.exp(-v)); return s * (1 - s) * (1 - 2 * s); });
secondOrder('log', (x) => x.log(), (v) => -1 / (v * v), 0.5, 2);
secondOrder('sqrt', (x) => x.sqrt(), (v) => -0.25 * v ** -1.5, 0.5, 2);
secondOrder('gelu', (x) => x.gelu(), (v) => {
  const h = 1e-3, g = (u: number) => 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3)));
  return (g(v + h) - 2 * g(v) + g(v - h)) / (h * h);
});
secondOrder('silu', (x) => x.silu(), (v) => { const s = 1 / (1 + Math.exp(-v)); return s * (1 - s) * (2 + v * (1 - 2 * s)); });

test('second derivative through matmul and tanh (a small network u(x))', () => {
  // u(x) = w2 . tanh(W1 x + b1); check d2u/dx2 against finite differences of du/dx.
  const w1 = rand([1, 8]), b1 = rand([8]), w2 = rand([8, 1]);
  const u = (x: Tensor) => x.matmul(w1).add(b1).tanh().matmul(w2);
  const xs = rand([5, 1]);
  xs.requiresGrad = true;
  const [ux] = grad(u(xs).sum(), [xs], { createGraph: true });
  const [uxx] = grad(ux!.sum(), [xs]);
  const h = 1e-2;
  for (let i = 0; i < xs.size; i++) {
    const at = (v: number) => {
      const x = tensor([v], [1, 1], true);
      return grad(u(x).sum(), [x])[0]!.item();
    };
    const v = xs.data[i]!;
    const fd = (at(v + h) - at(v - h)) / (2 * h);
    assert.ok(Math.abs(uxx!.data[i]! - fd) < 1e-2 * Math.max(1, Math.abs(fd)), `uxx ${uxx!.data[i]} vs ${fd}`);
  }
});

test('backward accumulates into .grad of leaves', () => {
  const x = tensor([1, 2, 3], [3], true);
  x.mul(x).sum().backward();
  x.mul(2).sum().backward();
  assert.deepEqual(x.grad!.toArray(), [4, 6, 8]);
});

test('backward seeds a scalar with 1 and asks a non-scalar for its gradOutput', async () => {
  const x = tensor([1, 2], [2], true);
  await x.mul(3).sum().backwardAsync();
  assert.deepEqual(x.grad!.toArray(), [3, 3]);
  assert.throws(() => x.mul(3).backward(), /non-scalar \[2\] needs a gradOutput/);
  await assert.rejects(async () => x.mul(3).backwardAsync(), /non-scalar \[2\] needs a gradOutput/);
  assert.deepEqual(grad(x.mul(x).sum(), [x, tensor([5], [1], true)]).map((g) => g.toArray()), [[2, 4], [0]]); // unreached input: zeros
});

test('leaf gradients never share memory with each other or with the caller\'s gradOutput', () => {
  // add's rule passes its gradient on unchanged, so a and b reach the same tensor; reshape's is a view.
  const a = tensor([1, 2], [2], true), b = tensor([3, 4], [2], true), c = tensor([5, 6], [1, 2], true);
  const seed = tensor([1, -1], [2]);
  a.add(b).add(c.reshape([2])).backward(seed);
  a.grad!.data[0] = 100; // in place, as an optimizer or an all-reduce does
  assert.deepEqual(b.grad!.toArray(), [1, -1]);
  assert.deepEqual(c.grad!.toArray(), [1, -1]);
  assert.deepEqual(seed.toArray(), [1, -1]);
  // A gradient of its own is taken as it is (no copy).
  const w = tensor([1, 2], [2], true);
  const y = w.mul(3);
  y.sum().backward();
  assert.deepEqual(w.grad!.toArray(), [3, 3]);
});
