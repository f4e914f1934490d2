// What a launched rank runs: `export async function main(world, args)` of a module, and the
// messages ranks report back to the launcher.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { ProcessGroup } from './process-group.js';
import type { SharedMemory } from './wasm.js';
import type { ErrorKind } from '../util/errors.js';

/** The function a launched module exports (by default as `main`). */
export type RankMain<A = unknown, R = unknown> = (world: ProcessGroup, args: A) => Promise<R> | R;

/** Line prefix an mpirun rank prints before its JSON result. */
export const RESULT_MARK = '\u001efurnace-result ';

/**
 * The one line a failing mpirun rank prints (for people and for the launcher); bad input and failed
 * checks say so in brackets, so that the launcher can give them their exit codes.
 */
export function rankFailureLine(rank: number, message: string, kind: ErrorKind = 'internal'): string {
  const tag = kind === 'internal' ? '' : ` [${kind}]`;
  return `furnace: rank ${rank} failed${tag}: ${message.replace(/\s*\n\s*/g, ' | ')}`;
}

/** Parses a rankFailureLine back into rank, kind and message; undefined for other lines. */
export function parseRankFailure(line: string): { rank: number; kind: ErrorKind; message: string } | undefined {
  const m = /furnace: rank (\d+) failed(?: \[(input|check)\])?: (.*)$/.exec(line);
  if (m === null) return undefined;
  const kind: ErrorKind = m[2] === 'input' ? 'input' : m[2] === 'check' ? 'check' : 'internal';
  return { rank: Number(m[1]), kind, message: m[3] ?? '' };
}

export type RankReport =
  | { kind: 'done'; rank: number; result: unknown }
  /** errorKind: the failure's side of the exit-code contract (bad input, failed check, internal). */
  | { kind: 'error'; rank: number; errorKind: ErrorKind; message: string; stack: string; aborted: boolean };

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
