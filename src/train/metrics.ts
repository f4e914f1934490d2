// One line of a run's metrics.jsonl, as the trainer writes it (no node: imports: the dashboard's
// browser code reads the same type).

/** Written for every logged step (rank 0); val_loss when the step evaluated. Units: SI. */
export interface MetricsRecord {
  step: number;
  loss: number;
  val_loss?: number;
  lr: number;
  tokens_per_s: number;
  step_time_s: number;
  model_flops_per_s: number;
  mfu: number;
  /**
   * The step's seconds by phase (rank 0's clock): allreduce, every collective but the all-to-all
   * (gradient reduction, tensor-parallel all-reduces, ZeRO-1 gathers); alltoall, the expert
   * all-to-all; ckpt, the checkpoint save; compute, the rest. wait (threads backend): the part of
   * allreduce + alltoall this rank spent blocked for its peers to arrive, not moving data.
   */
  time: { compute: number; allreduce: number; alltoall: number; ckpt: number; wait?: number };
  expert_load: number[][];
  /** Per MoE layer (L, E): the router's selection bias after the step, when model.router_bias_rate > 0. */
  router_bias?: number[][];
  aux_loss: number;
  /** Router z-loss (sum over MoE layers), when model.router_z_loss_coef > 0. */
  z_loss?: number;
  grad_norm: number;
  dropped_tokens: number;
  /** With pipeline stages: each stage's time waiting for its neighbours over the step's time. */
  bubble?: number[];
  /** Rank 0's peak bytes in the step by component (train/memory.ts), on backends that account memory. */
  memory?: { weights: number; grads: number; optimizer: number; activations: number; buffers: number; peak: number; rss_peak: number };
  /** Every rank's peak bytes in the step, by world rank (the same fields as memory). */
  memory_ranks?: { weights: number; grads: number; optimizer: number; activations: number; buffers: number; peak: number; rss_peak: number }[];
}
