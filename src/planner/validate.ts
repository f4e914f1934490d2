// Boundary validation for planner inputs: typed readers that name the offending field on failure.
import { InputError } from '../util/errors.js';
export { InputError };


export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** Reads `value` as a JSON object whose keys are all in `required` or `optional`; `where` names it. */
export function record(value: unknown, where: string, required: readonly string[], optional: readonly string[] = []): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(`${where}: expected an object, got ${describe(value)}`);
  }
  const known = new Set([...required, ...optional]);
  for (const k of Object.keys(value)) {
    if (!known.has(k)) throw new InputError(`${join(where, k)}: unknown key (allowed: ${[...known].join(', ')})`);
  }
  for (const k of required) {
    if (!(k in value)) throw new InputError(`${join(where, k)}: missing`);
  }
  return value as JsonObject;
}

/** Reads `value` as a JSON object that has the `required` keys; other keys are allowed (records written by
 * another part of furnace, which may grow fields). */
export function openRecord(value: unknown, where: string, required: readonly string[]): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(`${where}: expected an object, got ${describe(value)}`);
  }
  return record(value, where, required, Object.keys(value));
}

export function join(where: string, key: string | number): string {
  return typeof key === 'number' ? `${where}[${key}]` : where === '' ? key : `${where}.${key}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** A finite number within [min, max]. */
export function num(v: unknown, where: string, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InputError(`${where}: expected a number, got ${describe(v)}`);
  if (v < min || v > max) throw new InputError(`${where}: must be in [${min}, ${max}], got ${v}`);
  return v;
}

/** A finite number strictly above zero. */
export function positive(v: unknown, where: string): number {
  const n = num(v, where);
  if (n <= 0) throw new InputError(`${where}: must be > 0, got ${n}`);
  return n;
}

/** An integer within [min, max]. */
export function int(v: unknown, where: string, min = -Infinity, max = Infinity): number {
  const n = num(v, where);
  if (!Number.isInteger(n)) throw new InputError(`${where}: expected an integer, got ${n}`);
  if (n < min || n > max) throw new InputError(`${where}: must be in [${min}, ${max}], got ${n}`);
  return n;
}

export function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new InputError(`${where}: expected a non-empty string, got ${describe(v)}`);
  return v;
}

/** One of a fixed set of strings (or numbers). */
export function oneOf<T extends string | number>(v: unknown, where: string, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(v)) {
    throw new InputError(`${where}: expected one of ${allowed.join(', ')}, got ${describe(v)}`);
  }
  return v as T;
}

export function array(v: unknown, where: string, minLength = 0): unknown[] {
  if (!Array.isArray(v)) throw new InputError(`${where}: expected an array, got ${describe(v)}`);
  if (v.length < minLength) throw new InputError(`${where}: expected at least ${minLength} entries, got ${v.length}`);
  return v;
}

/** Parses JSON text, naming the source on a syntax error. */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new InputError(`${source}: not valid JSON (${(e as Error).message})`);
  }
}
