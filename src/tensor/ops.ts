// Differentiable ops: each is a kernel call forward and a small gradient rule written in ops,
// so gradients of gradients work. Where a fused kernel is faster for first-order gradients it is
// used when no graph is being built (isGradEnabled() false during backward).
import type { BinaryOp, UnaryOp } from '../backends/backend.js';
import { backend, isGradEnabled } from './engine.js';
import { broadcastShapes, broadcastStrides, collapseDims, normAxis, numel, sameShape,
  type Shape } from './shape.js';
import { Tensor, result, view, zeros } from './core.js';

/** Memory for an output the kernel overwrites completely (not cleared when reused). */
function alloc(n: number): Float32Array {
  const be = backend();
  return be.allocEmpty?.(n) ?? be.alloc(n);
}

/** Zero-filled memory, for outputs that kernels accumulate into. */
function allocZeros(n: number): Float32Array {
  return backend().alloc(n);
}

// ---------------------------------------------------------------------------------------------
// Element-wise

export function unary(op: UnaryOp, x: Tensor): Tensor {
  const y = alloc(x.size);
  backend().unary(op, x.data, y);
  const out: Tensor = result(op, y, x.shape, [x], (g) => [unaryGrad(op, x, out, g)]);
  return out;
}

function unaryGrad(op: UnaryOp, x: Tensor, y: Tensor, g: Tensor): Tensor | null {
  const fused = !isGradEnabled();
  switch (op) {
    case 'neg': return g.neg();
    case 'exp': return g.mul(y);
    case 'log': return g.div(x);
    case 'sqrt': return g.mul(y.recip()).mul(0.5);
    case 'rsqrt': return g.mul(y.pow(3)).mul(-0.5);
    case 'tanh': return fused ? binaryRaw('tanh_bwd', y, g) : g.mul(y.square().neg().add(1));
    case 'sigmoid': return fused ? binaryRaw('sigmoid_bwd', y, g) : g.mul(y.mul(y.neg().add(1)));
    case 'relu': return fused ? binaryRaw('relu_bwd', x, g) : g.mul(unary('step', x));
    case 'gelu': {
      if (fused) return binaryRaw('gelu_bwd', x, g);
      // gelu(x) = 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3), c = sqrt(2/pi)
      const c = Math.sqrt(2 / Math.PI);
      const t = x.pow(3).mul(0.044715).add(x).mul(c).tanh();
      const du = x.square().mul(3 * 0.044715 * c).add(c);
      const d = t.add(1).mul(0.5).add(x.mul(t.square().neg().add(1)).mul(du).mul(0.5));
      return g.mul(d);
    }
    case 'silu': {
      if (fused) return binaryRaw('silu_bwd', x, g);
      const s = x.sigmoid();
      return g.mul(s.mul(x.mul(s.neg().add(1)).add(1)));
    }
    case 'abs': return g.mul(unary('step', x).sub(unary('step', x.neg())));
    case 'square': return g.mul(x).mul(2);
    case 'recip': return g.mul(y.square()).neg();
    case 'sin': return g.mul(x.cos());
    case 'cos': return g.mul(x.sin()).neg();
    case 'step': return null;
  }
}

/** A binary kernel on broadcast operands into fresh memory. */
function binaryKernel(op: BinaryOp, a: Tensor, b: Tensor): { data: Float32Array; shape: number[] } {
  const shape = broadcastShapes(a.shape, b.shape);
  const data = alloc(numel(shape));
  if (sameShape(a.shape, b.shape)) {
    backend().binary(op, a.data, [1], b.data, [1], data, [data.length]);
  } else {
    const c = collapseDims(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)]);
    backend().binary(op, a.data, c.strides[0]!, b.data, c.strides[1]!, data, c.shape);
  }
  return { data, shape };
}

/** A binary kernel as a constant tensor (no graph node). */
function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const { data, shape } = binaryKernel(op, a, b);
  return new Tensor(data, shape);
}

