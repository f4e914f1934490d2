// The kernel interface every backend implements: a small table of kernels over memory it owns.
//
// All arrays passed to a backend were allocated by that backend's `alloc` (so a fast backend can
// address them without copies), except index arrays (Int32Array), which may come from anywhere.
// Shapes are row-major. A kernel writes its whole output unless documented as accumulating.

export const BACKEND_NAMES = ['js', 'wasm', 'blas', 'native'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/**
 * Input precision of GEMMs: fp32, or bf16 (A and B rounded to bfloat16 with round to nearest even,
 * products and sums in float32; only the native backend on a CPU with AVX512_BF16 has it).
 */
export const PRECISIONS = ['fp32', 'bf16'] as const;
export type Precision = (typeof PRECISIONS)[number];

export const UNARY_OPS = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'relu', 'gelu', 'silu',
  'abs', 'square', 'recip', 'sin', 'cos', 'step'] as const;
/** Element-wise y = f(x). `gelu` is the tanh approximation (GPT-2); `step` is x > 0 ? 1 : 0. */
export type UnaryOp = (typeof UNARY_OPS)[number];
/** The activations `biasActivation` fuses. */
export type BiasActivation = Extract<UnaryOp, 'tanh' | 'sigmoid' | 'relu' | 'gelu' | 'silu'>;

export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'max', 'min', 'pow', 'gt', 'lt', 'eq',
  'relu_bwd', 'gelu_bwd', 'silu_bwd', 'tanh_bwd', 'sigmoid_bwd'] as const;
/**
 * Element-wise z = f(a, b) with broadcasting. `gt/lt/eq` give 1 or 0. The `*_bwd` ops are fused
 * first-order gradients: relu_bwd(x, dy) = dy * (x > 0); gelu_bwd(x, dy) = dy * gelu'(x);
 * silu_bwd(x, dy) = dy * silu'(x); tanh_bwd(y, dy) = dy * (1 - y^2) with y = tanh(x);
 * sigmoid_bwd(y, dy) = dy * y * (1 - y) with y = sigmoid(x).
 */
export type BinaryOp = (typeof BINARY_OPS)[number];

