// The commit protocol of a save: temporary directory, parts from every rank, manifest last,
// rename, `latest` pointer, retention. Only rank 0 commits; other ranks publish parts.
import { readdir, readFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicReplace, fsyncDir, publishFile, removeStep, renameStep, writeFileSynced } from '../util/durable.js';
import { pieceId, type PlannedPiece } from './plan.js';
import { FORMAT, FORMAT_VERSION, LATEST, MANIFEST, parseStepDirName, stepDirName,
  type FileEntry, type Json, type Manifest, type TensorEntry } from './types.js';
import { errorMessage } from '../util/errors.js';

/** What a rank reports after its shard file is written and fsynced (`part-RRRRR.json`). */
export interface RankPart {
  rank: number;
  file: FileEntry | null;
  shards: { id: string; byteRange: [number, number]; sha256: string[] }[];
}

const rankName = (prefix: string, rank: number, ext: string) => `${prefix}-${String(rank).padStart(5, '0')}.${ext}`;
export const planFile = (rank: number) => rankName('plan', rank, 'json');
export const partFile = (rank: number) => rankName('part', rank, 'json');
export const errorFile = (rank: number) => rankName('error', rank, 'json');
export const shardFile = (rank: number) => rankName('shard', rank, 'safetensors');

/**
 * Rank 0, before a save: creates the root, removes what crashed saves left (`*.tmp`, `*.del`,
 * a half-written `latest`) and creates an empty temporary directory for this step. Safe because at most one save per
 * root is in flight and rank 0 finished the previous one before starting this.
 */
export async function prepareSave(root: string, tmp: string): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const name of await readdir(root)) {
    if (/^step-\d+\.(tmp|del)$/.test(name) || name.startsWith(`${LATEST}.tmp-`)) await removeStep(join(root, name));
  }
  await mkdir(tmp);
}

/** A rank's announcement that its shard file is durable (or that it failed). */
export async function publishPart(tmp: string, part: RankPart): Promise<void> {
  await publishFile(join(tmp, partFile(part.rank)), JSON.stringify(part));
}

export async function publishError(tmp: string, rank: number, e: unknown): Promise<void> {
  await publishFile(join(tmp, errorFile(rank)), JSON.stringify({ rank, error: errorMessage(e) })).catch(() => {});
}

/** Waits (polling the directory, no collective) until all `size` ranks published their parts. */
async function waitForParts(tmp: string, size: number, timeoutSeconds: number): Promise<RankPart[]> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let delay = 2;
  for (;;) {
    const names = new Set(await readdir(tmp));
    for (let r = 0; r < size; r++) {
      if (names.has(errorFile(r))) {
        const { error } = JSON.parse(await readFile(join(tmp, errorFile(r)), 'utf8')) as { error: string };
        throw new Error(`rank ${r} failed to write its shards: ${error}`);
      }
    }
    let ready = 0;
    for (let r = 0; r < size; r++) if (names.has(partFile(r))) ready++;
    if (ready === size) break;
    if (Date.now() > deadline) throw new Error(`only ${ready} of ${size} ranks wrote their shards within ${timeoutSeconds} s`);
    await new Promise((res) => setTimeout(res, delay));
    delay = Math.min(50, delay * 2);
  }
  const parts: RankPart[] = [];
  for (let r = 0; r < size; r++) parts.push(JSON.parse(await readFile(join(tmp, partFile(r)), 'utf8')) as RankPart);
  return parts;
}

export interface CommitArgs {
  root: string;
  step: number;
  size: number;
  pieces: PlannedPiece[];
  meta: Json;
  hashBlockBytes: number;
  keep: number;
  timeoutSeconds: number;
}

/**
 * Rank 0: merges the parts into the manifest, then commits. Crash safety: until the rename the
 * step exists only as `*.tmp`; after it, the directory is complete (its files were fsynced
 * before their parts appeared, the manifest and the directory before the rename); `latest` is
 * replaced atomically only after the rename is durable. Returns the committed directory.
 */
