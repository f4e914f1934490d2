// The Tensor: a contiguous float32 array in backend memory, its shape, and how it was computed.
// Its chained ops (x.add(y), x.matmul(w), ...) are declared here and installed by tensor.ts from
// ops.ts, so that this file and ops.ts (which builds Tensors) do not import each other.
import { backend, isGradEnabled, track, type Disposable } from './engine.js';
import { numel, type Shape } from './shape.js';
import { backward, backwardAsync } from '../autograd/backward.js';

/** How a tensor was computed: the op's inputs and its vector-Jacobian product. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients w.r.t. each input given the output's gradient g (null: no gradient). */
  backward(g: Tensor): (Tensor | null)[] | Promise<(Tensor | null)[]>;
}

/** The chained ops of a Tensor (each is the op of the same name in ops.ts applied to this tensor). */
export interface TensorMethods {
  // Element-wise (broadcasting).
  add(b: Tensor | number): Tensor;
  sub(b: Tensor | number): Tensor;
  mul(b: Tensor | number): Tensor;
  div(b: Tensor | number): Tensor;
  maximum(b: Tensor): Tensor;
  minimum(b: Tensor): Tensor;
  pow(p: number): Tensor;
  neg(): Tensor;
  exp(): Tensor;
  log(): Tensor;
  sqrt(): Tensor;
  rsqrt(): Tensor;
  tanh(): Tensor;
  sigmoid(): Tensor;
  relu(): Tensor;
  gelu(): Tensor;
  silu(): Tensor;
  abs(): Tensor;
  square(): Tensor;
  recip(): Tensor;
  sin(): Tensor;
  cos(): Tensor;

  // Linear algebra.
  matmul(b: Tensor, transA?: boolean, transB?: boolean): Tensor;

  // Reductions.
  sum(axis?: number | number[], keepdim?: boolean): Tensor;
  mean(axis?: number | number[], keepdim?: boolean): Tensor;
  max(axis: number, keepdim?: boolean): Tensor;

  // Shape.
  reshape(shape: readonly number[]): Tensor;
  permute(perm: readonly number[]): Tensor;
  transpose(a?: number, b?: number): Tensor;
  expand(shape: readonly number[]): Tensor;
  sumTo(shape: readonly number[]): Tensor;
  rows(start: number, count: number): Tensor;

  // Neural-network ops.
  softmax(): Tensor;
  logSoftmax(): Tensor;
}

/** The class below gains TensorMethods by declaration merging; tensor.ts installs them. */
export interface Tensor extends TensorMethods {}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: TensorMethods are installed on the prototype by tensor.ts
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
