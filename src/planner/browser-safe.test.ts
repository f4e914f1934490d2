// The planner core must run in a browser (the dashboard): no node: imports outside io.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NODE_ONLY = new Set(['io.js']);
/** Browser-safe modules outside the planner that it may import. */
const SHARED = /^\.\.\/(util\/(errors|schema)\.js|layout\/[a-z-]+\.js)$/;

test('planner modules other than io import nothing from node: or the CLI, directly or transitively', () => {
  const dir = dirname(fileURLToPath(import.meta.url));
  const modules = readdirSync(dir).filter((f) => f.endsWith('.js') && !f.endsWith('.test.js') && !NODE_ONLY.has(f));
  assert.ok(modules.length >= 10);
  for (const f of modules) {
    const src = readFileSync(join(dir, f), 'utf8');
    const imports = [...src.matchAll(/^\s*import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
    for (const spec of imports) {
      assert.ok(!spec.startsWith('node:'), `${f} imports ${spec}`);
      const ok = (spec.startsWith('./') && !NODE_ONLY.has(spec.slice(2))) || SHARED.test(spec);
      assert.ok(ok, `${f} imports ${spec}: only sibling or shared browser-safe modules`);
    }
  }
});
