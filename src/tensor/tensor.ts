// The Tensor: a contiguous float32 array in backend memory, its shape, and how it was computed.
import { backend, isGradEnabled, track, type Disposable } from './engine.js';
import { numel, type Shape } from './shape.js';
import * as ops from './ops.js';
import { backward, backwardAsync } from '../autograd/backward.js';

/** How a tensor was computed: the op's inputs and its vector-Jacobian product. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients w.r.t. each input given the output's gradient g (null: no gradient). */
  backward(g: Tensor): (Tensor | null)[] | Promise<(Tensor | null)[]>;
}

export class Tensor implements Disposable {
  readonly shape: readonly number[];
  readonly size: number;
  data: Float32Array;
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf after `backward()`. */
  grad: Tensor | null = null;
  node: GradNode | null = null;
  /** The tensor whose memory this one views (reshape, rows), or null if it owns its memory. */
  private readonly base: Tensor | null;
  private disposed = false;

  constructor(data: Float32Array, shape: Shape, requiresGrad = false, base: Tensor | null = null) {
    const n = numel(shape);
    if (data.length !== n) throw new Error(`data of length ${data.length} does not fit shape [${shape}]`);
    this.shape = [...shape];
    this.size = n;
    this.data = data;
    this.requiresGrad = requiresGrad;
    this.base = base;
    track(this);
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item() needs one element, tensor has shape [${this.shape}]`);
    return this.data[0]!;
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** Frees backend memory (views free nothing; their base owns the memory). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.base === null) backend().free(this.data);
    this.node = null;
  }

  get isDisposed(): boolean {
    return this.disposed || (this.base !== null && this.base.isDisposed);
  }

  /** A leaf copy that shares nothing with the graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false, this);
  }

  /** Accumulates d(this)/d(leaf) into every leaf's `.grad`; the seed is gradOutput, or 1 for a scalar. */
  backward(gradOutput?: Tensor): void {
    backward(this, gradOutput ?? this.seed());
  }

  /** backward() for graphs with collectives (parallel models). */
  backwardAsync(gradOutput?: Tensor): Promise<void> {
    return backwardAsync(this, gradOutput ?? this.seed());
  }

  /** The gradient of a scalar with respect to itself: 1. */
  private seed(): Tensor {
    if (this.size !== 1) throw new Error(`backward() of a non-scalar [${this.shape}] needs a gradOutput`);
    return this.onesLike();
  }

  /** A new tensor of this shape filled with zeros (the autograd driver's sums and unreached gradients). */
  zerosLike(): Tensor {
    return full(this.shape, 0);
  }

  /** A new tensor of this shape filled with ones (the seed of a gradient). */
  onesLike(): Tensor {
    return full(this.shape, 1);
  }

  // Element-wise (broadcasting).
  add(b: Tensor | number): Tensor { return typeof b === 'number' ? ops.affine(this, 1, b) : ops.binary('add', this, b); }
  sub(b: Tensor | number): Tensor { return typeof b === 'number' ? ops.affine(this, 1, -b) : ops.binary('sub', this, b); }
  mul(b: Tensor | number): Tensor { return typeof b === 'number' ? ops.affine(this, b, 0) : ops.binary('mul', this, b); }
  div(b: Tensor | number): Tensor { return typeof b === 'number' ? ops.affine(this, 1 / b, 0) : ops.binary('div', this, b); }
  maximum(b: Tensor): Tensor { return ops.binary('max', this, b); }
  minimum(b: Tensor): Tensor { return ops.binary('min', this, b); }
  pow(p: number): Tensor { return ops.powScalar(this, p); }
  neg(): Tensor { return ops.unary('neg', this); }
  exp(): Tensor { return ops.unary('exp', this); }
  log(): Tensor { return ops.unary('log', this); }
  sqrt(): Tensor { return ops.unary('sqrt', this); }
  rsqrt(): Tensor { return ops.unary('rsqrt', this); }
  tanh(): Tensor { return ops.unary('tanh', this); }
  sigmoid(): Tensor { return ops.unary('sigmoid', this); }
  relu(): Tensor { return ops.unary('relu', this); }
  gelu(): Tensor { return ops.unary('gelu', this); }
  silu(): Tensor { return ops.unary('silu', this); }
  abs(): Tensor { return ops.unary('abs', this); }
  square(): Tensor { return ops.unary('square', this); }
  recip(): Tensor { return ops.unary('recip', this); }
  sin(): Tensor { return ops.unary('sin', this); }
  cos(): Tensor { return ops.unary('cos', this); }

  // Linear algebra.
  matmul(b: Tensor, transA = false, transB = false): Tensor { return ops.matmul(this, b, transA, transB); }

  // Reductions.
  sum(axis?: number | number[], keepdim = false): Tensor { return ops.sum(this, axis, keepdim); }
  mean(axis?: number | number[], keepdim = false): Tensor { return ops.mean(this, axis, keepdim); }
  max(axis: number, keepdim = false): Tensor { return ops.max(this, axis, keepdim); }

  // Shape.
  reshape(shape: readonly number[]): Tensor { return ops.reshape(this, shape); }
  permute(perm: readonly number[]): Tensor { return ops.permute(this, perm); }
  transpose(a = -2, b = -1): Tensor { return ops.transpose(this, a, b); }
  expand(shape: readonly number[]): Tensor { return ops.expand(this, shape); }
  sumTo(shape: readonly number[]): Tensor { return ops.sumTo(this, shape); }
  rows(start: number, count: number): Tensor { return ops.rows(this, start, count); }

  // Neural-network ops.
  softmax(): Tensor { return ops.softmax(this); }
  logSoftmax(): Tensor { return ops.logSoftmax(this); }
}

export function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}

/** A new tensor from values (copied into backend memory). */
export function tensor(values: ArrayLike<number>, shape?: Shape, requiresGrad = false): Tensor {
  const s = shape ?? [values.length];
  const data = backend().alloc(numel(s));
  data.set(values);
  return new Tensor(data, s, requiresGrad);
}

export function zeros(shape: Shape, requiresGrad = false): Tensor {
  return new Tensor(backend().alloc(numel(shape)), shape, requiresGrad);
}

export function full(shape: Shape, value: number, requiresGrad = false): Tensor {
  const t = zeros(shape, requiresGrad);
  if (value !== 0) backend().fill(t.data, value);
  return t;
}

export function scalar(v: number): Tensor {
  return full([], v);
}

/** Creates the output tensor of an op and records how to differentiate it. */
export function result(op: string, data: Float32Array, shape: Shape, inputs: readonly Tensor[],
  backward: GradNode['backward']): Tensor {
  const record = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const out = new Tensor(data, shape, record);
  if (record) out.node = { op, inputs, backward };
  return out;
}

/** A view of `base`'s memory with a new shape, differentiable like any op. */
export function view(op: string, base: Tensor, data: Float32Array, shape: Shape,
  backward: (g: Tensor) => (Tensor | null)[]): Tensor {
  const record = isGradEnabled() && base.requiresGrad;
  const out = new Tensor(data, shape, record, base);
  if (record) out.node = { op, inputs: [base], backward };
  return out;
}
