// Physics-informed training end to end on a small advection problem, loss weighting, config validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Field } from '../spectral.js';
import { parseConfig } from './config.js';
import { latinHypercube, type PinnProblem } from './problems.js';
import { Rng } from '../../tensor/random.js';
import { DEFAULT_TRAIN, trainPinn } from './train.js';

/** u_t = -u_x on [0, 1] x [0, 1], u0 = sin(pi x), inflow boundary u(0, t) = sin(-pi t): exact
 * u = sin(pi (x - t)). Small enough for a test, hard enough that an untrained network is far off. */
function advection(trainable: boolean): PinnProblem {
  const rng = new Rng(2);
  const [cx, ct] = latinHypercube(300, [0, 0], [1, 1], rng) as [Float64Array, Float64Array];
  const m = 40, ix = new Float64Array(m), it = new Float64Array(m), iu = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    if (k % 2 === 0) { ix[k] = rng.uniform(); it[k] = 0; } else { ix[k] = 0; it[k] = rng.uniform(); }
    iu[k] = Math.sin(Math.PI * (ix[k]! - it[k]!));
  }
  const nx = 21, nt = 11, ref: Field = { x: new Float64Array(nx), t: new Float64Array(nt), u: new Float64Array(nx * nt) };
  for (let j = 0; j < nx; j++) ref.x[j] = j / (nx - 1);
  for (let i = 0; i < nt; i++) ref.t[i] = i / (nt - 1);
  for (let i = 0; i < nt; i++) for (let j = 0; j < nx; j++) ref.u[i * nx + j] = Math.sin(Math.PI * (ref.x[j]! - ref.t[i]!));
  const data = trainable ? { x: cx, t: ct, u: cx.map((x, k) => Math.sin(Math.PI * (x - ct[k]!))) } : undefined;
  return {
    name: 'advection', lo: [0, 0], hi: [1, 1],
    coefs: [{ term: 'u_x', value: trainable ? -0.3 : -1, trainable, positive: false }], truth: { u_x: -1 },
    collocation: { x: cx, t: ct }, ...(trainable ? { data: data! } : { initial: { x: ix, t: it, u: iu } }), reference: ref,
  };
}

const cfg = { ...DEFAULT_TRAIN, widths: [2, 16, 16, 1], adamSteps: 300, adamLr: 5e-3, lbfgsSteps: 300, logEvery: 1000 };

test('forward PINN: Adam then L-BFGS brings a small advection problem to < 2% relative L2 error', () => {
  const r = trainPinn(advection(false), cfg);
  assert.ok(r.relL2 < 0.02, `relative L2 ${r.relL2} (${r.adamSteps} Adam, ${r.lbfgsIterations} L-BFGS: ${r.lbfgsReason})`);
  const first = r.history[0]!.loss, last = r.history[r.history.length - 1]!.loss;
  assert.ok(last < first * 1e-2, `loss ${first} -> ${last}`);
});

test('inverse PINN: the advection speed is learned from data to within 1%', () => {
  const r = trainPinn(advection(true), { ...cfg, adamSteps: 150, lbfgsSteps: 150 });
  assert.ok(r.coefErrors['u_x']! < 0.01, `u_x coefficient ${r.coefs['u_x']}`);
});

test('annealing raises the weight of the initial/boundary loss when its gradients are small (Wang et al.)', () => {
  const r = trainPinn(advection(false), { ...cfg, weighting: 'annealing', adamSteps: 21, lbfgsSteps: 0, logEvery: 20 });
  const w = r.history[r.history.length - 1]!.weights;
  assert.notEqual(w['initial'], 1, 'the weight moved');
  assert.ok(w['initial']! > 0 && Number.isFinite(w['initial']!));
  const d = trainPinn(advection(false), { ...cfg, weighting: 'dual', adamSteps: 21, lbfgsSteps: 0, logEvery: 20 });
  assert.ok(d.history[d.history.length - 1]!.weights['initial']! > 1, 'dual ascent only increases multipliers');
});

test('pinn config: unknown keys, bad types and impossible values name the field', () => {
  assert.throws(() => parseConfig({ problem: 'burgers', wieghts: {} }), /wieghts: unknown key/);
  assert.throws(() => parseConfig({ problem: 'heat' }), /problem: expected one of burgers, burgers-inverse/);
  assert.throws(() => parseConfig({ problem: 'burgers', widths: [2, 10, 3] }), /widths: the network maps/);
  assert.throws(() => parseConfig({ problem: 'burgers', adamSteps: 1.5 }), /adamSteps: expected an integer/);
  assert.throws(() => parseConfig({ problem: 'burgers', constraints: [{ kind: 'bounds', min: 2, max: 1 }] }), /constraints\[0\]: min must be below max/);
  assert.throws(() => parseConfig({ problem: 'burgers', weights: { inital: 1 } }), /weights.inital: unknown key/);
  const c = parseConfig({ problem: 'burgers-inverse', weights: { data: 5 }, constraints: [{ kind: 'monotone', direction: 'decreasing' }] });
  assert.equal(c.weights.data, 5); assert.equal(c.weights.initial, 1); assert.equal(c.constraints[0]!.weight, 1);
});
