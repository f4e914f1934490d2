// Chooses and creates kernel backends: 'auto' takes native where its generated code passes its self-test, else blas when a CBLAS library is present, else wasm.
import { availableParallelism, totalmem } from 'node:os';
import { BACKEND_NAMES, type Backend, type BackendName, type Precision } from './backend.js';
import { setBackend } from '../tensor/engine.js';
import { CheckError, InputError, errorMessage } from '../util/errors.js';
import { JsBackend } from './js.js';
import { WasmBackend, heapLimit } from './wasm.js';
import { BlasBackend } from './blas.js';
import { loadCblas } from './cblas.js';
import { NativeBackend, probeNative } from './native.js';
import type { Isa } from './native-gemm.js';
import { kernelModule, relaxedSimd } from './wasm-module.js';

export interface BackendOptions {
  /** Threads for one GEMM: wasm and native start workers on their shared memory, blas sets OPENBLAS_NUM_THREADS
   * (read once, when the library first loads). Default 1: one thread per rank. */
  threads?: number;
  /** Allow the relaxed-SIMD (FMA) wasm build when the runtime supports it. Default true. */
  relaxed?: boolean;
  /** GEMM input precision (default fp32); bf16 only on native with AVX512_BF16, refused elsewhere. */
  precision?: Precision;
  /** native only: generate code for this ISA instead of the widest the CPU has (avx2 on an AVX-512 CPU, to test it). */
  isa?: Isa;
  /** Tensor bytes the wasm heap holds before host memory is used (wasm, blas, native). Default heapLimit(). */
  heapLimit?: number;
}

export interface BackendProbe {
  name: BackendName;
  available: boolean;
  reason?: string;
  /** True for the backend that 'auto' picks. */
  chosen: boolean;
  /** What it runs on (library path, SIMD flavour). */
  detail?: string;
  /** Where its tensors live and what bounds them (bytes: the bound, this machine's memory). */
  memory?: { limitBytes: number; text: string };
}

/** Where a backend keeps tensors: plain memory (js), or the wasm heap up to its limit and host memory beyond. */
export function memoryOf(name: BackendName): NonNullable<BackendProbe['memory']> {
  const machine = totalmem(), gb = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`;
  if (name === 'js') return { limitBytes: machine, text: `ordinary arrays, bound by this machine's ${gb(machine)}` };
  const gemm = name === 'wasm' ? 'kernels stream host arrays through the heap' : 'GEMM in place on host arrays, other kernels stream them through the heap';
  return { limitBytes: machine, text: `wasm heap up to ${gb(heapLimit())} per rank, then host memory up to this machine's ${gb(machine)}; ${gemm}` };
}

function wasmProbe(): { ok: true } | { ok: false; reason: string } {
  try {
    kernelModule(true);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/**
 * GEMM threads per rank so that ranks x threads = cores: with several ranks (the parallel runtime)
 * each rank keeps one thread, since independent GEMMs need no synchronisation and pack nothing twice;
 * a single process splits each GEMM over every core (see `furnace bench kernels`, rows mode split/ranks).
 */
export function defaultThreads(ranksOnThisMachine: number): number {
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, ranksOnThisMachine)));
}

/** Which backends can run here, why not, and which one 'auto' chooses. */
export async function probeBackends(): Promise<BackendProbe[]> {
  const w = wasmProbe();
  const b = loadCblas();
  const simd = relaxedSimd().enabled ? 'SIMD + relaxed-SIMD FMA' : 'SIMD (no relaxed SIMD)';
  const blasOk = w.ok && b.ok;
  const rows: BackendProbe[] = [{ name: 'js', available: true, chosen: false, detail: 'reference loops' }];
  const nat = probeNative();
  const nativeOk = w.ok && nat.ok;
  rows.push(w.ok ? { name: 'wasm', available: true, chosen: !blasOk && !nativeOk, detail: `AssemblyScript, ${simd}` }
    : { name: 'wasm', available: false, chosen: false, reason: w.reason });
  if (!b.ok) rows.push({ name: 'blas', available: false, chosen: false, reason: b.reason });
  else if (!w.ok) rows.push({ name: 'blas', available: false, chosen: false, reason: `needs the wasm kernels: ${w.reason}` });
  else rows.push({ name: 'blas', available: true, chosen: !nativeOk, detail: `${b.cblas.path}${b.cblas.config ? ` (${b.cblas.config.trim()})` : ''}` });
  if (!w.ok) rows.push({ name: 'native', available: false, chosen: false, reason: `needs the wasm kernels: ${w.reason}` });
  else if (!nat.ok) rows.push({ name: 'native', available: false, chosen: false, reason: nat.reason });
  else {
    const { kc, mc, nc } = nat.blocks;
    rows.push({ name: 'native', available: true, chosen: true, detail: `generated ${nat.isa} GEMM, tile ${nat.tile}, ` +
      `blocks KC ${kc} MC ${mc} NC ${nc} (L1d ${nat.caches.l1d >> 10} KiB, L2 ${nat.caches.l2 >> 10} KiB${nat.caches.basis.includes('assumed') ? ', assumed' : ''}); ` +
      `bf16 GEMM ${nat.bf16.ok ? 'yes (vdpbf16ps)' : `no: ${nat.bf16.reason}`}` });
  }
  if (!w.ok) rows[0]!.chosen = true;
  for (const r of rows) if (r.available) r.memory = memoryOf(r.name);
  return rows;
}

