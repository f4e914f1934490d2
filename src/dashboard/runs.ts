// Reads run folders (metrics.jsonl, config.json, summary.json, ckpt/) and data-cleaning reports for the dashboard.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointReader } from '../checkpoint/load.js';
import { readLatest } from '../checkpoint/commit.js';
import { MANIFEST, parseStepDirName } from '../checkpoint/types.js';
import type { CheckpointInfo, DataInfo, MetricsRecord, RunDetail, RunInfo, RunStatus } from './types.js';
import { errorMessage } from '../util/errors.js';

/** A run whose metrics.jsonl changed within this many seconds, and has no summary.json, is running. */
export const RUNNING_WINDOW_S = 120;

/** Names are single path segments of letters, digits, '.', '_' and '-' (never '.' or '..'). */
export function isSafeName(name: string): boolean {
  return /^[\w.-]+$/.test(name) && name !== '.' && name !== '..';
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

/** Complete records of a metrics file; a torn last line (a write in progress) is left for the next read. */
export function parseMetrics(text: string): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  const lines = text.split('\n');
  if (!text.endsWith('\n')) lines.pop();
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as MetricsRecord;
      if (typeof r === 'object' && r !== null && typeof r.step === 'number') out.push(r);
    } catch {
      // A damaged line is skipped; the rest of the run still shows.
    }
  }
  return out;
}

/** Entries of a folder; none when it is missing or unreadable. */
function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Sub-folders of `root` that hold a metrics.jsonl, newest first. */
export function listRuns(root: string): RunInfo[] {
  return entries(root).filter((n) => isSafeName(n) && existsSync(join(root, n, 'metrics.jsonl')))
    .map((n) => runInfo(root, n))
    .sort((a, b) => b.updated - a.updated);
}

type Counts = Pick<RunInfo, 'records' | 'steps' | 'last_loss' | 'last_val_loss'>;

/** What a metrics file says, by path, size and time: the runs list is polled, big files are parsed once. */
const counted = new Map<string, { key: string; counts: Counts }>();

function countsOf(metrics: MetricsRecord[]): Counts {
  const last = metrics[metrics.length - 1];
  let lastVal: number | null = null;
  for (const r of metrics) if (typeof r.val_loss === 'number') lastVal = r.val_loss;
  return { records: metrics.length, steps: last === undefined ? 0 : last.step + 1, last_loss: last?.loss ?? null, last_val_loss: lastVal };
}

function runInfo(root: string, name: string, metrics?: MetricsRecord[]): RunInfo {
  const dir = join(root, name), path = join(dir, 'metrics.jsonl');
  const st = statSync(path);
  const key = `${st.size}@${st.mtimeMs}`;
  let counts = metrics === undefined ? counted.get(path)?.key === key ? counted.get(path)!.counts : undefined : countsOf(metrics);
  if (counts === undefined) {
    counts = countsOf(parseMetrics(readFileSync(path, 'utf8')));
    counted.set(path, { key, counts });
  }
  const updated = st.mtimeMs / 1000;
  const status: RunStatus = existsSync(join(dir, 'summary.json')) ? 'done'
    : Date.now() / 1000 - updated < RUNNING_WINDOW_S ? 'running' : 'stopped';
  return { name, ...counts, status, updated };
}

/** Everything about one run, or undefined when `name` is not a run under `root`. */
export function readRunDetail(root: string, name: string): RunDetail | undefined {
  if (!isSafeName(name)) return undefined;
  const dir = join(root, name);
  if (!existsSync(join(dir, 'metrics.jsonl'))) return undefined;
  const metrics = parseMetrics(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'));
  const summary = readJson(join(dir, 'summary.json'));
  return {
    ...runInfo(root, name, metrics),
    config: readJson(join(dir, 'config.json')),
    summary: typeof summary === 'object' && summary !== null ? summary as Record<string, unknown> : null,
    metrics,
  };
}

/** Verify results by folder and manifest time: a committed checkpoint never changes, so it is hashed once. */
const verified = new Map<string, CheckpointInfo>();

/** The checkpoints under RUN/ckpt, oldest first, each hashed end to end with the checkpoint library. */
export async function checkpoints(runDir: string): Promise<CheckpointInfo[]> {
  const root = join(runDir, 'ckpt');
  const names = entries(root);
  const latest = await readLatest(root);
  const out: CheckpointInfo[] = [];
  for (const name of names) {
    const step = parseStepDirName(name);
    if (step === undefined) continue;
    const dir = join(root, name);
    const manifest = join(dir, MANIFEST);
    const base = { name, step, latest: name === latest };
    if (!existsSync(manifest)) {
      out.push({ ...base, status: 'uncommitted', bytes: 0, files: 0, problems: [] });
      continue;
    }
    const key = `${dir}@${statSync(manifest).mtimeMs}`;
    let info = verified.get(key);
    if (info === undefined) {
      info = await verifyOne(dir, base);
      verified.set(key, info);
    }
    out.push({ ...info, latest: base.latest });
  }
  return out.sort((a, b) => a.step - b.step);
}

async function verifyOne(dir: string, base: { name: string; step: number; latest: boolean }): Promise<CheckpointInfo> {
  let reader: CheckpointReader;
  try {
    reader = await CheckpointReader.open(dir);
  } catch (e) {
    return { ...base, status: 'corrupt', bytes: 0, files: 0, problems: [errorMessage(e)] };
  }
  try {
    const { bytes, problems } = await reader.verifyAll();
    return { ...base, status: problems.length === 0 ? 'ok' : 'corrupt', bytes, files: reader.manifest.files.length, problems: problems.map((p) => p.message) };
  } finally {
    await reader.close();
  }
}

/** Sub-folders of `root` holding a report.json of `furnace data clean`. */
export function listDataReports(root: string): DataInfo[] {
  const out: DataInfo[] = [];
  for (const name of entries(root)) {
    if (!isSafeName(name)) continue;
    const r = readDataReport(root, name);
    if (r === undefined) continue;
    out.push({ name, docs_in: Number(r['docs_in']), docs_out: Number(r['docs_out']), input: String(r['input']) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The report.json of a cleaning run (checked to have its stages), or undefined. */
export function readDataReport(root: string, name: string): Record<string, unknown> | undefined {
  if (!isSafeName(name)) return undefined;
  const r = readJson(join(root, name, 'report.json'));
  if (typeof r !== 'object' || r === null || !Array.isArray((r as Record<string, unknown>)['stages'])) return undefined;
  return r as Record<string, unknown>;
}
