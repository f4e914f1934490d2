// Rank program for the schedule tests: runSchedule over the world with stand-in stages that check
// every array they receive and record the order in which they ran.
import assert from 'node:assert/strict';
import type { ProcessGroup } from '../../comm/process-group.js';
import { runSchedule, type StageWork } from '../pipeline.js';

/** What virtual stage s sends for micro-batch i, forward ('F') or backward ('B'): distinct in every element. */
function payload(s: number, i: number, kind: 'F' | 'B', n: number): Float32Array {
  const a = new Float32Array(n);
  for (let k = 0; k < n; k++) a[k] = s * 1000 + i * 10 + (kind === 'F' ? 1 : 2) + (k % 97) / 128;
  return a;
}

/** Runs the schedule; returns the stage's order of work, e.g. ['F0.0', 'F1.0', 'B0.0', ...] (micro-batch.chunk). */
export async function main(world: ProcessGroup, args: { micro: number; floats: number; virtual?: number }): Promise<string[]> {
  const p = world.size, r = world.rank, v = args.virtual ?? 1, last = p * v - 1, { micro, floats } = args;
  const order: string[] = [];
  const work: StageWork = {
    forward: async (i, k, input) => {
      const s = k * p + r;
      if (s > 0) assert.deepEqual(input, payload(s - 1, i, 'F', floats), `virtual stage ${s} F${i} input`);
      else assert.equal(input, null);
      order.push(`F${i}.${k}`);
      return s < last ? payload(s, i, 'F', floats) : null;
    },
    backward: async (i, k, gradOutput) => {
      const s = k * p + r;
      if (s < last) assert.deepEqual(gradOutput, payload(s + 1, i, 'B', floats), `virtual stage ${s} B${i} gradient`);
      else assert.equal(gradOutput, null);
      order.push(`B${i}.${k}`);
      return s > 0 ? payload(s, i, 'B', floats) : null;
    },
  };
  await runSchedule(world, { stages: p, virtual: v, micro }, floats, work);
  return order;
}
