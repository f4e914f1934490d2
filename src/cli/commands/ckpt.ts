// `furnace ckpt`: verify, inspect and export sharded checkpoints.
import { CheckpointReader } from '../../checkpoint/load.js';
import { resolveCheckpoint } from '../../checkpoint/manifest.js';
import { exportSafetensors } from '../../checkpoint/export.js';
import type { Json } from '../../checkpoint/types.js';
import { InputError, UsageError } from '../../util/errors.js';
import { fmt, Output, Progress } from '../../util/output.js';
import { checkOutputFile } from '../../util/paths.js';
import { HelpRequest, parse, type Command } from '../util.js';

const USAGE = `usage: furnace ckpt verify DIR [--json]
       furnace ckpt info DIR [--json]
       furnace ckpt export DIR --out model.safetensors [--no-verify] [--json]
DIR is a checkpoint directory (step-XXXXXXXX) or a checkpoint root (its 'latest' is used).`;

export const run: Command = async (argv) => {
  const [sub, ...rest] = argv;
  if (sub === 'verify') return verify(rest);
  if (sub === 'info') return info(rest);
  if (sub === 'export') return exportCmd(rest);
  if (sub === '--help' || sub === '-h') throw new HelpRequest(USAGE);
  throw new UsageError(sub === undefined ? 'ckpt: expected a subcommand: verify, info or export' : `ckpt: unknown subcommand '${sub}' (choose verify, info or export)`);
};

/** Opens the checkpoint DIR names: not a checkpoint -> exit 2 (InputError); a damaged manifest -> exit 1 (CheckError). */
async function openDir(positionals: string[], verify = true): Promise<CheckpointReader> {
  if (positionals.length !== 1) throw new UsageError(`ckpt: expected one DIR, got ${positionals.length}`);
  return CheckpointReader.open(await resolveCheckpoint(positionals[0]!), { verify });
}

async function verify(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, true, USAGE);
  const out = new Output(values.json === true);
  const r = await openDir(positionals);
  const total = r.manifest.tensors.reduce((s, t) => s + t.shards.reduce((a, x) => a + x.byteRange[1] - x.byteRange[0], 0), 0);
  const progress = new Progress(total, 'bytes');
  const t0 = performance.now();
  const { bytes, problems } = await r.verifyAll((b) => progress.update(b));
  progress.done();
  await r.close();
  const seconds = (performance.now() - t0) / 1000;
  for (const p of problems) out.say(`CORRUPT ${p.message}`);
  if (problems.length === 0) {
    out.say(`ok: step ${r.step}, ${r.manifest.files.length} shard files, ${fmt(bytes)} bytes verified in ${fmt(seconds)} s`);
  } else {
    out.say(`${problems.length} problem(s) in ${r.dir}`);
  }
  out.result({ ok: problems.length === 0, dir: r.dir, step: r.step, files: r.manifest.files.length, bytes, seconds,
    problems: problems.map((p) => ({ file: p.file, message: p.message })) });
  return problems.length === 0 ? 0 : 1;
}

async function info(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, true, USAGE);
  const out = new Output(values.json === true);
  const r = await openDir(positionals);
  await r.close();
  const m = r.manifest;
  const tensors = m.tensors.map((t) => ({ key: t.key, dtype: t.dtype, shape: t.globalShape, shards: t.shards.length,
    bytes: 4 * t.globalShape.reduce((a, b) => a * b, 1) }));
  const bytes = tensors.reduce((s, t) => s + t.bytes, 0);
  const meta = isObject(m.meta) ? m.meta : {};
  const layout = meta['layout'] ?? meta['parallel'] ?? meta['plan'] ?? null;
  out.say(`${r.dir}: step ${m.step}, saved ${m.createdAt} by ${m.worldSize} rank(s)`);
  out.say(`${tensors.length} tensors, ${fmt(bytes)} bytes in ${m.files.length} shard files`);
  if (layout !== null) out.say(`layout: ${JSON.stringify(layout)}`);
  if (Object.keys(meta).length > 0) out.say(`meta: ${Object.keys(meta).join(', ')}`);
  const w = Math.max(3, ...tensors.map((t) => t.key.length));
  const shapes = tensors.map((t) => `${t.dtype}[${t.shape.join(', ')}]`);
  const ws = Math.max(...shapes.map((x) => x.length));
  tensors.forEach((t, i) => out.say(`  ${t.key.padEnd(w)}  ${shapes[i]!.padEnd(ws)}  ${String(t.shards).padStart(4)} shard(s)  ${fmt(t.bytes)} B`));
  out.result({ dir: r.dir, step: m.step, createdAt: m.createdAt, worldSize: m.worldSize, bytes, files: m.files.length,
    layout, metaKeys: Object.keys(meta), tensors });
  return 0;
}

async function exportCmd(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, out: { type: 'string' }, 'no-verify': { type: 'boolean' } }, true, USAGE);
  const out = new Output(values.json === true);
  if (values.out === undefined) throw new InputError('ckpt export: --out FILE is required');
  checkOutputFile('--out', values.out);
  const r = await openDir(positionals);
  await r.close();
  const t0 = performance.now();
  const res = await exportSafetensors(r.dir, values.out, { verify: values['no-verify'] !== true });
  const seconds = (performance.now() - t0) / 1000;
  out.say(`wrote ${values.out}: ${res.tensors} tensors, ${fmt(res.bytes)} bytes in ${fmt(seconds)} s`);
  out.result({ out: values.out, step: r.step, tensors: res.tensors, bytes: res.bytes, seconds });
  return 0;
}

function isObject(v: Json): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
