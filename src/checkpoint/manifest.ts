// Reading manifest.json as data: every field checked, so a damaged manifest is refused by name.
import { readFile, stat } from 'node:fs/promises';
import { join, dirname, basename } from 'node:path';
import { volume } from './box.js';
import { checkTiling } from './plan.js';
import { CheckpointError, FORMAT, FORMAT_VERSION, LATEST, MANIFEST, type FileEntry, type Json, type Manifest, type TensorEntry } from './types.js';
import { InputError } from '../util/errors.js';

/** Parses and validates a manifest; `file` names it in errors. Executes nothing. */
export function parseManifest(text: string, file = MANIFEST): Manifest {
  let m: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    m = v as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(file, `unreadable manifest: ${(e as Error).message}`);
  }
  const bad = (what: string): never => { throw new CheckpointError(file, `manifest mismatch: ${what}`); };
  if (m['format'] !== FORMAT) bad(`format is ${JSON.stringify(m['format'])}, expected '${FORMAT}'`);
  if (m['version'] !== FORMAT_VERSION) bad(`version ${JSON.stringify(m['version'])} is not supported (expected ${FORMAT_VERSION})`);
  if (!isCount(m['step'])) bad('step is not a non-negative integer');
  if (!isCount(m['worldSize']) || m['worldSize'] === 0) bad('worldSize is not a positive integer');
  const block = m['hashBlockBytes'];
  if (!isCount(block) || block === 0) bad('hashBlockBytes is not a positive integer');
  const files = m['files'];
  if (!Array.isArray(files)) return bad('files is not a list');
  const sizes = new Map<string, number>();
  for (const f of files as Record<string, unknown>[]) {
    const name = f?.['name'];
    if (typeof name !== 'string' || !/^[\w.-]+$/.test(name) || name.startsWith('.')) bad(`file name ${JSON.stringify(name)} is not a plain file name`);
    if (!isCount(f['bytes']) || !isCount(f['writerRank'])) bad(`file ${String(name)} lacks bytes or writerRank`);
    sizes.set(name as string, f['bytes'] as number);
  }
  const tensors = m['tensors'];
  if (!Array.isArray(tensors)) return bad('tensors is not a list');
  const keys = new Set<string>();
  for (const t of tensors as Record<string, unknown>[]) {
    const key = t?.['key'];
    if (typeof key !== 'string' || keys.has(key)) bad(`tensor key ${JSON.stringify(key)} is missing or repeated`);
    keys.add(key as string);
    if (t['dtype'] !== 'f32') bad(`'${String(key)}' has dtype ${JSON.stringify(t['dtype'])} (f32 only)`);
    const g = t['globalShape'];
    if (!isShape(g)) return bad(`'${String(key)}' globalShape is not a list of sizes`);
    const shards = t['shards'];
    if (!Array.isArray(shards)) return bad(`'${String(key)}' shards is not a list`);
    for (const s of shards as Record<string, unknown>[]) {
      const where = `'${String(key)}' shard at ${JSON.stringify(s?.['offset'])}`;
      const file = s?.['file'];
      if (typeof file !== 'string' || !sizes.has(file)) bad(`${where} names file ${JSON.stringify(file)}, not listed in files`);
      const { offset, shape, byteRange: r, sha256 } = s;
      if (!isShape(offset) || !isShape(shape) || offset.length !== g.length || shape.length !== g.length) bad(`${where} has a bad offset or shape`);
      if (!isShape(r) || r.length !== 2 || r[1]! - r[0]! !== 4 * volume(shape as number[]) || r[1]! > sizes.get(file as string)!) {
        throw new CheckpointError(file as string, `manifest mismatch: ${where} byteRange ${JSON.stringify(r)} does not hold shape [${String(shape)}]`);
      }
      const blocks = Math.max(1, Math.ceil((r[1]! - r[0]!) / (block as number)));
      if (!Array.isArray(sha256) || sha256.length !== blocks || !sha256.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))) {
        throw new CheckpointError(file as string, `manifest mismatch: ${where} needs ${blocks} sha256 block hashes`);
      }
    }
    try {
      checkTiling(key as string, g, shards as { offset: number[]; shape: number[] }[]);
    } catch (e) {
      bad((e as Error).message);
    }
  }
  return { format: FORMAT, version: FORMAT_VERSION, step: m['step'] as number, createdAt: String(m['createdAt'] ?? ''),
    worldSize: m['worldSize'] as number, hashBlockBytes: block as number, meta: (m['meta'] ?? null) as Json,
    files: files as FileEntry[], tensors: tensors as TensorEntry[] };
}

/** Reads `<dir>/manifest.json`. A directory without one is not a checkpoint (error names the path). */
export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), 'utf8');
  } catch {
    throw new NotACheckpointError(dir);
  }
  return parseManifest(text, join(basename(dir), MANIFEST));
}

/** The path names no checkpoint at all (as opposed to a damaged one). */
export class NotACheckpointError extends InputError {
  override readonly name = 'NotACheckpointError';
  constructor(readonly path: string) {
    super(`${path}: not a checkpoint (no ${MANIFEST}, no ${LATEST} pointer)`);
  }
}

/** Where `latest` points without a root: the checkpoints of `furnace train`'s default --out. */
export const DEFAULT_CHECKPOINT_ROOT = join('runs', 'latest', 'ckpt');

/**
 * The checkpoint directory that `spec` names, the same for every command that takes one: a
 * checkpoint (step) directory itself, a checkpoint root holding a `latest` pointer (RUN/ckpt), a
 * run directory (its ckpt/ root), a `latest` file, or the word `latest` (the latest under `root`).
 */
export async function resolveCheckpoint(spec: string, root = DEFAULT_CHECKPOINT_ROOT): Promise<string> {
  if (spec === LATEST) spec = root;
  const st = await stat(spec).catch(() => undefined);
  // Neither a folder nor a pointer file (a fifo or a device would block the read below).
  if (st === undefined || (!st.isDirectory() && !st.isFile())) throw new NotACheckpointError(spec);
  const isDir = st.isDirectory();
  if (isDir && (await exists(join(spec, MANIFEST)))) return spec;
  if (isDir && !(await exists(join(spec, LATEST))) && (await exists(join(spec, 'ckpt', LATEST)))) return resolveCheckpoint(join(spec, 'ckpt'));
  const pointer = isDir ? join(spec, LATEST) : spec;
  const name = (await readFile(pointer, 'utf8').catch(() => '')).trim();
  if (!/^step-\d+$/.test(name)) throw new NotACheckpointError(spec);
  return join(dirname(pointer), name);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function isShape(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(isCount);
}
