// Reverse-mode differentiation over the graph recorded by ops (each tensor's `node`).
// With createGraph the gradient computation is itself recorded, so it can be differentiated
// again (u_xx from u_x, as physics-informed training needs).
//
// A gradient rule may return a Promise (collectives inside a parallel model: the backward of an
// all-to-all is an all-to-all). One propagation routine serves both drivers: it is a generator
// that yields such promises; `backwardAsync`/`gradAsync` await them, while the synchronous
// `backward`/`grad` refuse a graph that needs them.
import type { Tensor } from '../tensor/tensor.js';
import { backend, withGradMode } from '../tensor/engine.js';
import { sameShape } from '../tensor/shape.js';

type Grads = (Tensor | null)[];

/** Tensors reachable from roots through recorded nodes, inputs before the tensors using them. */
function topoOrder(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: deep graphs (long sequences of ops) must not overflow the JS stack.
  const stack: { t: Tensor; i: number }[] = [];
  for (const r of roots) {
    if (seen.has(r)) continue;
    seen.add(r);
    stack.push({ t: r, i: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const inputs = top.t.node?.inputs ?? [];
      if (top.i < inputs.length) {
        const next = inputs[top.i++]!;
        if (next.requiresGrad && !seen.has(next)) {
          seen.add(next);
          stack.push({ t: next, i: 0 });
        }
      } else {
        order.push(top.t);
        stack.pop();
      }
    }
  }
  return order;
}

/**
 * Told of each leaf whose `.grad` became final during a backward pass (withGradReady), while the
 * pass goes on: data-parallel training starts reducing it (comm/grad-sync.ts buckets).
 */
export type GradReady = (leaf: Tensor) => void;
let gradReady: GradReady | null = null;

/**
 * Runs `fn` (a backward pass, maybe nesting others: activation recomputation) with `onReady` told of
 * each leaf as soon as no remaining gradient rule can add to its gradient. From then on the leaf's
 * `.grad` is its own memory (copied when another gradient shares it), so that it may be reduced in
 * place while the pass continues. Invariant this relies on: a gradient rule builds its results from
 * its output's gradient and saved forward values, never from another tensor's gradient.
 */
export async function withGradReady<T>(onReady: GradReady, fn: () => Promise<T>): Promise<T> {
  const prev = gradReady;
  gradReady = onReady;
  try {
    return await fn();
  } finally {
    gradReady = prev;
  }
}

/** Hands leaves their final gradients as soon as their last consumer's rule has run (gradReady). */
class EarlyLeaves {
  private readonly uses = new Map<Tensor, number>();
  private readonly pos = new Map<Tensor, number>();
  readonly done = new Set<Tensor>();

  constructor(order: readonly Tensor[], private readonly grads: Map<Tensor, Tensor>, private readonly seeds: readonly Tensor[],
    private readonly onReady: GradReady) {
    order.forEach((t, i) => {
      this.pos.set(t, i);
      for (const x of t.node?.inputs ?? []) if (x.node === null && x.requiresGrad) this.uses.set(x, (this.uses.get(x) ?? 0) + 1);
    });
  }

  /** The rule of order[i] has run (or had no gradient to run on): its leaves that are now final get their .grad, then onReady. */
  consumed(i: number, inputs: readonly Tensor[]): void {
    const now: Tensor[] = [];
    for (const x of inputs) {
      const left = this.uses.get(x);
      if (left === undefined) continue;
      this.uses.set(x, left - 1);
      if (left === 1 && this.grads.has(x)) now.push(x);
    }
    for (const leaf of now) this.finalize(leaf, i);
    for (const leaf of now) this.onReady(leaf);
  }

  private finalize(leaf: Tensor, i: number): void {
    const g = this.grads.get(leaf)!;
    // Memory another gradient may still reach (a pending tensor's, a seed, a finalized leaf's) is not the leaf's to give away.
    const others: Float32Array[] = this.seeds.map((s) => s.data);
    for (const [t, gt] of this.grads) if (t !== leaf && !this.done.has(t) && (this.pos.get(t) ?? -1) < i) others.push(gt.data);
    for (const t of this.done) if (t.grad !== null) others.push(t.grad.data);
    setLeafGrad(leaf, g, overlapping([g.data], others).size > 0);
    this.done.add(leaf);
  }
}

/**
 * Propagates gradients from roots, returning the gradient of every reached tensor. Yields a
 * gradient rule's promise and expects its resolved value back. With `early`, leaves take their
 * final gradients during the pass (the returned map still holds them).
 */
function* propagate(roots: readonly Tensor[], rootGrads: readonly Tensor[], createGraph: boolean,
  early?: (order: Tensor[], grads: Map<Tensor, Tensor>) => EarlyLeaves): Generator<Promise<Grads>, { grads: Map<Tensor, Tensor>; done?: Set<Tensor> }, Grads> {
  const grads = new Map<Tensor, Tensor>();
  withGradMode(createGraph, () => {
    roots.forEach((r, i) => {
      const g = rootGrads[i]!;
      if (!sameShape(g.shape, r.shape)) throw new Error(`gradient shape [${g.shape}] does not match output [${r.shape}]`);
      const prev = grads.get(r);
      grads.set(r, prev === undefined ? g : prev.add(g));
    });
  });
  const order = topoOrder(roots);
  const leaves = early?.(order, grads);
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i]!;
    const node = t.node;
    const g = grads.get(t);
    if (node === null) continue;
    if (g === undefined) {
      leaves?.consumed(i, node.inputs);
      continue;
    }
    const out = withGradMode(createGraph, () => node.backward(g));
    const gs: Grads = out instanceof Promise ? yield out : out;
    withGradMode(createGraph, () => {
      node.inputs.forEach((inp, k) => {
        const gi = gs[k];
        if (gi === null || gi === undefined || !inp.requiresGrad) return;
        if (!sameShape(gi.shape, inp.shape)) {
          throw new Error(`gradient rule of '${node.op}' gave shape [${gi.shape}] for input [${inp.shape}]`);
        }
        const prev = grads.get(inp);
        grads.set(inp, prev === undefined ? gi : prev.add(gi));
      });
    });
    leaves?.consumed(i, node.inputs);
  }
  return leaves === undefined ? { grads } : { grads, done: leaves.done };
}

