// The fused Float64 PINN path against the engine's ops and autograd: same losses, same gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { burgersInverse, burgersForward, type PinnProblem } from './problems.js';
import { DEFAULT_TRAIN, pinnObjective, type TrainConfig } from './train.js';

function small(p: PinnProblem, n: number): PinnProblem {
  const cut = (a: Float64Array): Float64Array => a.slice(0, n);
  return { ...p, collocation: { x: cut(p.collocation.x), t: cut(p.collocation.t) } };
}

/** Both evaluators at the same parameters (the initial ones, after `edit`): losses and gradients must agree
 * to float32 accuracy. */
function compare(p: PinnProblem, cfg: TrainConfig, edit: (theta: Float64Array, nNet: number) => void = () => {}): void {
  const obj = pinnObjective(p, cfg);
  edit(obj.theta, obj.nNet);
  const ga = new Float64Array(obj.theta.length), gb = new Float64Array(obj.theta.length);
  const a = obj.fusedEvaluate(obj.theta, ga, true), b = obj.engineEvaluate(obj.theta, gb, true);
  for (const k of Object.keys(b.parts)) assert.ok(Math.abs(a.parts[k]! - b.parts[k]!) <= 1e-4 * (Math.abs(b.parts[k]!) + 1e-6), `${k}: ${a.parts[k]} vs ${b.parts[k]}`);
  let scale = 0;
  for (const v of gb) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < ga.length; i++) assert.ok(Math.abs(ga[i]! - gb[i]!) <= 2e-4 * scale, `gradient ${i}: ${ga[i]} vs ${gb[i]} (max ${scale})`);
  for (const k of Object.keys(b.partGrads!)) {
    const x = a.partGrads![k]!, y = b.partGrads![k]!;
    let m = 0;
    for (const v of y) m = Math.max(m, Math.abs(v));
    for (let i = 0; i < y.length; i++) assert.ok(Math.abs(x[i]! - y[i]!) <= 2e-4 * m + 1e-12, `${k} gradient ${i}`);
  }
}

test('fused Float64 jets give the engine\'s losses and gradients (forward Burgers, with constraints)', () => {
  const cfg: TrainConfig = { ...DEFAULT_TRAIN, widths: [2, 12, 12, 1], seed: 4,
    constraints: [{ kind: 'bounds', min: -0.2, max: 0.2, weight: 1 }, { kind: 'monotone', direction: 'decreasing', weight: 0.5 }] };
  compare(small(burgersForward({ collocation: 200, boundary: 40, reference: { nx: 64, nt: 20 } }), 200), cfg);
});

test('fused Float64 jets give the engine\'s gradients for trainable coefficients (inverse Burgers)', () => {
  const p = burgersInverse({ dataPoints: 150, reference: { nx: 64, nt: 20 } });
  compare(p, { ...DEFAULT_TRAIN, widths: [2, 10, 10, 1] }, (theta, nNet) => {
    assert.equal(theta[nNet], 0); // lambda1 starts at 0 (problems.ts), which would hide the u u_x channel
    theta[nNet] = 0.7; // lambda1 != 0 so the u u_x channel carries gradient
  });
});