export function binary(op: 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min', a: Tensor, b: Tensor): Tensor {
  const raw = binaryKernel(op, a, b);
  return result(op, raw.data, raw.shape, [a, b], (g) => {
    switch (op) {
      case 'add': return [g.sumTo(a.shape), g.sumTo(b.shape)];
      case 'sub': return [g.sumTo(a.shape), g.neg().sumTo(b.shape)];
      case 'mul': return [g.mul(b).sumTo(a.shape), g.mul(a).sumTo(b.shape)];
      case 'div': return [g.div(b).sumTo(a.shape), g.mul(a).div(b.square()).neg().sumTo(b.shape)];
      case 'max':
      case 'min': {
        // The gradient goes to the selected operand (ties to a, as the kernel picks a).
        const mask = binaryRaw(op === 'max' ? 'lt' : 'gt', b, a).add(binaryRaw('eq', a, b));
        return [g.mul(mask).sumTo(a.shape), g.mul(mask.neg().add(1)).sumTo(b.shape)];
      }
    }
  });
}

/** y = alpha * x + beta. */
export function affine(x: Tensor, alpha: number, beta: number): Tensor {
  const y = alloc(x.size);
  backend().affine(x.data, alpha, beta, y);
  return result('affine', y, x.shape, [x], (g) => [alpha === 1 ? g : g.mul(alpha)]);
}

export function powScalar(x: Tensor, p: number): Tensor {
  const y = alloc(x.size);
  backend().powScalar(x.data, p, y);
  return result('pow', y, x.shape, [x], (g) => [p === 0 ? null : g.mul(x.pow(p - 1)).mul(p)]);
}

// ---------------------------------------------------------------------------------------------
// Matrix multiply

/**
 * C = op(A) @ op(B) over the last two dims; leading (batch) dims broadcast, so a 2-D weight is
 * shared by every batch item without copies (stride 0).
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  if (a.ndim < 2 || b.ndim < 2) throw new Error(`matmul needs 2-D or more, got [${a.shape}] and [${b.shape}]`);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const m = transA ? ac : ar, k = transA ? ar : ac;
  const kb = transB ? bc : br, n = transB ? br : bc;
  if (k !== kb) throw new Error(`matmul: inner dims differ, [${a.shape}]${transA ? 'ᵀ' : ''} @ [${b.shape}]${transB ? 'ᵀ' : ''}`);
  const batchShape = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = numel(batchShape);
  const aBatch = numel(a.shape.slice(0, -2)), bBatch = numel(b.shape.slice(0, -2));
  if ((aBatch !== batch && aBatch !== 1) || (bBatch !== batch && bBatch !== 1)) {
    throw new Error(`matmul: batch dims [${a.shape.slice(0, -2)}] and [${b.shape.slice(0, -2)}] must match or be absent`);
  }
  const outShape = [...batchShape, m, n];
  const c = alloc(batch * m * n);
  backend().gemm({
    transA, transB, m, n, k, alpha: 1, beta: 0,
    a: a.data, lda: ac, strideA: aBatch === 1 ? 0 : ar * ac,
    b: b.data, ldb: bc, strideB: bBatch === 1 ? 0 : br * bc,
    c, ldc: n, strideC: m * n, batch,
  });
  return result('matmul', c, outShape, [a, b], (g) => {
    // C = op(A) op(B): dA = g op(B)^T, dB = op(A)^T g, each laid out like the stored operand.
    // Only the operands that need a gradient get one (e.g. not a network's input batch).
    const da = !a.requiresGrad ? null : (transA ? matmul(b, g, transB, true) : matmul(g, b, false, !transB)).sumTo(a.shape);
    const db = !b.requiresGrad ? null : (transB ? matmul(g, a, true, transA) : matmul(a, g, !transA, false)).sumTo(b.shape);
    return [da, db];
  });
}

// ---------------------------------------------------------------------------------------------
// Reductions

function reduceAxes(x: Tensor, axis: number | number[] | undefined): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => normAxis(a, x.ndim));
  return [...new Set(axes)].sort((p, q) => p - q);
}

export function sum(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  const axes = reduceAxes(x, axis);
  // Reduce runs of adjacent axes in one kernel call each, freeing intermediates.
  let data = x.data, shape = [...x.shape];
  let i = 0;
  while (i < axes.length) {
    let j = i;
    while (j + 1 < axes.length && axes[j + 1] === axes[j]! + 1) j++;
    const a0 = axes[i]!, a1 = axes[j]!;
    const outer = numel(shape.slice(0, a0)), n = numel(shape.slice(a0, a1 + 1)), inner = numel(shape.slice(a1 + 1));
    const out = alloc(outer * inner);
    backend().reduce('sum', data, outer, n, inner, out);
    if (data !== x.data) backend().free(data);
    data = out;
    shape = shape.map((d, k) => (k >= a0 && k <= a1 ? 1 : d));
    i = j + 1;
  }
  if (data === x.data) { data = alloc(x.size); backend().affine(x.data, 1, 0, data); }
  const kept = shape;
  const outShape = keepdim ? kept : x.shape.filter((_, k) => !axes.includes(k));
  return result('sum', data, outShape, [x], (g) => [g.reshape(kept).expand(x.shape)]);
}

export function mean(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  const axes = reduceAxes(x, axis);
  const count = axes.reduce((p, a) => p * x.shape[a]!, 1);
  return sum(x, axes, keepdim).mul(1 / count);
}

export function max(x: Tensor, axis: number, keepdim = false): Tensor {
  const ax = normAxis(axis, x.ndim);
  const outer = numel(x.shape.slice(0, ax)), n = x.shape[ax]!, inner = numel(x.shape.slice(ax + 1));
  const kept = x.shape.map((d, i) => (i === ax ? 1 : d));
  const y = alloc(outer * inner);
  backend().reduce('max', x.data, outer, n, inner, y);
  const outShape = keepdim ? kept : x.shape.filter((_, i) => i !== ax);
  const out: Tensor = result('max', y, outShape, [x], (g) => {
    const mask = binaryRaw('eq', x, out.detach().reshape(kept));
    return [g.reshape(kept).mul(mask)];
  });
  return out;
}

/** Sums a broadcast gradient back to `shape` (the inverse of expand). */
export function sumTo(x: Tensor, shape: Shape): Tensor {
  if (sameShape(x.shape, shape)) return x;
  const off = x.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < x.ndim; i++) if (i < off || (shape[i - off] === 1 && x.shape[i] !== 1)) axes.push(i);
  return sum(x, axes, true).reshape(shape);
}

