// Whether `furnace train` can run a plan, and if not, what it lacks, named (the plan JSON's `runnable`).
import type { ParallelPlan } from './plan.js';
import { TRAINER_CAPABILITIES, type TrainerCapabilities } from '../train/capabilities.js';

/** The parts of `p` the trainer cannot run, each named with the plan's value; empty when it runs. */
export function missingCapabilities(p: ParallelPlan, caps: TrainerCapabilities = TRAINER_CAPABILITIES): string[] {
  const out: string[] = [];
  if (p.pp > 1 && !caps.pipeline) out.push(`pipeline parallelism (pp ${p.pp})`);
  const split = p.ppLayers ?? [];
  if (p.pp > 1 && caps.pipeline && !caps.unevenStages && split.some((n) => n !== split[0])) out.push(`uneven pipeline stages (pp_layers ${split.join(',')})`);
  if ((p.virtualStages ?? 1) > 1 && !caps.interleaved) out.push(`the interleaved schedule (virtual_stages ${p.virtualStages})`);
  if (p.zero > caps.maxZero) out.push(`ZeRO-${p.zero} (the trainer runs ZeRO stages 0-${caps.maxZero})`);
  if (!caps.recompute.includes(p.recompute)) out.push(`recompute ${p.recompute} (the trainer runs ${caps.recompute.join(', ')})`);
  return out;
}

/** `{runnable: true}` or `{runnable: false, reason}` with every missing part in one line. */
export function runnableBy(p: ParallelPlan, caps: TrainerCapabilities = TRAINER_CAPABILITIES): { runnable: boolean; reason?: string } {
  const missing = missingCapabilities(p, caps);
  return missing.length === 0 ? { runnable: true } : { runnable: false, reason: `furnace train does not run ${missing.join(', ')}` };
}
