// Shapes the dashboard server, the web app and the static reports share (browser-safe: no node: imports).
import type { ClusterSpec } from '../planner/cluster.js';
import type { Estimate } from '../planner/cost.js';
import type { ModelSpec } from '../planner/model.js';
import type { TrainingSpec } from '../planner/training.js';
import type { MetricsRecord as TrainerRecord } from '../train/metrics.js';

/** One line of a run's metrics.jsonl as the dashboard reads it: the trainer's record with every
 * field but step, loss and lr optional, since runs of older and newer trainers differ. */
export type MetricsRecord = Pick<TrainerRecord, 'step' | 'loss' | 'lr'>
  & Partial<Omit<TrainerRecord, 'step' | 'loss' | 'lr' | 'time'>>
  & { time?: Partial<TrainerRecord['time']> };

/** done: summary.json written; running: metrics.jsonl written to recently; stopped: neither (crashed or killed). */
export type RunStatus = 'done' | 'running' | 'stopped';

/** One entry of GET /api/runs. */
export interface RunInfo {
  name: string;
  /** Logged records in metrics.jsonl. */
  records: number;
  /** Last logged step + 1 (steps done), 0 before the first record. */
  steps: number;
  last_loss: number | null;
  last_val_loss: number | null;
  status: RunStatus;
  /** Seconds since the epoch of the last write to metrics.jsonl. */
  updated: number;
}

export interface CheckpointInfo {
  /** Folder name, e.g. step-00000100. */
  name: string;
  step: number;
  latest: boolean;
  /** ok: every shard's bytes match their hashes; corrupt: problems lists why; uncommitted: no manifest. */
  status: 'ok' | 'corrupt' | 'uncommitted';
  bytes: number;
  files: number;
  problems: string[];
}

/** GET /api/runs/NAME: everything one run page shows. */
export interface RunDetail extends RunInfo {
  config: unknown;
  summary: Record<string, unknown> | null;
  metrics: MetricsRecord[];
}

/** A data cleaning report folder (report.json of `furnace data clean`). */
export interface DataInfo {
  name: string;
  docs_in: number;
  docs_out: number;
  input: string;
}

/** Everything the plans page shows for one planning problem (also what `plan --report` embeds). */
export interface PlanReport {
  model: ModelSpec;
  cluster: ClusterSpec;
  training: TrainingSpec;
  /** Ranked, best first. */
  plans: Estimate[];
  explanation: string[];
  searched: number;
  evaluated: number;
  devices: number;
}

/** What a static report embeds for the app to render without a server. */
export type EmbeddedReport =
  | { kind: 'run'; run: RunDetail; checkpoints: CheckpointInfo[] }
  | { kind: 'plan'; plan: PlanReport };
