// Grouped GEMM for any backend: its own gemmGrouped kernel where it has one, else one gemm per problem.
import type { Backend, GemmArgs, GroupedGemmArgs } from './backend.js';

/** Throws a RangeError naming the first problem whose arrays or sizes do not fit. */
export function checkGrouped(g: GroupedGemmArgs): void {
  const count = g.m.length;
  for (const [name, arr] of [['k', g.k], ['beta', g.beta], ['offA', g.offA], ['offB', g.offB], ['offC', g.offC]] as const) {
    if (arr.length !== count) throw new RangeError(`gemmGrouped: ${name} has ${arr.length} entries for ${count} problems`);
  }
  if (!Number.isInteger(g.n) || g.n < 0) throw new RangeError(`gemmGrouped: n ${g.n}`);
  for (let i = 0; i < count; i++) {
    const m = g.m[i]!, k = g.k[i]!;
    if (m < 0 || k < 0) throw new RangeError(`gemmGrouped: problem ${i} has m ${m}, k ${k}`);
    if (m === 0 || g.n === 0) continue;
    const [ar, ac] = g.transA ? [k, m] : [m, k];
    const [br, bc] = g.transB ? [g.n, k] : [k, g.n];
    const need = (what: string, len: number, off: number, rows: number, cols: number, ld: number): void => {
      if (rows === 0 || cols === 0) return;
      if (ld < cols && rows > 1) throw new RangeError(`gemmGrouped: problem ${i}: ld${what} ${ld} < ${cols} columns`);
      if (off < 0 || off + (rows - 1) * ld + cols > len) throw new RangeError(`gemmGrouped: problem ${i}: ${what} needs ${off + (rows - 1) * ld + cols} elements, has ${len}`);
    };
    need('a', g.a.length, g.offA[i]!, ar, ac, g.lda);
    need('b', g.b.length, g.offB[i]!, br, bc, g.ldb);
    need('c', g.c.length, g.offC[i]!, m, g.n, g.ldc);
  }
}

/** Problem i of a grouped GEMM as a plain GemmArgs (views from its offsets). */
export function groupedProblem(g: GroupedGemmArgs, i: number): GemmArgs {
  return { transA: g.transA, transB: g.transB, m: g.m[i]!, n: g.n, k: g.k[i]!, alpha: g.alpha, beta: g.beta[i]!,
    a: g.a.subarray(g.offA[i]!), lda: g.lda, strideA: 0, b: g.b.subarray(g.offB[i]!), ldb: g.ldb, strideB: 0,
    c: g.c.subarray(g.offC[i]!), ldc: g.ldc, strideC: 0, batch: 1 };
}

/** Runs a grouped GEMM on `be`: its gemmGrouped, else gemm per problem in order (problems with m[i] = 0 skipped). */
export function gemmGrouped(be: Backend, g: GroupedGemmArgs): void {
  if (be.gemmGrouped !== undefined) {
    be.gemmGrouped(g);
    return;
  }
  checkGrouped(g);
  for (let i = 0; i < g.m.length; i++) if (g.m[i]! > 0 && g.n > 0) be.gemm(groupedProblem(g, i));
}
