// Loads the AssemblyScript kernel module: relaxed-SIMD detection, shared memory, typed exports.
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { wasm, type WasmMemory, type WasmModule } from './wasm-api.js';

/** The kernels exported by assembly/kernels.entry.ts. Pointers are byte offsets into the memory. */
export interface KernelExports {
  heapBase(): number;
  gemmScratchFloats(): number;
  gemm(transA: number, transB: number, m: number, n: number, k: number, alpha: number, beta: number,
    a: number, lda: number, strideA: number, b: number, ldb: number, strideB: number,
    c: number, ldc: number, strideC: number, batch: number, scratch: number): void;
  unary(op: number, x: number, out: number, n: number): void;
  biasActivation(act: number, x: number, bias: number, rows: number, n: number, out: number): void;
  binary(op: number, a: number, b: number, out: number, meta: number): void;
  affine(x: number, alpha: number, beta: number, out: number, n: number): void;
  powScalar(x: number, p: number, out: number, n: number): void;
  fill(out: number, value: number, n: number): void;
  reduce(op: number, x: number, outer: number, n: number, inner: number, out: number): void;
  sumSquares(x: number, n: number): number;
  softmax(x: number, rows: number, n: number, out: number): void;
  logSoftmax(x: number, rows: number, n: number, out: number): void;
  softmaxBackward(y: number, dy: number, rows: number, n: number, dx: number): void;
  causalSoftmax(x: number, rows: number, t: number, out: number): void;
  causalSoftmaxBackward(y: number, dy: number, rows: number, t: number, scale: number, dx: number): void;
  rope(x: number, rows: number, t: number, start: number, heads: number, d: number, cos: number, sin: number,
    inverse: number, out: number): void;
  logSoftmaxBackward(y: number, dy: number, rows: number, n: number, dx: number): void;
  crossEntropyForward(logits: number, targets: number, rows: number, n: number, loss: number, probs: number): void;
  crossEntropyBackward(probs: number, targets: number, rows: number, n: number, scale: number, dlogits: number): void;
  rmsnormForward(x: number, w: number, rows: number, n: number, eps: number, y: number, rstd: number): void;
  rmsnormBackward(x: number, w: number, rstd: number, dy: number, rows: number, n: number, dx: number, dw: number): void;
  gatherRows(src: number, idx: number, count: number, n: number, out: number): void;
  scatterAddRows(dst: number, idx: number, count: number, n: number, src: number): void;
  permute(x: number, out: number, meta: number): void;
  adamw(p: number, g: number, m: number, v: number, n: number, lr: number, b1: number, b2: number, eps: number,
    wd: number, bc1: number, bc2: number): void;
}

const KERNEL_NAMES: readonly (keyof KernelExports)[] = ['heapBase', 'gemmScratchFloats', 'gemm', 'unary', 'biasActivation', 'binary',
  'affine', 'powScalar', 'fill', 'reduce', 'sumSquares', 'softmax', 'logSoftmax', 'softmaxBackward', 'causalSoftmax', 'causalSoftmaxBackward', 'rope',
  'logSoftmaxBackward', 'crossEntropyForward', 'crossEntropyBackward', 'rmsnormForward', 'rmsnormBackward',
  'gatherRows', 'scatterAddRows', 'permute', 'adamw'];

/** The smallest module using f32x4.relaxed_madd: valid only where the runtime has relaxed SIMD. */
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0,
  10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11]);

export interface RelaxedSimdStatus {
  enabled: boolean;
  /** 'native': the runtime has it; 'flag': enabled via --experimental-wasm-relaxed-simd at start;
   * 'disabled': FURNACE_WASM_RELAXED=0; 'unsupported': this runtime cannot. */
  how: 'native' | 'flag' | 'disabled' | 'unsupported';
}

let relaxedStatus: RelaxedSimdStatus | undefined;

/**
 * Detects relaxed SIMD once per process. Node 20 ships it behind --experimental-wasm-relaxed-simd;
 * V8 accepts that flag at run time as long as no module using it was compiled before.
 */
export function relaxedSimd(): RelaxedSimdStatus {
  if (relaxedStatus !== undefined) return relaxedStatus;
  if (process.env['FURNACE_WASM_RELAXED'] === '0') relaxedStatus = { enabled: false, how: 'disabled' };
  else if (wasm.validate(RELAXED_PROBE)) relaxedStatus = { enabled: true, how: 'native' };
  else {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    relaxedStatus = wasm.validate(RELAXED_PROBE) ? { enabled: true, how: 'flag' } : { enabled: false, how: 'unsupported' };
  }
  return relaxedStatus;
}

export function wasmPath(name: string, relaxed: boolean): string {
  return fileURLToPath(new URL(`../wasm/${name}${relaxed ? '.relaxed' : ''}.wasm`, import.meta.url));
}

const modules = new Map<string, WasmModule>();

/** The compiled kernel module (relaxed build when asked and supported, plain SIMD otherwise). */
export function kernelModule(relaxed: boolean): WasmModule {
  const useRelaxed = relaxed && relaxedSimd().enabled;
  const path = wasmPath('kernels', useRelaxed);
  let mod = modules.get(path);
  if (mod === undefined) {
    if (!existsSync(path)) throw new Error(`wasm kernels not built: ${path} is missing (run npm run build)`);
    mod = new wasm.Module(readFileSync(path));
    modules.set(path, mod);
  }
  return mod;
}

/** Shared memory (SharedArrayBuffer-backed: views stay valid across grow, workers can share it). */
export function sharedMemory(initialPages = 32): WasmMemory {
  return new wasm.Memory({ initial: initialPages, maximum: 65536, shared: true });
}

/** Instantiates the module on `memory` and checks that every kernel is exported as a function. */
export function instantiate(mod: WasmModule, memory: WasmMemory): KernelExports {
  const inst = new wasm.Instance(mod, { env: { memory } });
  const ex = inst.exports;
  const out: Partial<Record<keyof KernelExports, unknown>> = {};
  for (const name of KERNEL_NAMES) {
    const f = ex[name];
    if (typeof f !== 'function') throw new Error(`wasm kernels: export '${name}' is missing`);
    out[name] = f;
  }
  return out as KernelExports;
}
