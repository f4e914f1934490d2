// A training run's state as sharded tensors in global coordinates (parameters, buffers such as the
// router bias, and the optimizer's moments), and its restoration into any layout: each rank asks
// for the blocks it holds now.
import type { ParamInfo } from '../nn/module.js';
import type { ParallelContext } from '../parallel/context.js';
import type { MomentState, ParallelAdamW } from '../optim/parallel-adamw.js';
import { readShards, type ShardedArray, type ShardedTensor } from '../checkpoint/index.js';

/** Where this rank's block of a parameter lies in the global tensor, and who else holds it. */
export function geometry(info: ParamInfo, ctx: ParallelContext): Omit<ShardedTensor, 'key'> {
  const local = [...info.param.shape];
  const s = info.spec;
  if (s === undefined) {
    // Holders: every rank of the stage (of the whole world without pipeline stages), times the
    // stages holding a tied copy.
    const world = ctx.groups.world, stageSize = ctx.dp * ctx.tp;
    const [id, n] = ctx.pp === 1 ? [world.rank, world.size] : [ctx.dpIndex * ctx.tp + ctx.tpIndex, stageSize];
    const t = info.tied ?? { copy: 0, copies: 1 };
    return { dtype: 'f32', globalShape: local, offset: local.map(() => 0), localShape: local, replicaId: t.copy * n + id, replicas: t.copies * n };
  }
  const offset = local.map((d, i) => (i === s.dim ? s.index * d : 0));
  // Holders of the same block: a tp block is on every dp rank with the same tp index; an expert
  // block on every tp rank and expert-data-parallel replica with the same ep index.
  const edpIndex = Math.floor(ctx.dpIndex / ctx.ep);
  const [replicaId, replicas] = s.axis === 'tp' ? [ctx.dpIndex, ctx.dp] : [edpIndex * ctx.tp + ctx.tpIndex, ctx.tp * (ctx.dp / ctx.ep)];
  return { dtype: 'f32', globalShape: [...s.globalShape], offset, localShape: local, replicaId, replicas };
}

export const paramKey = (name: string) => `model.${name}`;
const momentKey = (which: 'm' | 'v', name: string) => `optim.${which}.${name}`;

/** A parameter's optimizer state arrays (none for a buffer). */
function kindsOf(info: ParamInfo, opt: ParallelAdamW): ('m' | 'v')[] {
  return info.param.requiresGrad ? opt.stateKinds(info) : [];
}

/** The pieces collectState returns, without their data (to reserve staging memory up front). */
export function stateLayout(infos: readonly ParamInfo[], opt: ParallelAdamW, ctx: ParallelContext): ShardedTensor[] {
  return infos.flatMap((info) => {
    const g = geometry(info, ctx);
    return [paramKey(info.name), ...kindsOf(info, opt).map((w) => momentKey(w, info.name))].map((key) => ({ key, ...g }));
  });
}

/** This rank's pieces: every parameter or buffer block and its optimizer state (AdamW: m and v; Muon: m). */
export async function collectState(infos: readonly ParamInfo[], opt: ParallelAdamW, ctx: ParallelContext): Promise<ShardedArray[]> {
  const moments = new Map((await opt.state()).map((s) => [s.name, s]));
  const out: ShardedArray[] = [];
  for (const info of infos) {
    const g = geometry(info, ctx);
    out.push({ key: paramKey(info.name), ...g, data: info.param.data });
    const mo = moments.get(info.name);
    if (mo === undefined) continue;
    out.push({ key: momentKey('m', info.name), ...g, data: mo.m });
    if (mo.v !== null) out.push({ key: momentKey('v', info.name), ...g, data: mo.v });
  }
  return out;
}

/** Loads parameters, buffers and optimizer state for this rank's layout from a checkpoint directory. */
export async function restoreState(dir: string, infos: readonly ParamInfo[], opt: ParallelAdamW, ctx: ParallelContext,
  optimizerStep: number, verify: boolean): Promise<void> {
  const want = stateLayout(infos, opt, ctx);
  const got = new Map((await readShards(dir, want, { verify })).map((a) => [a.key, a.data]));
  const moments: MomentState[] = [];
  for (const info of infos) {
    info.param.data.set(got.get(paramKey(info.name))!);
    if (kindsOf(info, opt).length === 0) continue;
    moments.push({ name: info.name, m: got.get(momentKey('m', info.name))!, v: got.get(momentKey('v', info.name)) ?? null });
  }
  opt.load(moments, optimizerStep);
}
