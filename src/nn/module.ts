// Modules own named parameters and child modules; names are dotted paths ("blocks.0.attn.qkv.weight").
import { type Tensor, tensor, zeros } from '../tensor/tensor.js';
import { keep } from '../tensor/engine.js';
import type { Rng } from '../tensor/random.js';
import { blockShape, sliceBlock, type ShardSpec } from '../parallel/context.js';

export interface ParamInfo {
  name: string;
  param: Tensor;
  /** How the parameter is split over ranks; undefined = replicated. */
  spec: ShardSpec | undefined;
  /** Expert weights: their gradients are reduced over the expert-data-parallel group. */
  expert: boolean;
  /** A parameter held by several pipeline stages (the tied embedding on the first and last): which
   * copy this is. Their gradients are summed, so they stay equal; copy 0 counts in the global norm. */
  tied?: { copy: number; copies: number };
}

export abstract class Module {
  private readonly ownParams = new Map<string, Tensor>();
  private readonly specs = new Map<string, ShardSpec>();
  /** Set on modules whose parameters are expert weights. */
  protected expertParams = false;
  private readonly children = new Map<string, Module>();
  training = true;

  /**
   * Registers a parameter. With a spec, `t` is the full (global) initial value and this rank keeps
   * only its block, so every layout starts from the same global weights as one rank.
   */
  protected param(name: string, t: Tensor, spec?: ShardSpec): Tensor {
    let p = t;
    if (spec !== undefined) {
      p = tensor(sliceBlock(t.data, t.shape, spec.dim, spec.parts, spec.index), blockShape(t.shape, spec.dim, spec.parts));
      t.dispose();
      this.specs.set(name, spec);
    }
    p.requiresGrad = true;
    keep(p);
    this.ownParams.set(name, p);
    return p;
  }

  /**
   * Registers a buffer: a tensor saved, gathered and resharded with the parameters (it is listed
   * among them) but not trained: requiresGrad stays false, optimizers skip it, its owner updates it.
   */
  protected buffer(name: string, t: Tensor): Tensor {
    keep(t);
    this.ownParams.set(name, t);
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Every parameter (and buffer) with its dotted name, in registration order (deterministic). */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.ownParams) out.push([prefix + n, p]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** Every parameter with its name, split and kind. */
  parameterInfo(prefix = ''): ParamInfo[] {
    const out: ParamInfo[] = [];
    for (const [n, p] of this.ownParams) out.push({ name: prefix + n, param: p, spec: this.specs.get(n), expert: this.expertParams });
    for (const [n, c] of this.children) out.push(...c.parameterInfo(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  train(on = true): this {
    this.training = on;
    for (const c of this.children.values()) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }
}

/** The parameters an optimizer trains: every one but the buffers. */
export function trainable(infos: readonly ParamInfo[]): ParamInfo[] {
  return infos.filter((i) => i.param.requiresGrad);
}

/** A parameter tensor drawn from N(0, std^2). */
export function normalParam(shape: readonly number[], std: number, rng: Rng): Tensor {
  const t = zeros(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * std;
  return t;
}

export function constParam(shape: readonly number[], value: number): Tensor {
  const t = zeros(shape);
  t.data.fill(value);
  return t;
}
