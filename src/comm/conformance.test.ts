// Runs the shared conformance suite on every communication backend: threads always, MPI when
// mpirun is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './launch.js';
import { findMpirun } from './mpi-group.js';

const suite = new URL('./testing/conformance.case.js', import.meta.url);
const mpirun = findMpirun();
const noMpi = mpirun === undefined ? 'Open MPI is not installed (mpirun not found): apt-get install openmpi-bin libopenmpi-dev' : false;

function expectAll(results: string[][], ranks: number): void {
  assert.equal(results.length, ranks);
  const first = results[0] ?? [];
  assert.ok(first.includes('world allToAll variable') && first.includes('parity send/recv') === ranks > 2);
  for (const r of results) assert.ok(r.length >= 20, `only ${r.length} checks ran`);
}

for (const ranks of [1, 2, 3, 4]) {
  test(`threads backend conforms on ${ranks} rank(s)`, async () => {
    expectAll(await launch<string[]>(suite, { ranks, timeoutS: 60 }), ranks);
  });
}

for (const ranks of [2, 3]) {
  test(`mpi backend conforms on ${ranks} ranks`, { skip: noMpi }, async () => {
    expectAll(await launch<string[]>(suite, { ranks, backend: 'mpi', timeoutS: 90 }), ranks);
  });
}