/** Broadcasts x to `shape` (materialized). */
export function expand(x: Tensor, shape: Shape): Tensor {
  if (sameShape(x.shape, shape)) return x;
  const target = broadcastShapes(x.shape, shape);
  if (!sameShape(target, shape)) throw new Error(`cannot expand [${x.shape}] to [${shape}]`);
  const out = alloc(numel(shape));
  const c = collapseDims(shape, [broadcastStrides(x.shape, shape)]);
  const zero = zeros([1]);
  backend().binary('add', x.data, c.strides[0]!, zero.data, c.shape.map(() => 0), out, c.shape);
  zero.dispose();
  return result('expand', out, shape, [x], (g) => [g.sumTo(x.shape)]);
}

// ---------------------------------------------------------------------------------------------
// Shape

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const infer = s.indexOf(-1);
  if (infer >= 0) s[infer] = x.size / numel(s.filter((_, i) => i !== infer));
  if (numel(s) !== x.size) throw new Error(`cannot reshape [${x.shape}] to [${shape}]`);
  return view('reshape', x, x.data, s, (g) => [g.reshape(x.shape)]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((a) => normAxis(a, x.ndim));
  const outShape = p.map((a) => x.shape[a]!);
  const out = alloc(x.size);
  const c = collapsePermute(x.shape, p);
  backend().permute(x.data, c.shape, c.perm, out);
  const inverse = new Array<number>(p.length);
  p.forEach((a, i) => { inverse[a] = i; });
  return result('permute', out, outShape, [x], (g) => [g.permute(inverse)]);
}

/** Merges input dims that stay adjacent and in order under the permutation. */
function collapsePermute(shape: Shape, perm: readonly number[]): { shape: number[]; perm: number[] } {
  const groups: number[][] = [];
  for (const a of perm) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last[last.length - 1] === a - 1) last.push(a);
    else groups.push([a]);
  }
  const order = [...groups].sort((g1, g2) => g1[0]! - g2[0]!);
  const newShape = order.map((g) => g.reduce((p, a) => p * shape[a]!, 1));
  const newPerm = groups.map((g) => order.indexOf(g));
  return { shape: newShape, perm: newPerm };
}

