// The 1F1B schedule on every communication backend: each stage receives exactly what its
// neighbours sent for each micro-batch, in 1F1B order, also with messages larger than one
// channel slot (threads) or the eager limit (MPI), where a wrongly ordered exchange would deadlock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from '../comm/launch.js';
import { findMpirun } from '../comm/mpi-group.js';
import { groupLayout } from '../comm/threads-shared.js';

const schedule = new URL('./testing/pipeline.case.js', import.meta.url);
const noMpi = findMpirun() === undefined ? 'Open MPI is not installed (mpirun not found)' : false;

/** 1F1B order of stage s of p over m micro-batches: w = min(p - s - 1, m) forwards, then F/B pairs, then the last w backwards. */
function expected(s: number, p: number, m: number): string[] {
  const w = Math.min(p - s - 1, m), out: string[] = [];
  for (let i = 0; i < w; i++) out.push(`F${i}`);
  for (let i = 0; i < m - w; i++) out.push(`F${w + i}`, `B${i}`);
  for (let i = m - w; i < m; i++) out.push(`B${i}`);
  return out;
}

for (const p of [2, 3, 4]) {
  test(`threads: 1F1B on ${p} stages delivers every activation and gradient, in order`, { timeout: 60_000 }, async () => {
    for (const [micro, floats] of [[1, 5], [3, 5], [2 * p, groupLayout(p).chanFloats + 13]] as const) {
      const got = await launch<string[]>(schedule, { ranks: p, args: { micro, floats }, timeoutS: 50, commTimeoutS: 20 });
      got.forEach((order, s) => assert.deepEqual(order, expected(s, p, micro), `stage ${s}, ${micro} micro-batches of ${floats}`));
    }
  });
}

for (const p of [2, 3]) {
  test(`mpi: 1F1B on ${p} stages with messages past the eager limit`, { skip: noMpi, timeout: 90_000 }, async () => {
    const got = await launch<string[]>(schedule, { ranks: p, backend: 'mpi', args: { micro: 2 * p, floats: 300_000 }, timeoutS: 80 });
    got.forEach((order, s) => assert.deepEqual(order, expected(s, p, 2 * p), `stage ${s}`));
  });
}
