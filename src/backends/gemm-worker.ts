// A GEMM worker thread: runs its part of a split GEMM on the shared wasm memory (see gemm-pool.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { WasmMemory, WasmModule } from './wasm-api.js';
import { instantiate } from './wasm-module.js';
import { serveParts } from './gemm-pool.js';

interface GemmWorkerData { mod: WasmModule; memory: WasmMemory; ctrl: number; scratch: number }

const data = workerData as GemmWorkerData;
const k = instantiate(data.mod, data.memory);
parentPort?.postMessage('online');
serveParts(data.memory, data.ctrl, 'gemm worker', (args) => {
  const a = (j: number): number => args[j]!;
  k.gemm(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14), a(15), a(16), data.scratch);
});
