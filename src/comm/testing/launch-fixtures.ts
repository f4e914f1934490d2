// Rank programs that misbehave on purpose, for the launcher's failure tests.
import type { ProcessGroup } from '../process-group.js';
import { CheckError, InputError } from '../../util/errors.js';

/** Steps of all-reduce; rank `failRank` throws at step `failStep` while the others are inside one. */
export async function throwMidCollective(world: ProcessGroup, args: { failRank: number; failStep: number }): Promise<number> {
  const x = new Float32Array(1 << 20);
  for (let step = 0; step < 10_000; step++) {
    if (world.rank === args.failRank && step === args.failStep) throw new Error(`injected failure at step ${step}`);
    x.fill(1);
    await world.allReduce(x);
    if (x[0] !== world.size) throw new Error(`step ${step}: wrong sum ${x[0]}`);
  }
  return 0;
}

/** Rank `leaveRank` returns early; the others then wait for it in a barrier. */
export async function leaveEarly(world: ProcessGroup, args: { leaveRank: number }): Promise<number> {
  await world.barrier();
  if (world.rank === args.leaveRank) return 1;
  await world.barrier();
  return 0;
}

/** Returns what each rank saw, to check that args and results travel. */
export async function echo(world: ProcessGroup, args: { k: number }): Promise<{ rank: number; size: number; k: number }> {
  return { rank: world.rank, size: world.size, k: args.k };
}

/** Rank `dieRank` ends its process abruptly (no error report) after one collective. */
export async function dieAbruptly(world: ProcessGroup, args: { dieRank: number }): Promise<number> {
  await world.barrier();
  if (world.rank === args.dieRank) process.exit(3);
  await world.allReduce(new Float32Array(10));
  return 0;
}

/** Rank `stuckRank` never reaches the barrier: it spins (busy) or sleeps (idle) for a minute. */
export async function stuck(world: ProcessGroup, args: { stuckRank: number; busy: boolean }): Promise<number> {
  if (world.rank === args.stuckRank) {
    const until = Date.now() + 60_000;
    if (args.busy) while (Date.now() < until) { /* a rank lost in a loop */ }
    else await new Promise((res) => setTimeout(res, 60_000));
    return 1;
  }
  await world.barrier();
  return 0;
}

/** Rank `failRank` throws an error of kind `kind` after one barrier (bad input, a failed check, or a plain Error). */
export async function throwKind(world: ProcessGroup, args: { failRank: number; kind: 'input' | 'check' | 'internal' }): Promise<number> {
  await world.barrier();
  if (world.rank === args.failRank) {
    const message = `injected ${args.kind} error`;
    throw args.kind === 'input' ? new InputError(message) : args.kind === 'check' ? new CheckError(message) : new Error(message);
  }
  await world.barrier();
  return 0;
}