type Propagation = Generator<Promise<Grads>, { grads: Map<Tensor, Tensor>; done?: Set<Tensor> }, Grads>;

function runSync(gen: Propagation): Map<Tensor, Tensor> {
  const r = gen.next();
  if (!r.done) throw new Error('this graph has asynchronous gradient rules (collectives): use backwardAsync/gradAsync');
  return r.value.grads;
}

async function runAsync(gen: Propagation): Promise<{ grads: Map<Tensor, Tensor>; done?: Set<Tensor> }> {
  let r = gen.next();
  while (!r.done) r = gen.next(await r.value);
  return r.value;
}

/** propagate for a backward pass that sets leaves' .grad: early leaves when someone listens (withGradReady). */
function leafPropagation(roots: readonly Tensor[], seeds: readonly Tensor[], createGraph: boolean): Propagation {
  const onReady = createGraph ? null : gradReady;
  return propagate(roots, seeds, createGraph, onReady === null ? undefined : (order, grads) => new EarlyLeaves(order, grads, seeds, onReady));
}

function rootGrad(root: Tensor, gradOutput: Tensor | undefined): Tensor {
  if (gradOutput === undefined && root.size !== 1) throw new Error(`backward() of a non-scalar [${root.shape}] needs a gradOutput`);
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not depend on anything that requires a gradient');
  return gradOutput ?? root.onesLike();
}

/**
 * Indices of the arrays whose memory overlaps another array of `xs` or of `others` (same buffer,
 * intersecting byte ranges).
 */
function overlapping(xs: readonly Float32Array[], others: readonly Float32Array[]): Set<number> {
  const byBuffer = new Map<ArrayBufferLike, { i: number; lo: number; hi: number }[]>();
  [...xs, ...others].forEach((a, i) => {
    if (a.byteLength === 0) return;
    const list = byBuffer.get(a.buffer) ?? [];
    list.push({ i, lo: a.byteOffset, hi: a.byteOffset + a.byteLength });
    byBuffer.set(a.buffer, list);
  });
  const shared = new Set<number>();
  for (const list of byBuffer.values()) {
    list.sort((p, q) => p.lo - q.lo);
    let reach = -1, owner = -1;
    for (const r of list) {
      if (r.lo < reach) { shared.add(r.i); shared.add(owner); }
      if (r.hi > reach) { reach = r.hi; owner = r.i; }
    }
  }
  return new Set([...shared].filter((i) => i < xs.length));
}

