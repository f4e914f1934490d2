// A native GEMM worker thread: generates its own kernels and runs its part of a split GEMM (see native-pool.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { WasmMemory } from './wasm-api.js';
import type { Precision } from './backend.js';
import { serveParts } from './gemm-pool.js';
import { nativeCode, probeNative, type NativeCode } from './native-probe.js';
import { runNative } from './native-run.js';
import type { Isa } from './native-gemm.js';
import { partArgs } from './native-pool.js';

interface NativeWorkerData { memory: WasmMemory; ctrl: number; scratch: number; scratchFloats: number; precision: Precision; isa: Isa | undefined }

const data = workerData as NativeWorkerData;
const probe = probeNative();
let code: NativeCode | string;
try {
  code = nativeCode(data.isa);
} catch (e) {
  code = (e as Error).message;
}
if (!probe.ok || typeof code === 'string') {
  parentPort?.postMessage(probe.ok ? code : probe.reason);
} else {
  parentPort?.postMessage('online');
  serveParts(data.memory, data.ctrl, 'native gemm worker', (args) => {
    // The memory may have grown since the last call: take today's buffer.
    const buffer = data.memory.buffer;
    runNative(code, probe.blocks, new Float32Array(buffer, data.scratch, data.scratchFloats), partArgs(buffer, args), data.precision);
  });
}
