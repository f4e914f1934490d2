// Shared CLI plumbing: argument parsing into typed values; bad flags become InputErrors (exit 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../util/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses argv strictly: unknown flags and missing values become UsageErrors naming the flag. */
export function parse<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    throw new InputError((e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
}

/** Reads a flag as an integer within [min, max]; undefined stays undefined. */
export function intFlag(name: string, v: string | undefined, min = -Infinity, max = Infinity): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw new InputError(`--${name}: expected an integer, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new InputError(`--${name}: must be in [${min}, ${max}], got ${n}`);
  return n;
}

/** Reads a flag as a finite number within [min, max]. */
export function numFlag(name: string, v: string | undefined, min = -Infinity, max = Infinity): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InputError(`--${name}: expected a number, got '${v}'`);
  if (n < min || n > max) throw new InputError(`--${name}: must be in [${min}, ${max}], got ${n}`);
  return n;
}

/** Signature every command module exports as `run`. Returns the process exit code. */
export type Command = (argv: string[]) => Promise<number>;
