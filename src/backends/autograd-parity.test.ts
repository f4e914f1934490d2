// The engine on every backend: a small MLP trained for a few SGD steps gives the js reference's losses.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from './backend.js';
import { createBackend, probeBackends } from './index.js';
import { setBackend, scoped } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { crossEntropy } from '../tensor/ops.js';

const LAYERS = [23, 40, 33, 7], BATCH = 13, STEPS = 4, LR = 0.1;

/** Losses of STEPS SGD steps of a tanh/gelu/relu MLP on fixed data, every op through `be`. */
async function losses(be: Backend): Promise<number[]> {
  setBackend(be);
  const val = (i: number, salt: number): number => Math.sin(i * 12.9898 + salt * 78.233) * 0.5;
  const mk = (shape: number[], salt: number, grad: boolean): Tensor => {
    const t = new Tensor(be.alloc(shape.reduce((a, b) => a * b, 1)), shape, grad);
    t.data.forEach((_, i) => { t.data[i] = val(i, salt) / Math.sqrt(shape[0]!); });
    return t;
  };
  const x = mk([BATCH, LAYERS[0]!], 1, false);
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (i % 5 === 4 ? -1 : (i * 3) % LAYERS[3]!));
  const params: Tensor[] = [];
  for (let l = 0; l < 3; l++) params.push(mk([LAYERS[l]!, LAYERS[l + 1]!], 10 + l, true), mk([LAYERS[l + 1]!], 20 + l, true));
  const out: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    out.push(await scoped(() => {
      const [w1, b1, w2, b2, w3, b3] = params as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
      const h1 = x.matmul(w1).add(b1).tanh();
      const h2 = h1.matmul(w2).add(b2).gelu().mul(h1.matmul(w2).relu());
      const loss = crossEntropy(h2.matmul(w3).add(b3), labels);
      loss.backward();
      for (const p of params) {
        const upd = be.alloc(p.size);
        be.affine(p.grad!.data, -LR, 0, upd);
        be.binary('add', p.data, [1], upd, [1], p.data, [p.size]);
        be.free(upd);
        p.grad = null;
      }
      return loss.item();
    }));
  }
  return out;
}

it('an MLP trains to the same losses on every available backend as on js', async () => {
  const want = await losses(await createBackend('js'));
  assert.ok(want[STEPS - 1]! < want[0]!, `the loss falls on js: ${want}`);
  for (const p of await probeBackends()) {
    if (p.name === 'js') continue;
    if (!p.available) { process.stdout.write(`# skipped ${p.name}: ${p.reason}\n`); continue; }
    const got = await losses(await createBackend(p.name));
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 1e-4 * Math.abs(want[i]!) + 1e-5,
      `${p.name} step ${i}: loss ${v}, js ${want[i]}`));
  }
});
