// Shared pieces of `furnace bench kernels`: timings, tfjs-backend-wasm loading, seeded fill.
import { createRequire, register } from 'node:module';
import { dirname, join } from 'node:path';
import { errorMessage } from '../util/errors.js';

export interface Timing {
  /** Best wall time of one run, seconds. */
  best: number;
  /** Mean process CPU time of one run, seconds: robust to time slicing when other processes share
   * the cores (not to cache pollution); equals wall time on an idle machine for one thread. */
  cpu: number;
}

/** Median of a list of seconds. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
}

/** Fills with uniform values in [-scale, scale) from a fixed-seed LCG (benchmarks need no quality RNG). */
export function fillUniform(a: Float32Array, seed: number, scale = 1): void {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296 * 2 - 1) * scale;
  }
}

/** The slice of tfjs-core the benchmarks use. */
export type Tf = typeof import('@tensorflow/tfjs-core');

export type TfjsProbe = { ok: true; tf: Tf; simd: boolean } | { ok: false; reason: string };

let tfjs: Promise<TfjsProbe> | undefined;

/**
 * tfjs-core registers gradients in a separate module (dist/register_all_gradients.js) that exists
 * only as ESM with extension-less imports, which Node's ESM loader refuses; a resolve hook adds
 * '.js' for those. Its registry is global, so the CommonJS build (main) sees the gradients.
 */
async function registerTfjsGradients(): Promise<void> {
  const hook = 'export async function resolve(s, c, next) { try { return await next(s, c); } catch (e) { ' +
    "if (/^\\.\\.?\\//.test(s) && !s.endsWith('.js') && c.parentURL?.includes('/@tensorflow/')) return next(s + '.js', c); throw e; } }";
  register('data:text/javascript,' + encodeURIComponent(hook));
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
}

/**
 * tfjs-core with the tfjs-backend-wasm backend, single-threaded, its .wasm files read from the
 * installed package (no network). Absent packages give a reason instead of a failure.
 */
export function loadTfjsWasm(): Promise<TfjsProbe> {
  tfjs ??= (async (): Promise<TfjsProbe> => {
    try {
      const tf = await import('@tensorflow/tfjs-core');
      await registerTfjsGradients();
      const wasmBackend = await import('@tensorflow/tfjs-backend-wasm');
      const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
      wasmBackend.setWasmPaths(join(dirname(pkg), 'dist') + '/');
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      if (!(await tf.setBackend('wasm'))) return { ok: false, reason: 'tfjs could not initialise its wasm backend' };
      await tf.ready();
      return { ok: true, tf, simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') };
    } catch (e) {
      return { ok: false, reason: `@tensorflow/tfjs-core + tfjs-backend-wasm not loadable: ${errorMessage(e).split('\n')[0]}` };
    }
  })();
  return tfjs;
}
