// Whether an estimated amount of memory fits where it must live: the wasm32 heap (4 GiB) for
// backends that keep tensors there, and the machine's memory shared by the ranks on it.
import { totalmem } from 'node:os';
import { InputError } from './errors.js';
import { fmt } from './output.js';

/** A wasm32 heap addresses at most 2^32 bytes; the wasm and blas backends keep tensors there. */
export const WASM_HEAP_BYTES = 2 ** 32;

/** The limit for one rank: the wasm heap for backends that keep tensors there, and the machine's memory over all ranks. */
export function memoryLimit(backend: string, ranks = 1): { bytes: number; what: string } {
  const n = Math.max(1, ranks);
  const machine = totalmem() / n;
  // 'auto' picks wasm or blas wherever the wasm kernels load, so it gets their limit.
  if (backend !== 'js' && WASM_HEAP_BYTES < machine) return { bytes: WASM_HEAP_BYTES, what: `the ${backend} backend's 4 GiB wasm heap` };
  return { bytes: machine, what: `this machine's ${gib(totalmem())}${n > 1 ? ` over ${n} ranks` : ''}` };
}

/** Refuses, in one line naming `where`, an estimate that does not fit the limit; `detail` says what it is made of. */
export function checkMemory(bytes: number, o: { backend: string; ranks?: number; where: string; detail: string }): void {
  const limit = memoryLimit(o.backend, o.ranks);
  if (!(bytes <= limit.bytes)) {
    throw new InputError(`${o.where}: needs about ${gib(bytes)}${(o.ranks ?? 1) > 1 ? ' per rank' : ''} (${o.detail}), more than ${limit.what}; make it smaller`);
  }
}

export function gib(bytes: number): string {
  return `${fmt(bytes / 2 ** 30)} GiB`;
}