/**
 * Refuses a precision the backend cannot run: bf16 on a backend other than native (or auto) is bad
 * input (InputError); bf16 where the CPU or the native code has no bf16 GEMM is a failed check. `what`
 * names the setting in the message.
 */
export function checkPrecision(backend: BackendName | 'auto', precision: Precision, what: string): void {
  if (precision === 'fp32') return;
  if (backend !== 'native' && backend !== 'auto') throw new InputError(`${what}: ${precision} needs --backend native or auto, not ${backend}`);
  const p = probeNative();
  if (!p.ok) throw new CheckError(`${what}: ${precision} needs the native backend, which is not available here: ${p.reason}`);
  if (!p.bf16.ok) throw new CheckError(`${what}: ${precision} is not available here: ${p.bf16.reason}`);
}

/** Creates a backend by name; 'auto' is native when available (always for precision bf16), else blas, else wasm, else js. Throws with the reason. */
export async function createBackend(name: BackendName | 'auto', opts: BackendOptions = {}): Promise<Backend> {
  if (name === 'auto' && (opts.precision ?? 'fp32') !== 'fp32') return createBackend('native', opts);
  if (name === 'auto') {
    const chosen = (await probeBackends()).find((p) => p.chosen)!;
    return createBackend(chosen.name, opts);
  }
  const relaxed = opts.relaxed ?? true;
  if ((opts.precision ?? 'fp32') !== 'fp32' && name !== 'native') {
    throw new Error(`backend '${name}' has no ${opts.precision} GEMM (bf16 needs backend native on a CPU with AVX512_BF16)`);
  }
  const limit = opts.heapLimit !== undefined ? { heapLimit: opts.heapLimit } : {};
  switch (name) {
    case 'js': return new JsBackend();
    case 'wasm': {
      const be = new WasmBackend({ relaxed, threads: opts.threads ?? 1, ...limit });
      await be.ready;
      return be;
    }
    case 'blas': {
      const b = loadCblas(opts.threads ?? 1);
      if (!b.ok) throw new Error(`backend 'blas' is not available: ${b.reason}`);
      if (opts.threads !== undefined) b.cblas.setThreads?.(opts.threads);
      return new BlasBackend(b.cblas, { relaxed, ...limit });
    }
    case 'native': {
      const be = new NativeBackend({ relaxed, threads: opts.threads ?? 1, precision: opts.precision ?? 'fp32', ...(opts.isa !== undefined ? { isa: opts.isa } : {}), ...limit });
      await be.ready;
      return be;
    }
  }
}

/** Reads a `--backend` value: auto or one of BACKEND_NAMES; anything else is bad input. */
export function checkBackendName(flag: string | undefined): BackendName | 'auto' {
  const name = flag ?? 'auto';
  if (name === 'auto') return name;
  const known = BACKEND_NAMES.find((b) => b === name);
  if (known === undefined) throw new InputError(`--backend: unknown backend '${name}' (choose auto, ${BACKEND_NAMES.join(', ')})`);
  return known;
}

/**
 * Creates the backend `--backend` names and installs it for this process (or rank) before any
 * tensor is made; ranksOnThisMachine sets the GEMM threads per rank. A backend that cannot start
 * here is a failed check (exit 1) naming the flag.
 */
export async function installBackend(flag: string | undefined, ranksOnThisMachine = 1, precision: Precision = 'fp32'): Promise<Backend> {
  const name = checkBackendName(flag);
  let b: Backend;
  try {
    b = await createBackend(name, { threads: defaultThreads(ranksOnThisMachine), precision });
  } catch (e) {
    throw new CheckError(`--backend: ${errorMessage(e)}`);
  }
  setBackend(b);
  return b;
}
