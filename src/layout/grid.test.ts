// The rank grid: rank <-> coordinates both ways for every order, groups that partition the world, invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_ORDER, DIMS, GROUPS, Grid, type Coords, type Dim, type GridSizes, type Group } from './grid.js';

function permutations(xs: readonly Dim[]): Dim[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}
const ORDERS = permutations(DIMS);

const SIZES: GridSizes[] = [
  { dp: 1, tp: 1, ep: 1 }, { dp: 4, tp: 2, ep: 2 }, { dp: 6, tp: 2, ep: 3, pp: 2 }, { dp: 8, tp: 1, ep: 8 },
  { dp: 2, tp: 3, ep: 1, pp: 4 }, { dp: 12, tp: 2, ep: 4, pp: 3 }, { dp: 5, tp: 1, ep: 5, pp: 2 }, { dp: 4, tp: 4, ep: 2, pp: 1 },
];

/** The rank at coordinates written out as the mixed-radix sum, innermost first (the reference). */
function referenceRank(s: GridSizes, order: readonly Dim[], c: Coords): number {
  const size: Coords = { tp: s.tp, ep: s.ep, edp: s.dp / s.ep, pp: s.pp ?? 1 };
  let r = 0, stride = 1;
  for (const d of order) {
    r += c[d] * stride;
    stride *= size[d];
  }
  return r;
}

/** The dims whose coordinates members of a group share with each other: all but the group's own. */
const OWN: Record<Group, readonly Dim[]> = { tp: ['tp'], ep: ['ep'], edp: ['edp'], pp: ['pp'], dp: ['ep', 'edp'] };

test('rank -> coords -> rank is the identity and matches the mixed-radix sum, for every order and many sizes', () => {
  let checked = 0;
  for (const s of SIZES) {
    for (const order of ORDERS) {
      const g = new Grid(s, order);
      assert.equal(g.world, s.dp * s.tp * (s.pp ?? 1));
      const seen = new Set<string>();
      for (let r = 0; r < g.world; r++) {
        const c = g.coordsOf(r);
        for (const d of DIMS) assert.ok(c[d] >= 0 && c[d] < g.sizeOf(d), `${d} of rank ${r}`);
        assert.equal(g.rankOf(c), r);
        assert.equal(referenceRank(s, order, c), r, `order ${order.join('/')}, rank ${r}`);
        seen.add(DIMS.map((d) => c[d]).join(','));
        checked++;
      }
      assert.equal(seen.size, g.world, 'two ranks share coordinates');
    }
  }
  assert.ok(checked > 1000);
});

test('the default order puts tp innermost: rank = dpIndex * tp + tpIndex with dpIndex = edpIndex * ep + epIndex', () => {
  const g = new Grid({ dp: 6, tp: 2, ep: 3 });
  assert.deepEqual(g.order, DEFAULT_ORDER);
  for (let r = 0; r < g.world; r++) {
    const c = g.coordsOf(r);
    assert.equal(c.tp, r % 2);
    assert.equal(g.dpIndex(c), Math.floor(r / 2));
    assert.equal(c.ep, Math.floor(r / 2) % 3);
    assert.equal(c.edp, Math.floor(r / 6));
  }
  assert.deepEqual(g.groupOf('tp', 5), [4, 5]);
  assert.deepEqual(g.groupOf('dp', 1), [1, 3, 5, 7, 9, 11]);
  assert.deepEqual(g.groupOf('ep', 7), [7, 9, 11]);
  assert.deepEqual(g.groupOf('edp', 2), [2, 8]);
});

test('each kind of group partitions the world; members are the ranks differing only in the group\'s dims, listed by rank in group', () => {
  for (const s of SIZES) {
    for (const order of ORDERS) {
      const g = new Grid(s, order);
      for (const kind of GROUPS) {
        const all = g.groups(kind);
        assert.equal(all.length * g.groupSize(kind), g.world, `${kind}: group count`);
        const owner = new Map<number, number>();
        all.forEach((members, i) => {
          assert.equal(members.length, g.groupSize(kind));
          members.forEach((m, pos) => {
            assert.ok(!owner.has(m), `${kind}: rank ${m} in two groups`);
            owner.set(m, i);
            assert.equal(g.groupIndex(kind, m), i);
            assert.equal(g.indexIn(kind, m), pos);
            assert.deepEqual(g.groupOf(kind, m), members);
          });
        });
        assert.equal(owner.size, g.world);
        // Reference: rank 0's group by filtering the world on the coordinates outside the group.
        const c0 = g.coordsOf(0);
        const shared = DIMS.filter((d) => !OWN[kind].includes(d));
        const ref = [...Array(g.world).keys()].filter((r) => shared.every((d) => g.coordsOf(r)[d] === c0[d]));
        assert.deepEqual([...g.groupOf(kind, 0)].sort((a, b) => a - b), ref, `${kind} of rank 0, order ${order.join('/')}`);
      }
      // The dp group is ep x edp, position dpIndex; an ep group meets an edp group in one rank.
      for (let r = 0; r < g.world; r++) {
        assert.equal(g.indexIn('dp', r), g.dpIndex(g.coordsOf(r)));
        const dp = new Set(g.groupOf('dp', r));
        const ep = g.groupOf('ep', r), edp = g.groupOf('edp', r);
        assert.ok([...ep, ...edp].every((m) => dp.has(m)));
        assert.deepEqual(ep.filter((m) => edp.includes(m)), [r]);
      }
    }
  }
});

test('bad sizes, orders and ranks are invariant errors (RangeError) that name no flag', () => {
  const bad: [() => unknown, RegExp][] = [
    [() => new Grid({ dp: 4, tp: 1, ep: 3 }), /ep 3 must divide dp 4/],
    [() => new Grid({ dp: 0, tp: 1, ep: 1 }), /dp must be a positive integer/],
    [() => new Grid({ dp: 2, tp: 1.5, ep: 1 }), /tp must be a positive integer/],
    [() => new Grid({ dp: 2, tp: 1, ep: 1, pp: 0 }), /pp must be a positive integer/],
    [() => new Grid({ dp: 2, tp: 1, ep: 1 }, ['tp', 'ep', 'edp']), /must list each of tp, ep, edp, pp once/],
    [() => new Grid({ dp: 2, tp: 1, ep: 1 }, ['tp', 'ep', 'ep', 'pp']), /must list each of tp, ep, edp, pp once/],
    [() => new Grid({ dp: 2, tp: 2, ep: 1 }).coordsOf(4), /rank 4 outside \[0, 4\)/],
    [() => new Grid({ dp: 2, tp: 2, ep: 1 }).coordsOf(-1), /rank -1 outside/],
  ];
  for (const [f, re] of bad) assert.throws(f, (e: Error) => e instanceof RangeError && re.test(e.message) && !e.message.includes('--'), String(re));
});
