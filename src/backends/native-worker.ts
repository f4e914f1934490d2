// A native GEMM worker thread: generates its own kernels and runs its part of a split GEMM (see native-pool.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { WasmMemory } from './wasm-api.js';
import { ARGS, CTRL_INTS, DONE, FAILED, SEQ } from './gemm-pool.js';
import { nativeCode, probeNative, runGemm } from './native.js';
import { partArgs } from './native-pool.js';

interface NativeWorkerData { memory: WasmMemory; ctrl: number; scratch: number; scratchFloats: number }

const data = workerData as NativeWorkerData;
const probe = probeNative();
const code = nativeCode();
if (!probe.ok || code === undefined) {
  parentPort?.postMessage(probe.ok ? 'no code' : probe.reason);
} else {
  const i32 = new Int32Array(data.memory.buffer, data.ctrl, CTRL_INTS);
  const f32 = new Float32Array(data.memory.buffer, data.ctrl, CTRL_INTS);
  parentPort?.postMessage('online');
  let seen = 0;
  for (;;) {
    Atomics.wait(i32, SEQ, seen);
    const s = Atomics.load(i32, SEQ);
    if (s < 0) break;
    if (s === seen) continue;
    seen = s;
    try {
      // The memory may have grown since the last call: take today's buffer.
      const buffer = data.memory.buffer;
      const args = Array.from({ length: 17 }, (_, j) => (j === 5 || j === 6 ? f32[ARGS + j]! : i32[ARGS + j]!));
      runGemm(code, probe.blocks, new Float32Array(buffer, data.scratch, data.scratchFloats), partArgs(buffer, args));
    } catch (e) {
      // Report instead of dying: the caller is blocked waiting for DONE.
      process.stderr.write(`furnace native gemm worker: ${(e as Error).message}\n`);
      Atomics.store(i32, FAILED, 1);
    }
    Atomics.store(i32, DONE, s);
    Atomics.notify(i32, DONE);
  }
}
