// Placement on a network: tp, then ep groups inside the fastest tier they fit; a given order is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ORDER, Grid, type GridSizes } from './grid.js';
import { groupTiers, place } from './place.js';
import { spanTier, type TierShape } from './tiers.js';

const slowest = (g: Grid, kind: 'tp' | 'ep', tiers: readonly TierShape[]) => Math.max(...g.groups(kind).map((m) => spanTier(tiers, m)));

test('every placement keeps tp groups within one node when they fit, then ep groups when tp x ep fits', () => {
  let checked = 0;
  for (const node of [2, 4, 6, 8]) {
    const tiers = [{ name: 'node', group_size: node }, { name: 'rack', group_size: node * 4 }];
    for (const tp of [1, 2, 3, 4]) {
      for (const ep of [1, 2, 4]) {
        for (const edp of [1, 2, 3]) {
          for (const pp of [1, 2]) {
            const sizes: GridSizes = { dp: ep * edp, tp, ep, pp };
            const p = place(sizes, tiers);
            const g = new Grid(sizes, p.order);
            if (node % tp === 0) assert.equal(slowest(g, 'tp', tiers), 0, `tp ${tp} on nodes of ${node}: ${p.order.join('/')}`);
            if (node % (tp * ep) === 0) assert.equal(slowest(g, 'ep', tiers), 0, `ep ${ep} x tp ${tp} on nodes of ${node}: ${p.order.join('/')}`);
            if (tp > 1) assert.equal(p.tiers?.tp, ['node', 'rack', 'machine'][slowest(g, 'tp', tiers)]);
            checked++;
          }
        }
      }
    }
  }
  assert.ok(checked > 200);
});

test('tp stays inside the node when tp and ep cannot both fit; ties keep the default order', () => {
  const node = [{ name: 'node', group_size: 2 }];
  const p = place({ dp: 4, tp: 2, ep: 4 }, node);
  assert.deepEqual(p, { order: ['tp', 'ep', 'edp', 'pp'], tiers: { tp: 'node', ep: 'machine', dp: 'machine' } });
  // ep 2 x edp 2, no tp: ep fits the node only if it is innermost, which the default order already is.
  assert.deepEqual(place({ dp: 4, tp: 1, ep: 2 }, node).order, DEFAULT_ORDER);
  // tp 1, ep 1: nothing to place, the default order.
  assert.deepEqual(place({ dp: 8, tp: 1, ep: 1 }, node), { order: DEFAULT_ORDER, tiers: { edp: 'machine', dp: 'machine' } });
});

test('ep moves inside the node ahead of edp when tp leaves room', () => {
  // tp 2, ep 2, edp 2 on nodes of 4: [tp, ep, edp] keeps tp and ep inside; [tp, edp, ep] would not.
  const p = place({ dp: 4, tp: 2, ep: 2 }, [{ name: 'node', group_size: 4 }]);
  assert.deepEqual(p.order, ['tp', 'ep', 'edp', 'pp']);
  // ep 2 x edp 3 with tp 1 on nodes of 2, order forced with edp innermost: ep crosses nodes.
  const forced = place({ dp: 6, tp: 1, ep: 2 }, [{ name: 'node', group_size: 2 }], ['edp', 'ep', 'tp', 'pp']);
  assert.deepEqual(forced, { order: ['edp', 'ep', 'tp', 'pp'], tiers: { ep: 'machine', edp: 'machine', dp: 'machine' } });
  assert.deepEqual(place({ dp: 6, tp: 1, ep: 2 }, [{ name: 'node', group_size: 2 }]).tiers?.ep, 'node');
});

test('2 nodes x 2 ranks behind a network tier: ep and tp stay inside a node when they fit', () => {
  const tiers = [{ name: 'node', group_size: 2 }, { name: 'network', group_size: 4 }];
  assert.deepEqual(place({ dp: 4, tp: 1, ep: 2 }, tiers).tiers, { ep: 'node', edp: 'network', dp: 'network' });
  assert.deepEqual(place({ dp: 2, tp: 2, ep: 1 }, tiers).tiers, { tp: 'node', edp: 'network', dp: 'network' });
  // ep 4 cannot fit a node of 2: it spans the network, as every dp group does.
  assert.deepEqual(place({ dp: 4, tp: 1, ep: 4 }, tiers).tiers, { ep: 'network', dp: 'network' });
  // tp and ep cannot both fit: tp (an all-reduce every layer) keeps the node.
  assert.deepEqual(place({ dp: 2, tp: 2, ep: 2 }, tiers).tiers, { tp: 'node', ep: 'network', dp: 'network' });
  // Even when a worse order is listed first: edp innermost would put ep across the network.
  assert.equal(groupTiers(new Grid({ dp: 4, tp: 1, ep: 2 }, ['edp', 'ep', 'tp', 'pp']), tiers).ep, 'network');
});

test('a given order is taken as it is; without tiers the order is the default and no tier is named', () => {
  const forced = place({ dp: 4, tp: 2, ep: 2 }, [{ name: 'node', group_size: 2 }], ['ep', 'tp', 'edp', 'pp']);
  assert.deepEqual(forced.order, ['ep', 'tp', 'edp', 'pp']);
  assert.equal(new Grid({ dp: 4, tp: 2, ep: 2 }, forced.order).rankOf({ tp: 1, ep: 0, edp: 0, pp: 0 }), 2);
  assert.equal(forced.tiers?.ep, 'node');
  assert.deepEqual(place({ dp: 4, tp: 2, ep: 2 }), { order: DEFAULT_ORDER });
  assert.deepEqual(place({ dp: 4, tp: 2, ep: 2 }, undefined, ['pp', 'edp', 'ep', 'tp']), { order: ['pp', 'edp', 'ep', 'tp'] });
  assert.throws(() => place({ dp: 2, tp: 1, ep: 1 }, undefined, ['tp', 'ep', 'ep', 'pp']), RangeError);
});

test('layout modules are browser-safe: no node: imports, only sibling modules', () => {
  const dir = dirname(fileURLToPath(import.meta.url));
  const modules = readdirSync(dir).filter((f) => f.endsWith('.js') && !f.endsWith('.test.js'));
  assert.ok(modules.length >= 3);
  for (const f of modules) {
    const src = readFileSync(join(dir, f), 'utf8');
    for (const m of src.matchAll(/^\s*(?:import|export)[^'"]*from\s*['"]([^'"]+)['"]/gm)) {
      assert.ok(/^\.\/[a-z-]+\.js$/.test(m[1] ?? ''), `${f} imports ${m[1]}`);
    }
  }
});
