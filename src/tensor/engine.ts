// Engine state of one worker: the kernel backend, gradient mode and allocation scopes.
// (Parallel groups are never kept here: they are passed explicitly.)
import type { Backend, Lifetime } from '../backends/backend.js';
import { JsBackend } from '../backends/js.js';

let current: Backend = new JsBackend();
let gradEnabled = true;

export function backend(): Backend {
  return current;
}

/** Selects the kernel backend for tensors created from now on (create tensors after this). */
export function setBackend(b: Backend): void {
  current = b;
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with graph recording on or off, restoring the previous mode afterwards. */
export function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/**
 * Runs an async fn with graph recording on or off until it settles (activation recomputation
 * records a forward pass inside a backward one). The mode is per thread, as ranks are.
 */
export async function withGradModeAsync<T>(enabled: boolean, fn: () => Promise<T>): Promise<T> {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return await fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Runs an async fn with graph recording off until it settles. Only one such computation may be
 * in flight in a thread (the mode is per thread, as ranks are).
 */
export async function noGradAsync<T>(fn: () => Promise<T>): Promise<T> {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return await fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Runs fn with the backend allocating for `lifetime` ('model': weights and optimizer state made
 * once; see Backend.setLifetime), restoring the previous lifetime afterwards.
 */
export function withLifetime<T>(lifetime: Lifetime, fn: () => T): T {
  const prev = current.setLifetime?.(lifetime);
  try {
    return fn();
  } finally {
    if (prev !== undefined) current.setLifetime?.(prev);
  }
}

/** Something that owns backend memory and can give it back. */
export interface Disposable {
  dispose(): void;
}

const scopes: Set<Disposable>[] = [];

/** Registers a new tensor with the innermost scope, if any. */
export function track(t: Disposable): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Removes t from every open scope, so it survives their end. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/**
 * Runs fn and frees every tensor it created, except those kept with `keep`. The training step
 * runs inside one scope, so step-local activations and gradients go back to the backend's pool
 * and memory does not grow step over step.
 */
export async function scoped<T>(fn: () => Promise<T> | T): Promise<T> {
  const s = new Set<Disposable>();
  scopes.push(s);
  try {
    return await fn();
  } finally {
    scopes.splice(scopes.lastIndexOf(s), 1);
    for (const t of s) t.dispose();
  }
}

/** Synchronous form of `scoped`. */
export function scopedSync<T>(fn: () => T): T {
  const s = new Set<Disposable>();
  scopes.push(s);
  try {
    return fn();
  } finally {
    scopes.splice(scopes.lastIndexOf(s), 1);
    for (const t of s) t.dispose();
  }
}
