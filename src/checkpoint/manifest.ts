// Reading manifest.json as data: every field checked, so a damaged manifest is refused by name.
import { readFile, stat } from 'node:fs/promises';
import { join, dirname, basename } from 'node:path';
import { volume } from './box.js';
import { checkTiling } from './plan.js';
import { InputError, errorMessage } from '../util/errors.js';
import { formatIssues, z } from '../util/schema.js';
import { CheckpointError, FORMAT, FORMAT_VERSION, LATEST, MANIFEST, type Manifest } from './types.js';

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const shape = z.array(count);

/** manifest.json as written by commit.ts; the cross-references (files, byte ranges, tiling) are checked after. */
const manifestSchema = z.strictObject({
  format: z.literal(FORMAT),
  version: z.literal(FORMAT_VERSION),
  step: count,
  createdAt: z.string().default(''),
  worldSize: count.min(1),
  hashBlockBytes: count.min(1),
  meta: z.json().default(null),
  files: z.array(z.strictObject({
    name: z.string().regex(/^[\w.-]+$/).refine((n) => !n.startsWith('.'), 'is not a plain file name'),
    bytes: count,
    writerRank: count,
  })),
  tensors: z.array(z.strictObject({
    key: z.string(),
    dtype: z.literal('f32'),
    globalShape: shape,
    shards: z.array(z.strictObject({
      offset: shape,
      shape,
      file: z.string(),
      byteRange: z.tuple([count, count]),
      sha256: z.array(z.string().regex(/^[0-9a-f]{64}$/)),
    })),
  })),
});

/** Parses and validates a manifest; `file` names it in errors. Executes nothing. */
export function parseManifest(text: string, file = MANIFEST): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, `unreadable manifest: ${errorMessage(e)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CheckpointError(file, 'unreadable manifest: not a JSON object');
  const r = manifestSchema.safeParse(raw);
  if (!r.success) throw new CheckpointError(file, `manifest mismatch: ${formatIssues('', r.error)}`);
  const m: Manifest = r.data;
  const bad = (what: string): never => { throw new CheckpointError(file, `manifest mismatch: ${what}`); };
  const sizes = new Map(m.files.map((f) => [f.name, f.bytes]));
  const keys = new Set<string>();
  for (const t of m.tensors) {
    if (keys.has(t.key)) bad(`tensor key ${JSON.stringify(t.key)} is repeated`);
    keys.add(t.key);
    for (const s of t.shards) {
      const where = `'${t.key}' shard at ${JSON.stringify(s.offset)}`;
      const size = sizes.get(s.file);
      if (size === undefined) return bad(`${where} names file ${JSON.stringify(s.file)}, not listed in files`);
      if (s.offset.length !== t.globalShape.length || s.shape.length !== t.globalShape.length) bad(`${where} has a bad offset or shape`);
      const [start, end] = s.byteRange;
      if (end - start !== 4 * volume(s.shape) || end > size) {
        throw new CheckpointError(s.file, `manifest mismatch: ${where} byteRange ${JSON.stringify(s.byteRange)} does not hold shape [${String(s.shape)}]`);
      }
      const blocks = Math.max(1, Math.ceil((end - start) / m.hashBlockBytes));
      if (s.sha256.length !== blocks) throw new CheckpointError(s.file, `manifest mismatch: ${where} needs ${blocks} sha256 block hashes`);
    }
    try {
      checkTiling(t.key, t.globalShape, t.shards);
    } catch (e) {
      bad(errorMessage(e));
    }
  }
  return m;
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
