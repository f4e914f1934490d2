// Collectives as differentiable ops: each pairs a forward collective with the one its gradient
// needs (src/comm/collective-pairs.ts names and tests the pairs), on tensors in backend memory.
// Over a group of one rank each is the identity and returns its input (no copy, no graph node).
// Their time is read from the group: wrap the world in a TimedGroup (comm/timed-group.ts).
import type { ProcessGroup } from '../comm/process-group.js';
import { copyToParallelRegion, reduceFromParallelRegion, allToAllEqualPair, type CollectivePair } from '../comm/collective-pairs.js';
import { Tensor, result } from '../tensor/tensor.js';
import { backend } from '../tensor/engine.js';

/** Copies a into new backend memory (collectives may work in place or return JS arrays). */
function own(a: Float32Array): Float32Array {
  const out = backend().alloc(a.length);
  out.set(a);
  return out;
}

/** Runs a collective on a copy of x; the result lives in backend memory. */
async function run(f: (g: ProcessGroup, a: Float32Array) => Promise<Float32Array>, group: ProcessGroup, x: Float32Array): Promise<Float32Array> {
  const buf = own(x);
  const y = await f(group, buf);
  if (y === buf) return buf;
  backend().free(buf);
  return own(y);
}

async function pairOp(pair: CollectivePair, group: ProcessGroup, x: Tensor): Promise<Tensor> {
  if (group.size === 1) return x;
  const y = await run(pair.forward, group, x.data);
  return result(pair.name, y, x.shape, [x], async (g) => [new Tensor(await run(pair.backward, group, g.data), x.shape)]);
}

/** f: forward identity, backward all-reduce over the group (input of a column-parallel layer). */
export function copyToParallel(x: Tensor, group: ProcessGroup): Promise<Tensor> {
  return pairOp(copyToParallelRegion, group, x);
}

/** g: forward all-reduce (sum), backward identity (output of a row-parallel layer). */
export function reduceFromParallel(x: Tensor, group: ProcessGroup): Promise<Tensor> {
  return pairOp(reduceFromParallelRegion, group, x);
}

/**
 * Equal-split all-to-all along axis 0: x (p, ...) sends block j to rank j and receives block j
 * from rank j; the gradient goes back the same way.
 */
export function allToAllBlocks(x: Tensor, group: ProcessGroup): Promise<Tensor> {
  const p = group.size;
  if (x.shape[0] !== p) throw new Error(`allToAll: leading dimension ${x.shape[0]} must equal the group size ${p}`);
  return pairOp(allToAllEqualPair, group, x);
}
