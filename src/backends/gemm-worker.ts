// A GEMM worker thread: runs its part of a split GEMM on the shared wasm memory (see gemm-pool.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { WasmMemory, WasmModule } from './wasm-api.js';
import { instantiate } from './wasm-module.js';
import { ARGS, CTRL_INTS, DONE, FAILED, SEQ, type GemmCall } from './gemm-pool.js';
import { errorMessage } from '../util/errors.js';

interface GemmWorkerData { mod: WasmModule; memory: WasmMemory; ctrl: number; scratch: number }

const data = workerData as GemmWorkerData;
const k = instantiate(data.mod, data.memory);
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
  const call: GemmCall = [i32[ARGS]!, i32[ARGS + 1]!, i32[ARGS + 2]!, i32[ARGS + 3]!, i32[ARGS + 4]!, f32[ARGS + 5]!,
    f32[ARGS + 6]!, i32[ARGS + 7]!, i32[ARGS + 8]!, i32[ARGS + 9]!, i32[ARGS + 10]!, i32[ARGS + 11]!, i32[ARGS + 12]!,
    i32[ARGS + 13]!, i32[ARGS + 14]!, i32[ARGS + 15]!, i32[ARGS + 16]!, data.scratch];
  try {
    k.gemm(...call);
  } catch (e) {
    // Report instead of dying: the caller is blocked waiting for DONE.
    process.stderr.write(`furnace gemm worker: ${errorMessage(e)}\n`);
    Atomics.store(i32, FAILED, 1);
  }
  Atomics.store(i32, DONE, s);
  Atomics.notify(i32, DONE);
}
