// Modules own named parameters and child modules; names are dotted paths ("blocks.0.attn.qkv.weight").
import { Tensor, zeros } from '../tensor/tensor.js';
import { keep } from '../tensor/engine.js';
import type { Rng } from '../tensor/random.js';

export abstract class Module {
  private readonly ownParams = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();
  training = true;

  protected param(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    keep(t);
    this.ownParams.set(name, t);
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Every parameter with its dotted name, in registration order (deterministic). */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.ownParams) out.push([prefix + n, p]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
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
