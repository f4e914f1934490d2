// The Tensor with its chained ops: the class of core.ts, whose methods (x.add(y), x.matmul(w), ...)
// are installed here from ops.ts. Import tensors from this module, never from core.ts, so that
// every Tensor has its methods.
import { Tensor, type TensorMethods } from './core.js';
import * as ops from './ops.js';

export * from './core.js';

const methods: TensorMethods & ThisType<Tensor> = {
  // Element-wise (broadcasting).
  add(b: Tensor | number): Tensor { return typeof b === 'number' ? ops.affine(this, 1, b) : ops.binary('add', this, b); },
  sub(b: Tensor | number): Tensor { return typeof b === 'number' ? ops.affine(this, 1, -b) : ops.binary('sub', this, b); },
  mul(b: Tensor | number): Tensor { return typeof b === 'number' ? ops.affine(this, b, 0) : ops.binary('mul', this, b); },
  div(b: Tensor | number): Tensor { return typeof b === 'number' ? ops.affine(this, 1 / b, 0) : ops.binary('div', this, b); },
  maximum(b: Tensor): Tensor { return ops.binary('max', this, b); },
  minimum(b: Tensor): Tensor { return ops.binary('min', this, b); },
  pow(p: number): Tensor { return ops.powScalar(this, p); },
  neg(): Tensor { return ops.unary('neg', this); },
  exp(): Tensor { return ops.unary('exp', this); },
  log(): Tensor { return ops.unary('log', this); },
  sqrt(): Tensor { return ops.unary('sqrt', this); },
  rsqrt(): Tensor { return ops.unary('rsqrt', this); },
  tanh(): Tensor { return ops.unary('tanh', this); },
  sigmoid(): Tensor { return ops.unary('sigmoid', this); },
  relu(): Tensor { return ops.unary('relu', this); },
  gelu(): Tensor { return ops.unary('gelu', this); },
  silu(): Tensor { return ops.unary('silu', this); },
  abs(): Tensor { return ops.unary('abs', this); },
  square(): Tensor { return ops.unary('square', this); },
  recip(): Tensor { return ops.unary('recip', this); },
  sin(): Tensor { return ops.unary('sin', this); },
  cos(): Tensor { return ops.unary('cos', this); },

  // Linear algebra.
  matmul(b: Tensor, transA = false, transB = false): Tensor { return ops.matmul(this, b, transA, transB); },

  // Reductions.
  sum(axis?: number | number[], keepdim = false): Tensor { return ops.sum(this, axis, keepdim); },
  mean(axis?: number | number[], keepdim = false): Tensor { return ops.mean(this, axis, keepdim); },
  max(axis: number, keepdim = false): Tensor { return ops.max(this, axis, keepdim); },

  // Shape.
  reshape(shape: readonly number[]): Tensor { return ops.reshape(this, shape); },
  permute(perm: readonly number[]): Tensor { return ops.permute(this, perm); },
  transpose(a = -2, b = -1): Tensor { return ops.transpose(this, a, b); },
  expand(shape: readonly number[]): Tensor { return ops.expand(this, shape); },
  sumTo(shape: readonly number[]): Tensor { return ops.sumTo(this, shape); },
  rows(start: number, count: number): Tensor { return ops.rows(this, start, count); },

  // Neural-network ops.
  softmax(): Tensor { return ops.softmax(this); },
  logSoftmax(): Tensor { return ops.logSoftmax(this); },
};
Object.assign(Tensor.prototype, methods);