export const REDUCE_OPS = ['sum', 'max'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

/**
 * Batched strided GEMM: for i in [0, batch): C_i = alpha * op(A_i) @ op(B_i) + beta * C_i, where
 * X_i starts at element i * strideX of array x, op(A_i) is (m, k), op(B_i) is (k, n), C_i is (m, n).
 * lda/ldb/ldc are the row strides of the stored (untransposed) matrices, as in CBLAS row-major.
 * A stride of 0 reuses one matrix for every batch item (e.g. shared weights).
 * When beta is 0, C is not read (NaN in C does not propagate).
 */
export interface GemmArgs {
  transA: boolean; transB: boolean;
  m: number; n: number; k: number;
  alpha: number; beta: number;
  a: Float32Array; lda: number; strideA: number;
  b: Float32Array; ldb: number; strideB: number;
  c: Float32Array; ldc: number; strideC: number;
  batch: number;
}

/**
 * Grouped GEMM (CUTLASS's grouped GEMM; MegaBlocks' experts): problems of different sizes in one
 * call. For each problem i in [0, m.length): C_i = alpha op(A_i) op(B_i) + beta[i] C_i, where op(A_i)
 * is (m[i], k[i]), op(B_i) is (k[i], n), C_i is (m[i], n), and X_i starts at element offX[i] of x
 * (row strides lda, ldb, ldc shared). A problem with m[i] = 0 does nothing; k[i] = 0 gives
 * C_i = beta[i] C_i. Problems run in order, so a later one may accumulate (beta 1) into an earlier
 * one's C; consecutive problems with the same B (offB and k) may share one packing of it, so among
 * them a later one must not overwrite (beta 0) a C an earlier one wrote. No C overlaps an A or a B.
 */
export interface GroupedGemmArgs {
  transA: boolean; transB: boolean;
  n: number; alpha: number;
  a: Float32Array; lda: number;
  b: Float32Array; ldb: number;
  c: Float32Array; ldc: number;
  m: Int32Array; k: Int32Array; beta: Float32Array;
  offA: Int32Array; offB: Int32Array; offC: Int32Array;
}

/**
 * How long the tensors allocated now live: 'model' for weights and optimizer state (the whole run),
 * 'step' for activations and gradients (one step, then back to the pool).
 */
export type Lifetime = 'model' | 'step';

/** Tensor bytes of a backend, size-class rounded; peaks since the last resetPeak. */
export interface MemoryUse {
  /** Tensor bytes live now (wasm heap + host memory). */
  liveBytes: number;
  peakBytes: number;
  /** Peak bytes of the wasm staging window (host arrays copied in for one kernel). */
  stagingPeakBytes: number;
  /** Tensor bytes live now in the wasm heap and in host memory. */
  heapBytes: number;
  hostBytes: number;
  /** Bytes the process holds for tensors: heap memory plus every host block made. */
  reservedBytes: number;
}

export interface Backend {
  readonly name: BackendName;
  /** Allocates n float32 values, zero-filled, addressable by this backend's kernels. */
  alloc(n: number): Float32Array;
  /**
   * Optional: like alloc but the contents are unspecified (no zero-fill), for outputs that a kernel
   * overwrites completely. Reused blocks then cost nothing to hand out. Use `be.allocEmpty?.(n) ?? be.alloc(n)`.
   */
  allocEmpty?(n: number): Float32Array;
  /** Returns memory from alloc; the array must not be used afterwards. Freeing is optional. */
  free(a: Float32Array): void;
  /**
   * Optional: sets the lifetime of the tensors allocated from now on and returns the previous one.
   * A backend with a small fast memory (the wasm heap) keeps room there for step tensors.
   */
  setLifetime?(l: Lifetime): Lifetime;
  /** Optional: tensor memory in use and at peak (memory accounting). */
  memoryUse?(): MemoryUse;
  /** Optional: starts a new peak (e.g. per training step). */
  resetPeak?(): void;
  /** Optional: gives pooled free memory back to the system (before a phase that needs room, e.g. a run's final export). */
  trim?(): void;

  gemm(args: GemmArgs): void;
  /** Optional: a grouped GEMM in one call (see GroupedGemmArgs); `gemmGrouped` in grouped-gemm.ts falls back to gemm per problem. */
  gemmGrouped?(args: GroupedGemmArgs): void;

  unary(op: UnaryOp, x: Float32Array, out: Float32Array): void;
  /**
   * Optional fused Linear epilogue: out[r, j] = act(x[r, j] + bias[j]) for x (rows, n), bias (n);
   * act is one of tanh, sigmoid, relu, gelu, silu, or null for the bias alone. Equals binary('add')
   * then unary(act) in one pass over memory.
   */
  biasActivation?(x: Float32Array, bias: Float32Array, rows: number, n: number, act: BiasActivation | null,
    out: Float32Array): void;
  /**
   * out[idx] = f(a[idx . aStrides], b[idx . bStrides]) for every index idx of `shape`
   * (strides in elements; 0 broadcasts). out is contiguous with `shape`. At most 6 dims.
   */
  binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array,
    bStrides: readonly number[], out: Float32Array, shape: readonly number[]): void;
  /** out = alpha * x + beta, element-wise. */
  affine(x: Float32Array, alpha: number, beta: number, out: Float32Array): void;
  /** out = x ** p, element-wise (x >= 0 unless p is an integer). */
  powScalar(x: Float32Array, p: number, out: Float32Array): void;
  fill(out: Float32Array, value: number): void;

  /** Views x as (outer, n, inner) and reduces the middle axis into out (outer, inner). */
  reduce(op: ReduceOp, x: Float32Array, outer: number, n: number, inner: number, out: Float32Array): void;
  /** Sum of x[i]^2 in float64 (gradient-norm clipping). */
  sumSquares(x: Float32Array): number;

  /** Row-wise softmax of x (rows, n). */
  softmax(x: Float32Array, rows: number, n: number, out: Float32Array): void;
  /** Row-wise log-softmax of x (rows, n). */
  logSoftmax(x: Float32Array, rows: number, n: number, out: Float32Array): void;
  /** dx = y * (dy - sum(dy * y)) per row, with y = softmax(x). */
  softmaxBackward(y: Float32Array, dy: Float32Array, rows: number, n: number, dx: Float32Array): void;
  /**
   * Causal softmax of x (rows, t): row r is query position i = r mod t, which sees keys 0..i:
   * out[r, j] = softmax(x[r, 0..i])_j for j <= i and 0 for j > i (x[r, j > i] is not read).
   * out may be x.
   */
  causalSoftmax(x: Float32Array, rows: number, t: number, out: Float32Array): void;
  /**
   * dx[r, j] = scale * y (dy - sum_{k <= i} y dy) for j <= i, 0 for j > i, with y = causalSoftmax(x)
   * and i = r mod t (the scale of the scores folded in). dx may be dy.
   */
  causalSoftmaxBackward(y: Float32Array, dy: Float32Array, rows: number, t: number, scale: number, dx: Float32Array): void;
  /**
   * Rotary position embedding (Su et al. 2021, RoFormer; GPT-NeoX's half-split pairs) on the query
   * and key blocks of qkv rows (rows, H*3*D), columns (H, 3, D): row r is position p = start + r mod t,
   * and for i < D/2 the pair (x_i, x_{i+D/2}) of its q and k turns by p * theta_i:
   * out_i = x_i cos - x_{i+D/2} sin, out_{i+D/2} = x_{i+D/2} cos + x_i sin (sin negated when
   * `inverse`: the gradient). Value blocks are copied. cos, sin: (positions, D/2) tables. out may be x.
   */
  rope(x: Float32Array, rows: number, t: number, start: number, heads: number, d: number, cos: Float32Array,
    sin: Float32Array, inverse: boolean, out: Float32Array): void;
  /** dx = dy - exp(y) * sum(dy) per row, with y = logSoftmax(x). */
  logSoftmaxBackward(y: Float32Array, dy: Float32Array, rows: number, n: number, dx: Float32Array): void;

  /**
   * Fused softmax cross-entropy forward. logits (rows, n); targets[r] in [0, n) or -1 (ignored
   * row: loss 0). Writes loss[r] = -log softmax(logits[r])[targets[r]] and probs = softmax(logits).
   */
  crossEntropyForward(logits: Float32Array, targets: Int32Array, rows: number, n: number,
    loss: Float32Array, probs: Float32Array): void;
  /** dlogits[r] = scale * (probs[r] - onehot(targets[r])); rows with target -1 get 0. */
  crossEntropyBackward(probs: Float32Array, targets: Int32Array, rows: number, n: number, scale: number,
    dlogits: Float32Array): void;

  /** y = x * rstd * w per row, rstd[r] = 1 / sqrt(mean(x[r]^2) + eps). x (rows, n), w (n). */
  rmsnormForward(x: Float32Array, w: Float32Array, rows: number, n: number, eps: number,
    y: Float32Array, rstd: Float32Array): void;
  /** dx (written) and dw (accumulated: dw += ...) for rmsnormForward. */
  rmsnormBackward(x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, rows: number,
    n: number, dx: Float32Array, dw: Float32Array): void;

  /** out[r] = src[idx[r]] for rows of length n. */
  gatherRows(src: Float32Array, idx: Int32Array, n: number, out: Float32Array): void;
  /** dst[idx[r]] += src[r] for rows of length n (accumulates; repeated indices add up). */
  scatterAddRows(dst: Float32Array, idx: Int32Array, n: number, src: Float32Array): void;

  /** out = x permuted: out has shape perm.map(p => shape[p]). At most 6 dims. */
  permute(x: Float32Array, shape: readonly number[], perm: readonly number[], out: Float32Array): void;

  /**
   * One AdamW step in place (Loshchilov & Hutter): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
   * p -= lr * (m / bc1 / (sqrt(v / bc2) + eps) + wd * p), where bc1 = 1 - b1^t, bc2 = 1 - b2^t.
   */
  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, b1: number,
    b2: number, eps: number, wd: number, bc1: number, bc2: number): void;
}
