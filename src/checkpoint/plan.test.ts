import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planWriters, type RankPlan } from './plan.js';
import type { ShardedTensor } from './types.js';

const t = (key: string, offset: number[], shape: number[], globalShape: number[], replicaId = 0, replicas = 1): ShardedTensor =>
  ({ key, dtype: 'f32', globalShape, offset, localShape: shape, replicaId, replicas });

function plans(perRank: ShardedTensor[][], groups?: number[]): RankPlan[] {
  return perRank.map((pieces, rank) => ({ step: 1, rank, group: groups?.[rank] ?? 0, pieces }));
}

function loads(p: ReturnType<typeof planWriters>, n: number): number[] {
  const l = new Array<number>(n).fill(0);
  for (const x of p) l[x.writer]! += x.bytes;
  return l;
}

test('replicated tensors are written once each, spread evenly over the replicas (not all by rank 0)', () => {
  // Pure data parallelism over 4 ranks: 8 equal tensors, each held by every rank.
  const perRank = [0, 1, 2, 3].map((r) => Array.from({ length: 8 }, (_, i) => t(`w${i}`, [0, 0], [16, 16], [16, 16], r, 4)));
  const p = planWriters(plans(perRank));
  assert.equal(p.length, 8);
  assert.deepEqual(loads(p, 4), [2048, 2048, 2048, 2048]);
});

test('writers balance over topology groups first: each group writes its share', () => {
  // Ranks 0,1,2 in group 0 and rank 3 alone in group 1; every piece replicated on all ranks.
  const perRank = [0, 1, 2, 3].map((r) => Array.from({ length: 8 }, (_, i) => t(`w${i}`, [0], [100], [100], r, 4)));
  const p = planWriters(plans(perRank, [0, 0, 0, 1]));
  const l = loads(p, 4);
  // Bytes per rank within each group end equal: group 1 (1 rank) gets 1/4, group 0 (3 ranks) 3/4.
  assert.deepEqual(l, [800, 800, 800, 800]);
  // Two groups of two: a piece held by ranks 0 and 1 (group 0) or by 2 and 3 (group 1) stays in its group;
  // pieces held by 0 and 2 alternate groups.
  const q = [0, 1, 2, 3].map((r) => Array.from({ length: 4 }, (_, i) => t(`x${i}`, [0], [50], [50], r === 0 || r === 1 ? 0 : 1, 2))
    .filter(() => r === 0 || r === 2));
  const pq = planWriters(plans(q, [0, 0, 1, 1]));
  assert.deepEqual(loads(pq, 4), [400, 0, 400, 0]);
});

test('sharded pieces are written by their only holder; plans must tile each tensor exactly', () => {
  const ok = plans([[t('a', [0, 0], [2, 4], [4, 4])], [t('a', [2, 0], [2, 4], [4, 4])]]);
  assert.deepEqual(planWriters(ok).map((p) => [p.offset[0], p.writer]).sort(), [[0, 0], [2, 1]]);
  assert.throws(() => planWriters(plans([[t('a', [0, 0], [3, 4], [4, 4])], [t('a', [2, 0], [2, 4], [4, 4])]])), /overlap/);
  assert.throws(() => planWriters(plans([[t('a', [0, 0], [1, 4], [4, 4])], [t('a', [2, 0], [2, 4], [4, 4])]])), /cover 12 of 16/);
  assert.throws(() => planWriters(plans([[t('a', [0, 0], [2, 4], [4, 4])], [t('a', [2, 0], [2, 4], [4, 5])]])), /another rank/);
  assert.throws(() => planWriters(plans([[t('a', [3, 0], [2, 4], [4, 4])]])), /outside global shape/);
  assert.throws(() => planWriters(plans([[t('b', [0], [4], [4], 0, 2)], []])), /2 replicas declared, 1 held/);
  assert.throws(() => planWriters(plans([[t('b', [0], [4], [4], 0, 2)], [t('b', [0], [4], [4], 0, 2)]])), /replica 0 is held twice/);
  const failed = plans([[t('a', [0], [4], [4])]]);
  failed[0]!.error = 'no space';
  assert.throws(() => planWriters(failed), /rank 0: no space/);
});
