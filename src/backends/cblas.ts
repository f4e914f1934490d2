// Finds and binds a CBLAS library (OpenBLAS preferred) through the koffi FFI; absence is a stated reason.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { errorMessage } from '../util/errors.js';

/** cblas_sgemm, row-major, as CBLAS declares it. Float32Arrays are passed by address (no copy). */
export type Sgemm = (transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number) => void;

export interface Cblas {
  /** The library file that was loaded. */
  path: string;
  /** openblas_get_config() when the library is OpenBLAS. */
  config: string | undefined;
  threads: number;
  sgemm: Sgemm;
  /** openblas_set_num_threads, when the library has it. */
  setThreads: ((n: number) => void) | undefined;
}

export type CblasProbe = { ok: true; cblas: Cblas } | { ok: false; reason: string };

const CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112;

/** Library names tried in order; FURNACE_BLAS_LIB (a path or soname) goes first when set ('none': no BLAS). */
export function candidates(): string[] {
  const env = process.env['FURNACE_BLAS_LIB'];
  const names = ['libopenblas.so.0', 'libopenblas.so', '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0',
    '/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0', 'libcblas.so.3', 'libcblas.so',
    'libopenblas.dylib', '/opt/homebrew/opt/openblas/lib/libopenblas.dylib', '/usr/local/opt/openblas/lib/libopenblas.dylib'];
  return env !== undefined && env !== '' ? [env, ...names] : names;
}

interface KoffiLib { func(definition: string): (...args: unknown[]) => unknown }
interface Koffi { load(path: string): KoffiLib }

let probed: CblasProbe | undefined;

/**
 * Loads CBLAS once per process with `threads` OpenBLAS threads (OPENBLAS_NUM_THREADS is read when the
 * library loads: set before, or its idle threads spin on the other cores).
 */
export function loadCblas(threads = 1): CblasProbe {
  if (probed !== undefined) return probed;
  if (process.env['FURNACE_BLAS_LIB'] === 'none') return (probed = { ok: false, reason: 'disabled by FURNACE_BLAS_LIB=none' });
  process.env['OPENBLAS_NUM_THREADS'] ??= String(threads);
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    return (probed = { ok: false, reason: `koffi FFI not loadable: ${errorMessage(e).split('\n')[0]}` });
  }
  const tried: string[] = [];
  for (const name of candidates()) {
    if (name.startsWith('/') && !existsSync(name)) continue;
    let lib: KoffiLib;
    try {
      lib = koffi.load(name);
    } catch {
      tried.push(name);
      continue;
    }
    let raw: (...args: unknown[]) => unknown;
    try {
      raw = lib.func('void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, ' +
        'const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)');
    } catch {
      tried.push(`${name} (no cblas_sgemm)`);
      continue;
    }
    let config: string | undefined;
    let setThreads: ((n: number) => void) | undefined;
    let nThreads = Number(process.env['OPENBLAS_NUM_THREADS']);
    try {
      config = String(lib.func('const char *openblas_get_config()')());
      nThreads = Number(lib.func('int openblas_get_num_threads()')());
      const set = lib.func('void openblas_set_num_threads(int n)');
      setThreads = (n) => { set(n); };
    } catch {
      config = undefined;
    }
    const sgemm: Sgemm = (tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
      raw(CBLAS_ROW_MAJOR, tA ? CBLAS_TRANS : CBLAS_NO_TRANS, tB ? CBLAS_TRANS : CBLAS_NO_TRANS, m, n, k, alpha,
        a, lda, b, ldb, beta, c, ldc);
    };
    return (probed = { ok: true, cblas: { path: name, config, threads: nThreads, sgemm, setThreads } });
  }
  return (probed = { ok: false, reason: `no CBLAS library found (tried ${tried.join(', ') || 'nothing'}); ` +
    'install OpenBLAS, e.g. apt-get install libopenblas0-pthread' });
}
