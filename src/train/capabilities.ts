// What `furnace train` can run of a parallel plan; the planner marks plans against it and `train --plan` refuses the rest.

export interface TrainerCapabilities {
  /** Pipeline stages (pp > 1). */
  pipeline: boolean;
  /** Stages of different layer counts (pp_layers not all equal). */
  unevenStages: boolean;
  /** The interleaved 1F1B schedule (virtual_stages > 1). */
  interleaved: boolean;
  /** Highest ZeRO stage: 1 shards the optimizer state; 2 also gradients; 3 also weights. */
  maxZero: 0 | 1 | 2 | 3;
  /** Activation recomputation modes ('none' keeps every activation for backward). */
  recompute: readonly ('none' | 'selective' | 'full')[];
}

/** This trainer: dp, tp, ep and pp (1F1B or interleaved, even or uneven stages) in any composition, ZeRO-1, every recomputation mode. */
export const TRAINER_CAPABILITIES: TrainerCapabilities = {
  pipeline: true,
  unevenStages: true,
  interleaved: true,
  maxZero: 1,
  recompute: ['none', 'selective', 'full'],
};