export function transpose(x: Tensor, a: number, b: number): Tensor {
  const p = x.shape.map((_, i) => i);
  const ia = normAxis(a, x.ndim), ib = normAxis(b, x.ndim);
  p[ia] = ib;
  p[ib] = ia;
  return permute(x, p);
}

/** Rows [start, start + count) along axis 0, as a view. */
export function rows(x: Tensor, start: number, count: number): Tensor {
  const inner = numel(x.shape.slice(1));
  if (start < 0 || count < 0 || start + count > x.shape[0]!) throw new Error(`rows ${start}+${count} out of [${x.shape}]`);
  return view('rows', x, x.data.subarray(start * inner, (start + count) * inner), [count, ...x.shape.slice(1)],
    (g) => [padRows(g, start, x.shape[0]!)]);
}

/** Places x (count rows) at row `start` of a zero tensor with `total` rows (inverse of rows). */
export function padRows(x: Tensor, start: number, total: number): Tensor {
  const inner = numel(x.shape.slice(1));
  const out = allocZeros(total * inner);
  out.set(x.data, start * inner);
  return result('padRows', out, [total, ...x.shape.slice(1)], [x], (g) => [g.rows(start, x.shape[0]!)]);
}

/** Concatenates along axis 0 (memcpy of contiguous blocks). */
export function concat0(xs: readonly Tensor[]): Tensor {
  const rest = xs[0]!.shape.slice(1);
  for (const t of xs) if (!sameShape(t.shape.slice(1), rest)) throw new Error(`concat0: shapes differ beyond axis 0`);
  const total = xs.reduce((p, t) => p + t.shape[0]!, 0);
  const out = alloc(total * numel(rest));
  let off = 0;
  for (const t of xs) { out.set(t.data, off); off += t.size; }
  return result('concat0', out, [total, ...rest], xs, (g) => {
    let r = 0;
    return xs.map((t) => { const v = g.rows(r, t.shape[0]!); r += t.shape[0]!; return v; });
  });
}

// ---------------------------------------------------------------------------------------------
// Gather / scatter

/** out[r] = x[idx[r]] over rows of x (x viewed as (rows, inner)). */
export function gatherRows(x: Tensor, idx: Int32Array): Tensor {
  const inner = numel(x.shape.slice(1));
  const out = alloc(idx.length * inner);
  backend().gatherRows(x.data, idx, inner, out);
  return result('gatherRows', out, [idx.length, ...x.shape.slice(1)], [x],
    (g) => [scatterAddRows(g, idx, x.shape[0]!)]);
}

/** out (total rows) = zeros; out[idx[r]] += x[r]. */
export function scatterAddRows(x: Tensor, idx: Int32Array, total: number): Tensor {
  const inner = numel(x.shape.slice(1));
  const out = allocZeros(total * inner);
  backend().scatterAddRows(out, idx, inner, x.data);
  return result('scatterAddRows', out, [total, ...x.shape.slice(1)], [x], (g) => [gatherRows(g, idx)]);
}

/** Token embedding: rows of weight (V, C) for ids (N) -> (N, C). */
export function embedding(weight: Tensor, ids: Int32Array): Tensor {
  for (let i = 0; i < ids.length; i++) {
    if (ids[i]! < 0 || ids[i]! >= weight.shape[0]!) throw new Error(`token id ${ids[i]} out of vocabulary ${weight.shape[0]}`);
  }
  return gatherRows(weight, ids);
}

// ---------------------------------------------------------------------------------------------
// Softmax family, losses, norms

function lastAxis(x: Tensor): { rows: number; n: number } {
  const n = x.shape[x.ndim - 1]!;
  return { rows: x.size / n, n };
}

export function softmax(x: Tensor): Tensor {
  const { rows, n } = lastAxis(x);
  const y = alloc(x.size);
  backend().softmax(x.data, rows, n, y);
  const out: Tensor = result('softmax', y, x.shape, [x], (g) => {
    if (!isGradEnabled()) {
      const dx = alloc(x.size);
      backend().softmaxBackward(out.data, g.data, rows, n, dx);
      return [new Tensor(dx, x.shape)];
    }
    return [out.mul(g.sub(g.mul(out).sum(-1, true)))];
  });
  return out;
}

