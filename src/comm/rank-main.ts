// What a launched rank runs: `export async function main(world, args)` of a module, and the
// messages ranks report back to the launcher.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { ProcessGroup } from './process-group.js';
import type { SharedMemory } from './wasm.js';

/** The function a launched module exports (by default as `main`). */
export type RankMain<A = unknown, R = unknown> = (world: ProcessGroup, args: A) => Promise<R> | R;

/** Line prefixes an mpirun rank prints for its result and its failure. */
export const RESULT_MARK = '\u001efurnace-result ';
export const ERROR_MARK = '\u001efurnace-rank-error ';

export type RankReport =
  | { kind: 'done'; rank: number; result: unknown }
  | { kind: 'error'; rank: number; message: string; stack: string; aborted: boolean };

export interface ThreadRankData {
  memory: SharedMemory;
  region: number;
  rank: number;
  size: number;
  module: string;
  exportName: string;
  args: unknown;
  commTimeoutS: number;
}

/** A module given as a path or URL, as an import()-able URL string. */
export function moduleHref(m: string | URL): string {
  if (m instanceof URL) return m.href;
  return /^(file|data|node):/.test(m) ? m : pathToFileURL(resolve(m)).href;
}

export async function rankFunction(module: string, exportName: string): Promise<RankMain> {
  const mod = (await import(module)) as Record<string, unknown>;
  const fn = mod[exportName];
  if (typeof fn !== 'function') throw new Error(`${module} does not export a function '${exportName}'`);
  return fn as RankMain;
}
