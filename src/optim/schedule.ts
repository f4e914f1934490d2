// Learning-rate schedule: linear warmup, then cosine decay to minLr (GPT-3 / nanoGPT).

export interface ScheduleOptions {
  lr: number;
  minLr: number;
  warmup: number;
  total: number;
}

/** Learning rate for 0-based step `it`. */
export function learningRate(it: number, o: ScheduleOptions): number {
  if (it < o.warmup) return (o.lr * (it + 1)) / o.warmup;
  if (it >= o.total) return o.minLr;
  const ratio = (it - o.warmup) / Math.max(1, o.total - o.warmup);
  return o.minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (o.lr - o.minLr);
}
