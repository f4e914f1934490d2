// Whether an estimated amount of memory fits where it must live: the machine's memory, shared by the
// ranks on it (every backend keeps tensors beyond its wasm heap in host memory).
import { totalmem } from 'node:os';
import { InputError } from './errors.js';
import { fmt } from './output.js';

/** The limit for one rank: this machine's memory over the ranks on it. */
export function memoryLimit(_backend: string, ranks = 1): { bytes: number; what: string } {
  const n = Math.max(1, ranks);
  return { bytes: totalmem() / n, what: `this machine's ${gib(totalmem())}${n > 1 ? ` over ${n} ranks` : ''}` };
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
