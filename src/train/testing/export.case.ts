// Rank program for the export test: the final model of a dp2 world with experts over ep2 written both ways, whole
// (gatherParams, then writeSafetensors) and streamed (exportModel), by world rank 0.
import { join } from 'node:path';
import type { ProcessGroup } from '../../comm/process-group.js';
import { makeProcessGroups } from '../../comm/groups.js';
import { contextOf } from '../../parallel/context.js';
import { gatherParams } from '../../parallel/gather.js';
import { GPT } from '../../nn/gpt.js';
import { writeSafetensors } from '../../nn/safetensors.js';
import { BpeTokenizer } from '../../data/tokenizer.js';
import { PRESETS } from '../config.js';
import { exportModel } from '../model-dir.js';

export async function main(world: ProcessGroup, args: { dir: string }): Promise<void> {
  const ctx = contextOf(await makeProcessGroups(world, { dp: 2, tp: 1, ep: 2 }));
  const cfg = { model: { ...PRESETS.tiny.model, n_layers: 2, d_model: 32, d_ff: 64, expert_d_ff: 48 }, train: PRESETS.tiny.train };
  const infos = new GPT(cfg.model, 7, ctx).parameterInfo();
  const rank0 = world.rank === 0;
  const whole = await gatherParams(infos, ctx, rank0);
  if (rank0) writeSafetensors(join(args.dir, 'whole.safetensors'), [...whole].map(([name, p]) => ({ name, ...p })), { format: 'furnace' });
  const tokenizer = BpeTokenizer.train('', { vocabSize: 256 });
  await exportModel(join(args.dir, 'streamed'), infos, ctx, rank0 ? { cfg, tokenizer } : null);
}
