// Activation recomputation per transformer block: 'selective' recomputes the attention sublayer in
// the backward pass (its (B, H, T, T) scores grow with T^2), 'full' the whole block, so that only
// each block's input (B*T, C) is kept between the passes (Korthikanti et al., arXiv 2205.05198, §5).
import type { Tensor } from '../tensor/tensor.js';
import { Rng } from '../tensor/random.js';
import { checkpoint } from '../autograd/checkpoint.js';
import type { Block } from './gpt.js';
import type { MoEStats } from './layers.js';

export const RECOMPUTE_MODES = ['none', 'selective', 'full'] as const;
export type Recompute = (typeof RECOMPUTE_MODES)[number];

/** Block.forward with the block's activations recomputed in the backward pass as `mode` says. */
export async function blockForward(blk: Block, x: Tensor, b: number, t: number, rng: Rng, mode: Recompute): Promise<{ x: Tensor; moe?: MoEStats }> {
  if (mode === 'none') return blk.forward(x, b, t, rng);
  if (mode === 'selective') {
    // Block.forward with its attention half checkpointed.
    const [a] = await checkpoint(async ([h]) => [await blk.attention(h!, b, t)], [x]);
    return blk.feedForward(x.add(a!), rng, t);
  }
  // The recomputation draws the routing noise the forward pass drew.
  const state = rng.state();
  let stats: MoEStats | undefined;
  const outs = await checkpoint(async ([h], replay) => {
    const r = replay ? new Rng(0) : rng;
    if (replay) r.setState(state);
    const o = await blk.forward(h!, b, t, r);
    if (!replay) stats = o.moe;
    if (o.moe === undefined) return [o.x];
    return o.moe.zLoss === null ? [o.x, o.moe.auxLoss] : [o.x, o.moe.auxLoss, o.moe.zLoss];
  }, [x]);
  const y = outs[0]!;
  if (stats === undefined) return { x: y };
  return { x: y, moe: { ...stats, auxLoss: outs[1]!, zLoss: stats.zLoss === null ? null : outs[2]! } };
}
