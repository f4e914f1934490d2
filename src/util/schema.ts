// One validation style for every input format: zod schemas, worded and formatted the same way everywhere.
// Browser-safe (the planner runs in the dashboard): no node: imports.
import { z } from 'zod';
import { InputError, errorMessage } from './errors.js';

// Modules that validate input import `z` from here, so furnace's wording below is always in place.
export { z };

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** A value as an error message shows it: short, with its type visible. */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

const ARTICLE: Record<string, string> = {
  number: 'a number', int: 'an integer', string: 'a string', object: 'an object', array: 'an array', boolean: 'true or false',
};

/** furnace's wording of the issues its schemas raise; undefined leaves zod's own message. */
function issueMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'missing';
      return `expected ${ARTICLE[iss.expected] ?? iss.expected}, got ${describe(iss.input)}`;
    case 'invalid_value':
      if (iss.values.length === 1) return `expected ${describe(iss.values[0]).replace(/^number /, '')}, got ${describe(iss.input)}`;
      return `expected one of ${iss.values.map(String).join(', ')}, got ${describe(iss.input)}`;
    case 'unrecognized_keys': {
      const inst = iss.inst;
      return inst instanceof z.ZodObject ? `unknown key (allowed: ${Object.keys(inst.shape).join(', ')})` : 'unknown key';
    }
    case 'too_small': {
      const bound = `${iss.inclusive === false ? '>' : '>='} ${String(iss.minimum)}`;
      if (iss.origin === 'string') return iss.minimum === 1 ? `expected a non-empty string, got ${describe(iss.input)}` : `expected at least ${String(iss.minimum)} characters`;
      if (iss.origin === 'array') return `expected at least ${String(iss.minimum)} entries, got ${Array.isArray(iss.input) ? iss.input.length : describe(iss.input)}`;
      return `must be ${bound}, got ${describe(iss.input).replace(/^number /, '')}`;
    }
    case 'too_big': {
      const bound = `${iss.inclusive === false ? '<' : '<='} ${String(iss.maximum)}`;
      if (iss.origin === 'array') return `expected at most ${String(iss.maximum)} entries`;
      return `must be ${bound}, got ${describe(iss.input).replace(/^number /, '')}`;
    }
    default:
      return undefined;
  }
}

z.config({ customError: issueMessage });

/** `where` with a path appended: `where.a.b[0].c`. */
export function joinPath(where: string, path: readonly PropertyKey[]): string {
  let s = where;
  for (const k of path) s = typeof k === 'number' ? `${s}[${k}]` : s === '' ? String(k) : `${s}.${String(k)}`;
  return s;
}

/**
 * One line for a failed parse: where the input came from, the field path of the first issue and what is
 * wrong (`cluster.json.tiers[0].bandwith: unknown key (allowed: name, group_size, ...)`). An unknown key
 * is named before any other issue: a misspelt key also leaves its intended key missing, and the typo is
 * the one to fix.
 */
export function formatIssues(where: string, error: z.ZodError): string {
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0];
  if (issue === undefined) return `${where}: invalid`;
  const path = issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined ? [...issue.path, issue.keys[0]] : issue.path;
  return `${joinPath(where, path)}: ${issue.message}`;
}

/** Parses `value` with `schema`; on failure throws InputError naming `where` and the field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new InputError(formatIssues(where, r.error));
  return r.data;
}

/** Parses JSON text, naming the source on a syntax error. */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new InputError(`${source}: not valid JSON (${errorMessage(e)})`);
  }
}
