// `furnace doctor`: which kernel backends run here, which one 'auto' picks, and why another does not.
import { availableParallelism } from 'node:os';
import { Output } from '../../util/output.js';
import { parse, type Command } from '../util.js';
import { defaultThreads, probeBackends } from '../../backends/index.js';
import { relaxedSimd } from '../../backends/wasm-module.js';
import { loadCblas } from '../../backends/cblas.js';
import { measurePeak } from '../../backends/peak.js';

export const run: Command = async (argv) => {
  const { values } = parse(argv, { json: { type: 'boolean', default: false } });
  const out = new Output(values.json === true);
  const backends = await probeBackends();
  const rs = relaxedSimd();
  const cb = loadCblas();
  const peak = measurePeak();
  const threads = {
    cores: availableParallelism(),
    openblas: cb.ok ? cb.cblas.threads : null,
    openblas_num_threads_env: process.env['OPENBLAS_NUM_THREADS'] ?? null,
    gemm_threads_one_process: defaultThreads(1),
  };
  out.say('kernel backends:');
  for (const b of backends) {
    const status = b.available ? (b.chosen ? 'available, chosen by auto' : 'available') : 'unavailable';
    out.say(`  ${b.name.padEnd(6)} ${status}${b.detail ? ` -- ${b.detail}` : ''}${b.reason ? ` -- ${b.reason}` : ''}`);
    if (b.memory !== undefined) out.say(`         memory: ${b.memory.text}`);
  }
  const relaxedLine = rs.enabled ? `on (${rs.how === 'native' ? 'runtime default' : 'enabled with --experimental-wasm-relaxed-simd'})`
    : `off (${rs.how === 'disabled' ? 'FURNACE_WASM_RELAXED=0' : 'runtime lacks it'}): plain SIMD build, mul + add instead of FMA`;
  out.say(`relaxed SIMD: ${relaxedLine}`);
  out.say(`threads: ${threads.cores} cores; GEMM threads per rank = cores / ranks on this machine ` +
    `(${threads.gemm_threads_one_process} for one process); OpenBLAS threads now ${threads.openblas ?? '-'}`);
  out.say(`float32 peak: ${peak.basis} = ${(peak.totalFlops / 1e9).toFixed(0)} GFLOP/s` +
    ` (128-bit SIMD, the WebAssembly limit: ${(peak.perCoreSimd128Flops / 1e9).toFixed(0)} per core)`);
  out.result({
    backends,
    relaxed_simd: { enabled: rs.enabled, how: rs.how },
    threads,
    peak_flops_estimate: peak.totalFlops,
    peak_simd128_flops_per_core: peak.perCoreSimd128Flops,
    peak_measured: peak.measured,
    peak_basis: peak.basis,
  });
  return 0;
};