/**
 * Accumulates the reached leaves' gradients into their `.grad` (but those in `done`, already set).
 * A leaf takes its gradient tensor as it is, unless that memory is shared with another leaf's
 * gradient or with a seed gradient the caller holds: optimizers and collectives update gradients
 * in place, so those get a private copy.
 */
function accumulateLeaves(grads: Map<Tensor, Tensor>, createGraph: boolean, seeds: readonly Tensor[], done?: Set<Tensor>): void {
  const leaves = [...grads].filter(([t]) => t.node === null && done?.has(t) !== true);
  const held = [...seeds.map((g) => g.data), ...[...(done ?? [])].map((t) => t.grad?.data ?? new Float32Array(0))];
  const shared = createGraph ? new Set<number>() : overlapping(leaves.map(([, g]) => g.data), held);
  leaves.forEach(([t, g], k) => {
    if (createGraph && t.grad !== null) t.grad = withGradMode(true, () => t.grad!.add(g));
    else setLeafGrad(t, g, shared.has(k), createGraph);
  });
}

/** leaf.grad = g (a private copy when `shared`), or leaf.grad + g in new memory when it already has one. */
function setLeafGrad(t: Tensor, g: Tensor, shared: boolean, createGraph = false): void {
  if (t.grad === null) {
    t.grad = createGraph || !shared ? g : withGradMode(false, () => g.mul(1));
  } else {
    const sum = t.zerosLike();
    backend().binary('add', t.grad.data, [1], g.data, [1], sum.data, [t.size]);
    t.grad = sum;
  }
}

/**
 * Accumulates d(root)/d(leaf) into `leaf.grad` for every leaf that requires a gradient.
 * root must be a scalar unless gradOutput is given.
 */
export function backward(root: Tensor, gradOutput?: Tensor, createGraph = false): void {
  const seed = rootGrad(root, gradOutput);
  accumulateLeaves(runSync(propagate([root], [seed], createGraph)), createGraph, [seed]);
}

/** `backward` for graphs whose gradient rules may be asynchronous (collectives). */
export async function backwardAsync(root: Tensor, gradOutput?: Tensor, createGraph = false): Promise<void> {
  const seed = rootGrad(root, gradOutput);
  const { grads, done } = await runAsync(leafPropagation([root], [seed], createGraph));
  accumulateLeaves(grads, createGraph, [seed], done);
  if (done !== undefined && gradReady !== null) for (const t of grads.keys()) if (t.node === null && !done.has(t)) gradReady(t);
}

/**
 * `backwardAsync` from several roots with their gradients; returns the leaves whose `.grad` it
 * set (activation recomputation keeps those past its scope).
 */
export async function backwardRootsAsync(roots: readonly Tensor[], seeds: readonly Tensor[]): Promise<Tensor[]> {
  const { grads, done } = await runAsync(leafPropagation(roots, seeds, false));
  accumulateLeaves(grads, false, seeds, done);
  const leaves = [...grads.keys()].filter((t) => t.node === null && t.requiresGrad);
  if (done !== undefined && gradReady !== null) for (const t of leaves) if (!done.has(t)) gradReady(t);
  return leaves;
}

export interface GradOptions {
  /** Record the gradient computation so the result can be differentiated again. */
  createGraph?: boolean;
  /** Gradient of each output (default: ones). */
  gradOutputs?: readonly Tensor[];
}

function gradSetup(outputs: Tensor | readonly Tensor[], opts: GradOptions) {
  const outs = Array.isArray(outputs) ? (outputs as readonly Tensor[]) : [outputs as Tensor];
  for (const o of outs) if (!o.requiresGrad) throw new Error('grad(): an output does not require a gradient');
  const gOuts = opts.gradOutputs ?? outs.map((o) => o.onesLike());
  return propagate(outs, gOuts, opts.createGraph ?? false);
}

/**
 * Gradients of sum(outputs * gradOutputs) w.r.t. inputs, without touching `.grad`. An input the
 * outputs do not depend on gets zeros.
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: readonly Tensor[], opts: GradOptions = {}): Tensor[] {
  const grads = runSync(gradSetup(outputs, opts));
  return inputs.map((x) => grads.get(x) ?? x.zerosLike());
}

export async function gradAsync(outputs: Tensor | readonly Tensor[], inputs: readonly Tensor[], opts: GradOptions = {}): Promise<Tensor[]> {
  const { grads } = await runAsync(gradSetup(outputs, opts));
  return inputs.map((x) => grads.get(x) ?? x.zerosLike());
}
