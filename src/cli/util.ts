// Shared CLI plumbing: argument parsing into typed values; bad flags become UsageErrors (exit 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError, UsageError, errorMessage } from '../util/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Thrown by parse() when argv asks for help: runCli prints `usage` on stdout and exits 0. A usage
 * generated from the flags (`generated`) gets the command's words put in front by runCli.
 */
export class HelpRequest extends Error {
  override readonly name = 'HelpRequest';
  constructor(readonly usage: string, readonly generated = false) {
    super('help requested');
  }
}

/** True when argv asks for help (--help or -h before a `--` separator). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** The usage a command without its own text gets: its flags, read from the parse options. */
function generatedUsage(options: Options, allowPositionals: boolean): string {
  const flags = Object.entries(options).map(([k, o]) => (o.type === 'boolean' ? `[--${k}]` : `[--${k} VALUE]`));
  return `${allowPositionals ? '[ARGS] ' : ''}${flags.join(' ')}`;
}

/**
 * Parses argv strictly: unknown flags and missing values become UsageErrors naming the flag;
 * --help or -h throws a HelpRequest carrying `usage` (or a usage listing the flags).
 */
export function parse<O extends Options>(argv: string[], options: O, allowPositionals = false, usage?: string) {
  if (wantsHelp(argv)) throw new HelpRequest(usage ?? generatedUsage(options, allowPositionals), usage === undefined);
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError(errorMessage(e).split('\n')[0] ?? 'bad arguments');
  }
}

/**
 * Reads a flag as an integer within [min, max] (both finite: every integer flag has a bound);
 * undefined stays undefined. Digits beyond 2^53 are refused rather than rounded.
 */
export function intFlag(name: string, v: string | undefined, min = 0, max = 2 ** 40): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw new InputError(`--${name}: expected an integer, got '${v}'`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InputError(`--${name}: must be an integer in [${min}, ${max}], got ${v.trim()}`);
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
