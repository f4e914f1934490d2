// The architecture's import rules, checked on the compiled modules (what Node actually loads):
// the CLI is the top layer, no module imports itself back through others, util/ and layout/ sit
// at the bottom, and the planner and the layout run in a browser (the dashboard).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url)); // dist/

/** Production modules of dist/, relative to it (tests and testing/ helpers left out). */
function modules(dir = root): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'testing') out.push(...modules(p));
    } else if (name.endsWith('.js') && !name.endsWith('.test.js')) {
      out.push(relative(root, p));
    }
  }
  return out.sort();
}

/** The specifiers a module imports or re-exports, statically or by a literal dynamic import. */
export function importsOf(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)) {
    specs.push((m[1] ?? m[2])!);
  }
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs;
}

interface Graph { edges: Map<string, string[]>; external: Map<string, string[]> }

function graph(): Graph {
  const edges = new Map<string, string[]>();
  const external = new Map<string, string[]>();
  for (const f of modules()) {
    const local: string[] = [];
    const ext: string[] = [];
    for (const s of importsOf(readFileSync(join(root, f), 'utf8'))) {
      if (s.startsWith('.')) local.push(relative(root, resolve(root, dirname(f), s)));
      else ext.push(s);
    }
    edges.set(f, local);
    external.set(f, ext);
  }
  return { edges, external };
}

const folder = (f: string): string => f.split('/')[0]!;

/** Every module reachable from `start` (itself included). */
function closure(g: Graph, start: string): Set<string> {
  const seen = new Set<string>([start]);
  const stack = [start];
  while (stack.length > 0) {
    for (const n of g.edges.get(stack.pop()!) ?? []) if (!seen.has(n)) { seen.add(n); stack.push(n); }
  }
  return seen;
}

/** Strongly connected components of more than one module (Tarjan). */
function cycles(g: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of g.edges.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1) out.push(scc);
    }
  };
  for (const v of g.edges.keys()) if (!index.has(v)) visit(v);
  return out;
}

const g = graph();

test('the module graph is the one the rules below check (it found the tree)', () => {
  assert.ok(g.edges.size > 150, `only ${g.edges.size} modules found under ${root}`);
  assert.ok(g.edges.has('cli/main.js') && g.edges.has('train/trainer.js'));
});

test('nothing outside cli/ imports cli/', () => {
  const bad: string[] = [];
  for (const [f, deps] of g.edges) {
    if (folder(f) === 'cli') continue;
    for (const d of deps) if (folder(d) === 'cli') bad.push(`${f} -> ${d}`);
  }
  assert.deepEqual(bad, []);
});

test('no import cycles between modules', () => {
  assert.deepEqual(cycles(g), []);
});

test('util/ imports only util/; layout/ imports only layout/ and util/ errors and schemas', () => {
  const bad: string[] = [];
  for (const [f, deps] of g.edges) {
    for (const d of deps) {
      if (folder(f) === 'util' && folder(d) !== 'util') bad.push(`${f} -> ${d}`);
      if (folder(f) === 'layout' && folder(d) !== 'layout' && !/^util\/(errors|schema)\.js$/.test(d)) bad.push(`${f} -> ${d}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the planner (but its file I/O) and the layout are browser-safe: no node: or native package, however deep', () => {
  const BROWSER_PACKAGES = new Set(['zod']);
  const roots = [...g.edges.keys()].filter((f) => (folder(f) === 'planner' && f !== 'planner/io.js') || folder(f) === 'layout');
  assert.ok(roots.length >= 10);
  const bad: string[] = [];
  for (const r of roots) {
    for (const m of closure(g, r)) {
      for (const e of g.external.get(m) ?? []) if (!BROWSER_PACKAGES.has(e)) bad.push(`${r} reaches ${m}, which imports ${e}`);
    }
  }
  assert.deepEqual(bad, []);
});