export function logSoftmax(x: Tensor): Tensor {
  const { rows, n } = lastAxis(x);
  const y = alloc(x.size);
  backend().logSoftmax(x.data, rows, n, y);
  const out: Tensor = result('logSoftmax', y, x.shape, [x], (g) => {
    if (!isGradEnabled()) {
      const dx = alloc(x.size);
      backend().logSoftmaxBackward(out.data, g.data, rows, n, dx);
      return [new Tensor(dx, x.shape)];
    }
    return [g.sub(out.exp().mul(g.sum(-1, true)))];
  });
  return out;
}

/**
 * Mean softmax cross-entropy of logits (..., V) against integer targets (-1 = ignored), fused.
 * Differentiable once (its gradient is a fused kernel); use logSoftmax for higher orders.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array): Tensor {
  const { rows, n } = lastAxis(logits);
  if (targets.length !== rows) throw new Error(`crossEntropy: ${targets.length} targets for ${rows} rows`);
  let count = 0;
  for (let i = 0; i < rows; i++) {
    const t = targets[i]!;
    if (t >= n || t < -1) throw new Error(`crossEntropy: target ${t} out of [0, ${n})`);
    if (t >= 0) count++;
  }
  const losses = alloc(rows), probs = alloc(logits.size);
  backend().crossEntropyForward(logits.data, targets, rows, n, losses, probs);
  let total = 0;
  for (let i = 0; i < rows; i++) total += losses[i]!;
  backend().free(losses);
  const out = alloc(1);
  out[0] = count > 0 ? total / count : 0;
  const probsT = new Tensor(probs, logits.shape);
  return result('crossEntropy', out, [], [logits], (g) => {
    if (isGradEnabled()) throw new Error('crossEntropy is differentiable once; build the loss from logSoftmax for higher orders');
    const d = alloc(logits.size);
    backend().crossEntropyBackward(probsT.data, targets, rows, n, count > 0 ? g.item() / count : 0, d);
    return [new Tensor(d, logits.shape)];
  });
}

/** RMSNorm over the last axis (Zhang & Sennrich 2019), fused; differentiable once. */
export function rmsnorm(x: Tensor, weight: Tensor, eps = 1e-5): Tensor {
  const { rows, n } = lastAxis(x);
  if (weight.size !== n) throw new Error(`rmsnorm: weight [${weight.shape}] does not match last dim ${n}`);
  const y = alloc(x.size);
  const rstd = new Tensor(alloc(rows), [rows]);
  backend().rmsnormForward(x.data, weight.data, rows, n, eps, y, rstd.data);
  return result('rmsnorm', y, x.shape, [x, weight], (g) => {
    if (isGradEnabled()) throw new Error('rmsnorm is differentiable once; use layerNorm-style composition for higher orders');
    const dx = alloc(x.size), dw = allocZeros(n);
    backend().rmsnormBackward(x.data, weight.data, rstd.data, g.data, rows, n, dx, dw);
    return [new Tensor(dx, x.shape), new Tensor(dw, weight.shape)];
  });
}

/** LayerNorm over the last axis (Ba et al. 2016), composed of ops (differentiable to any order). */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null, eps = 1e-5): Tensor {
  const mu = x.mean(-1, true);
  const xc = x.sub(mu);
  const y = xc.mul(xc.square().mean(-1, true).add(eps).rsqrt()).mul(weight);
  return bias === null ? y : y.add(bias);
}

/** Values and indices of the k largest entries along the last axis (ties: lower index first). */
export function topk(x: Tensor, k: number): { values: Tensor; indices: Int32Array } {
  const { rows, n } = lastAxis(x);
  if (k < 1 || k > n) throw new Error(`topk: k=${k} must be in [1, ${n}]`);
  const indices = new Int32Array(rows * k);
  const d = x.data;
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let j = 0; j < k; j++) {
      let best = -1;
      for (let c = 0; c < n; c++) {
        let taken = false;
        for (let q = 0; q < j; q++) if (indices[r * k + q] === c) taken = true;
        if (!taken && (best < 0 || d[o + c]! > d[o + best]!)) best = c;
      }
      indices[r * k + j] = best;
    }
  }
  const flat = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) flat[r * k + j] = r * n + indices[r * k + j]!;
  const values = gatherRows(x.reshape([x.size, 1]), flat).reshape([...x.shape.slice(0, -1), k]);
  return { values, indices };
}

