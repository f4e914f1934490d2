// Rank program for the schedule tests: run1F1B over the world with stand-in stages that check
// every array they receive and record the order in which they ran.
import assert from 'node:assert/strict';
import type { ProcessGroup } from '../../comm/process-group.js';
import { run1F1B, type StageWork } from '../pipeline.js';

/** What stage s sends for micro-batch i, forward ('F') or backward ('B'): distinct in every element. */
function payload(s: number, i: number, kind: 'F' | 'B', n: number): Float32Array {
  const a = new Float32Array(n);
  for (let k = 0; k < n; k++) a[k] = s * 1000 + i * 10 + (kind === 'F' ? 1 : 2) + (k % 97) / 128;
  return a;
}

/** Runs the schedule; returns the stage's order of work, e.g. ['F0', 'F1', 'B0', ...]. */
export async function main(world: ProcessGroup, args: { micro: number; floats: number }): Promise<string[]> {
  const s = world.rank, last = world.size - 1, { micro, floats } = args;
  const order: string[] = [];
  const work: StageWork = {
    forward: async (i, input) => {
      if (s > 0) assert.deepEqual(input, payload(s - 1, i, 'F', floats), `stage ${s} F${i} input`);
      else assert.equal(input, null);
      order.push(`F${i}`);
      return s < last ? payload(s, i, 'F', floats) : null;
    },
    backward: async (i, gradOutput) => {
      if (s < last) assert.deepEqual(gradOutput, payload(s + 1, i, 'B', floats), `stage ${s} B${i} gradient`);
      else assert.equal(gradOutput, null);
      order.push(`B${i}`);
      return s > 0 ? payload(s, i, 'B', floats) : null;
    },
  };
  await run1F1B(world, micro, floats, work);
  return order;
}
