// The error model of furnace: every error a user should see is one of two kinds, and the CLI maps
// the kind to the exit code (src/cli/main.ts). Anything else is an internal error.

/** Bad input or usage (a flag, a config field, a path, a file's format): exit code 2. */
export class InputError extends Error {
  override readonly name: string = 'InputError';
}

/** Bad usage of the command line (an unknown flag or subcommand, a missing argument): exit code 2,
 * and the CLI adds a line pointing at the command's --help. */
export class UsageError extends InputError {
  override readonly name: string = 'UsageError';
}

/** A check that ran and failed (a corrupt checkpoint, a rank that died): exit code 1. */
export class CheckError extends Error {
  override readonly name: string = 'CheckError';
}

/** The message of anything thrown. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The errno code of a Node system error (ENOENT, EACCES, ...), or undefined. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Which side of the contract an error is on; travels with a failure from a rank to the launcher. */
export type ErrorKind = 'input' | 'check' | 'internal';

export function errorKind(e: unknown): ErrorKind {
  return e instanceof InputError ? 'input' : e instanceof CheckError ? 'check' : 'internal';
}