export async function commitSave(a: CommitArgs): Promise<string> {
  const name = stepDirName(a.step);
  const tmp = join(a.root, `${name}.tmp`);
  const final = join(a.root, name);
  const parts = await waitForParts(tmp, a.size, a.timeoutSeconds);
  const manifest = buildManifest(a, parts);
  for (const n of await readdir(tmp)) if (/^(plan|part)-\d+\.json$/.test(n)) await removeStep(join(tmp, n));
  await writeFileSynced(join(tmp, MANIFEST), JSON.stringify(manifest, null, 1));
  await fsyncDir(tmp);
  if (await exists(final)) await retire(a.root, name);
  await renameStep(tmp, final);
  await fsyncDir(a.root);
  await atomicReplace(join(a.root, LATEST), `${name}\n`);
  if (a.keep > 0) await applyRetention(a.root, a.keep, name);
  return final;
}

function buildManifest(a: CommitArgs, parts: RankPart[]): Manifest {
  const stored = new Map<string, RankPart['shards'][number] & { file: string }>();
  const files: FileEntry[] = [];
  for (const part of parts) {
    if (part.file === null) continue;
    files.push(part.file);
    for (const s of part.shards) stored.set(s.id, { ...s, file: part.file.name });
  }
  const tensors = new Map<string, TensorEntry>();
  for (const p of a.pieces) {
    let t = tensors.get(p.key);
    if (t === undefined) tensors.set(p.key, (t = { key: p.key, dtype: p.dtype, globalShape: p.globalShape, shards: [] }));
    const s = stored.get(pieceId(p.key, p.offset));
    if (s === undefined) throw new Error(`rank ${p.writer} did not report piece '${pieceId(p.key, p.offset)}'`);
    t.shards.push({ offset: p.offset, shape: p.shape, file: s.file, byteRange: s.byteRange, sha256: s.sha256 });
  }
  const sorted = [...tensors.values()].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  for (const t of sorted) t.shards.sort((x, y) => cmpOffsets(x.offset, y.offset));
  return { format: FORMAT, version: FORMAT_VERSION, step: a.step, createdAt: new Date().toISOString(), worldSize: a.size,
    hashBlockBytes: a.hashBlockBytes, meta: a.meta, files: files.sort((x, y) => x.writerRank - y.writerRank), tensors: sorted };
}

/**
 * Makes room to commit a step that already exists (a run resumed from an older step): first
 * points `latest` elsewhere if it named this step, then moves the old directory away.
 */
async function retire(root: string, name: string): Promise<void> {
  if ((await readLatest(root)) === name) {
    const others = (await committedSteps(root)).filter((s) => s.name !== name);
    const fallback = others[others.length - 1];
    if (fallback !== undefined) await atomicReplace(join(root, LATEST), `${fallback.name}\n`);
    else await removeStep(join(root, LATEST));
  }
  await renameStep(join(root, name), join(root, `${name}.del`));
  await fsyncDir(root);
  await removeStep(join(root, `${name}.del`));
}

/** Keeps `current` and the newest `keep - 1` other committed steps; older ones are removed. */
export async function applyRetention(root: string, keep: number, current: string): Promise<void> {
  const others = (await committedSteps(root)).filter((s) => s.name !== current);
  for (const s of others.slice(0, Math.max(0, others.length - (keep - 1)))) {
    await renameStep(join(root, s.name), join(root, `${s.name}.del`));
    await removeStep(join(root, `${s.name}.del`));
  }
}

/** Committed step directories under `root`, oldest first. */
export async function committedSteps(root: string): Promise<{ name: string; step: number }[]> {
  const out: { name: string; step: number }[] = [];
  for (const name of await readdir(root)) {
    const step = parseStepDirName(name);
    if (step !== undefined && (await exists(join(root, name, MANIFEST)))) out.push({ name, step });
  }
  return out.sort((a, b) => a.step - b.step);
}

export async function readLatest(root: string): Promise<string | undefined> {
  try {
    return (await readFile(join(root, LATEST), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function cmpOffsets(a: number[], b: number[]): number {
  for (let d = 0; d < a.length; d++) if (a[d] !== b[d]) return a[d]! - b[d]!;
  return 0;
}
