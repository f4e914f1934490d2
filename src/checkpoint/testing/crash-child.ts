// Test helper run as a child process: saves step 2 of a 2-rank state; crash.test.ts kills it with
// FURNACE_CKPT_CRASH_AFTER at each durable step in turn. Prints the number of durable steps taken.
import { Checkpointer } from '../save.js';
import { durableStepCount } from '../../util/durable.js';
import { crashState } from './fixtures.js';
import { localGroup } from '../types.js';

const [root, mode] = process.argv.slice(2);
if (root === undefined || (mode !== 'sync' && mode !== 'async')) throw new Error('usage: crash-child ROOT sync|async');
const group = localGroup(2);
await Promise.all(group.map(async (co) => {
  const cp = new Checkpointer({ root, coordinator: co, keep: 1, async: mode === 'async', hashBlockBytes: 256 });
  await cp.save(2, crashState(2, co.rank), { step: 2 });
  await cp.wait();
}));
process.stdout.write(JSON.stringify({ steps: durableStepCount() }) + '\n');
