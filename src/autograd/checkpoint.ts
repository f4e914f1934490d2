// Activation recomputation (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost", arXiv
// 1604.06174): a function's forward pass runs without recording and frees its intermediates; its
// backward pass runs it again with recording and differentiates that. Between the passes only the
// inputs and outputs are kept.
//
// Gradients equal those of the recorded function exactly when the function is deterministic given
// `replay` (random draws replayed, e.g. routing noise from a restored Rng state) and its outputs own
// their memory (not views of intermediates).
import type { Tensor } from '../tensor/tensor.js';
import { isGradEnabled, keep, noGradAsync, scoped, track, withGradModeAsync } from '../tensor/engine.js';
import { backwardRootsAsync } from './backward.js';

/** fn(inputs, replay): replay is false for the forward pass and true when the backward pass recomputes. */
export type Recomputable = (inputs: Tensor[], replay: boolean) => Promise<Tensor[]>;

/**
 * Outputs of fn(inputs) whose gradients come from recomputing fn in the backward pass. outputs[0]
 * carries the recomputation; the others (auxiliary losses) hand their gradients to it: each is
 * recorded as depending on outputs[0], so the backward pass reaches them first.
 */
export async function checkpoint(fn: Recomputable, inputs: readonly Tensor[]): Promise<Tensor[]> {
  if (!isGradEnabled()) return fn([...inputs], false);
  // Inputs without a gradient may still feed parameters that need one: the graph is recorded regardless.
  const outs = await scoped(async () => (await noGradAsync(() => fn([...inputs], false))).map(keep));
  for (const o of outs) track(o);
  const [main, ...aux] = outs;
  if (main === undefined) throw new Error('checkpoint: the function returned no tensor');
  const auxGrads: (Tensor | null)[] = aux.map(() => null);
  aux.forEach((a, k) => {
    a.requiresGrad = true;
    a.node = { op: 'checkpoint.aux', inputs: [main], backward: (g) => { auxGrads[k] = g; return [null]; } };
  });
  main.requiresGrad = true;
  main.node = { op: 'checkpoint', inputs, backward: (g) => recompute(fn, inputs, g, auxGrads) };
  return outs;
}

/** The backward pass: fn again, recorded, differentiated from its outputs' gradients; its intermediates freed after. */
async function recompute(fn: Recomputable, inputs: readonly Tensor[], g: Tensor, auxGrads: readonly (Tensor | null)[]): Promise<(Tensor | null)[]> {
  // propagate switches the grad mode around this rule synchronously and restores it when the rule
  // returns its promise: yield once, so that the mode withGradModeAsync restores afterwards is the caller's.
  await Promise.resolve();
  const leaves: Tensor[] = [];
  const xs = inputs.map((x) => {
    const leaf = x.detach();
    leaf.requiresGrad = x.requiresGrad;
    return leaf;
  });
  await scoped(async () => {
    const ys = await withGradModeAsync(true, () => fn(xs, true));
    const roots = [ys[0]!], seeds = [g];
    auxGrads.forEach((ga, k) => {
      const y = ys[k + 1];
      if (ga !== null && y !== undefined && y.requiresGrad) { roots.push(y); seeds.push(ga); }
    });
    leaves.push(...(await backwardRootsAsync(roots, seeds)));
    for (const l of leaves) keep(l.grad!);
  });
  // The parameters' gradients outlive this scope, as they would without recomputation.
  for (const l of leaves) track(l.grad!);
  return xs.map((x) => (x.requiresGrad ? x.grad : null));
}

