// The launcher: results come back by rank, and one failing rank ends the job naming that rank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './launch.js';
import { findMpirun } from './mpi-group.js';
import { RankError, RankInputError } from './process-group.js';
import { reportError } from '../cli/run.js';

const fixtures = new URL('./testing/launch-fixtures.js', import.meta.url);
const noMpi = findMpirun() === undefined ? 'Open MPI is not installed (mpirun not found)' : false;

for (const backend of ['threads', 'mpi'] as const) {
  const skip = backend === 'mpi' ? noMpi : false;

  test(`${backend}: args reach every rank and results come back by rank`, { skip }, async () => {
    const r = await launch(fixtures, { ranks: 3, backend, exportName: 'echo', args: { k: 7 } });
    assert.deepEqual(r, [0, 1, 2].map((rank) => ({ rank, size: 3, k: 7 })));
  });

  test(`${backend}: a rank that throws mid-collective ends the job naming it`, { skip, timeout: 30_000 }, async () => {
    await assert.rejects(
      launch(fixtures, { ranks: 3, backend, exportName: 'throwMidCollective', args: { failRank: 1, failStep: 3 } }),
      (e: unknown) => e instanceof RankError && e.rank === 1 && /injected failure at step 3/.test(e.message),
    );
  });

  test(`${backend}: a rank's bad input stays bad input (exit 2, its own line); a check or an internal error exits 1 naming the rank`, { skip, timeout: 60_000 }, async () => {
    const cases = [['input', 2, /^furnace: injected input error\n$/], ['check', 1, /^furnace: rank 1 failed: injected check error\n$/],
      ['internal', 1, /^furnace: rank 1 failed: injected internal error\n$/]] as const;
    for (const [kind, code, text] of cases) {
      const e = await launch(fixtures, { ranks: 2, backend, exportName: 'throwKind', args: { failRank: 1, kind } }).then(() => undefined, (x: unknown) => x);
      assert.ok(kind === 'input' ? e instanceof RankInputError && e.rank === 1 : e instanceof RankError && e.rank === 1, `${kind}: ${String(e)}`);
      const r = reportError(e, ['train']);
      assert.equal(r.code, code, kind);
      assert.match(r.text, text);
    }
  });

  test(`${backend}: a rank that dies without a report (process.exit) is still named`, { skip, timeout: 30_000 }, async () => {
    await assert.rejects(
      launch(fixtures, { ranks: 3, backend, exportName: 'dieAbruptly', args: { dieRank: 2 } }),
      (e: unknown) => e instanceof RankError && e.rank === 2 && /exited with code 3/.test(e.message),
    );
  });
}


test('threads: a rank that leaves while the others wait for it is reported', { timeout: 30_000 }, async () => {
  await assert.rejects(
    launch(fixtures, { ranks: 2, exportName: 'leaveEarly', args: { leaveRank: 0 } }),
    (e: unknown) => e instanceof RankError && e.rank === 1 && /rank 0 exited while barrier waited/.test(e.message),
  );
});

test('threads: a rank stuck in a loop cannot hang the job past timeoutS', { timeout: 30_000 }, async () => {
  await assert.rejects(launch(fixtures, { ranks: 2, exportName: 'stuck', args: { stuckRank: 1, busy: true }, timeoutS: 2, graceS: 1 }),
    /did not finish within 2 s/);
});

test('threads: commTimeoutS turns a collective that waits forever into an error naming the missing rank', { timeout: 30_000 }, async () => {
  await assert.rejects(launch(fixtures, { ranks: 2, exportName: 'stuck', args: { stuckRank: 1, busy: false }, commTimeoutS: 1, graceS: 1 }),
    (e: unknown) => e instanceof RankError && e.rank === 0 && /barrier waited 1 s for rank 1/.test(e.message));
});

test('threads: a missing export is a clear error', async () => {
  await assert.rejects(launch(fixtures, { ranks: 2, exportName: 'nope' }), /does not export a function 'nope'/);
});
