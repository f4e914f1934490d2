// `furnace data clean|tokenize`: clean and deduplicate a corpus, or turn it into token shards.
import { readFileSync } from 'node:fs';
import { InputError, UsageError, errorMessage } from '../../util/errors.js';
import { Output, Progress } from '../../util/output.js';
import { checkInputPath, checkOutputDir } from '../../util/paths.js';
import { HelpRequest, intFlag, numFlag, parse, type Command } from '../util.js';
import { readDocuments, type BadInput, type SourceFile } from '../../data/documents.js';
import { cleanCorpus, DEFAULT_CLEAN, type CleanOptions } from '../../data/clean.js';
import { DEFAULT_QUALITY, type QualityOptions } from '../../data/quality.js';
import { DEFAULT_MINHASH } from '../../data/minhash.js';
import { summaryText, writeReport } from '../../data/report.js';
import { dtypeFor, ShardWriter } from '../../data/shards.js';
import { DOC_SEPARATOR } from '../../data/corpus.js';
import { loadTokenizer } from '../../train/tokenizer.js';
import { splitFlag, totalBytes } from './tokenizer.js';

const USAGE = `usage: furnace data clean INPUT --out DIR [--lang en|zh|auto] [options] [--json]
       furnace data tokenize INPUT --tokenizer FILE --out DIR [--shard-tokens N] [--split MODE] [--json]
INPUT: a .jsonl file of {id, text, ...}, a .txt file (split into paragraphs at blank lines unless
--split file|line), or a folder of .txt/.jsonl files (each .txt file one document).
clean options: --t2s (Traditional -> Simplified)  --no-normalize --no-exact-dedup --no-quality
  --no-gopher --no-repetition --no-c4 --no-fineweb --no-placeholders --no-near-dedup --no-pii
  --bands N --rows N --ngram-en N --ngram-zh N --threshold X  --max-doc-bytes N --samples N
  --quality-config FILE (JSON object overriding quality thresholds by name)`;

export const run: Command = async (argv) => {
  const [sub, ...rest] = argv;
  if (sub === 'tokenize') return tokenize(rest);
  if (sub === 'clean') return clean(rest);
  if (sub === '--help' || sub === '-h') throw new HelpRequest(USAGE);
  throw new UsageError(sub === undefined ? "data: expected a subcommand: 'clean' or 'tokenize'" : `data: unknown subcommand '${sub}' (choose clean or tokenize)`);
};

async function tokenize(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    tokenizer: { type: 'string' }, out: { type: 'string' }, 'shard-tokens': { type: 'string' },
    split: { type: 'string' }, json: { type: 'boolean', default: false },
  }, true, USAGE);
  if (positionals.length !== 1) throw new UsageError(`data tokenize: expected one INPUT, got ${positionals.length}`);
  if (values.tokenizer === undefined) throw new InputError('data tokenize: --tokenizer FILE is required');
  if (values.out === undefined) throw new InputError('data tokenize: --out DIR is required');
  const shardTokens = intFlag('shard-tokens', values['shard-tokens'], 1024, 2 ** 30) ?? 1 << 24;
  const split = splitFlag(values.split);
  const input = positionals[0]!;
  checkInputPath('INPUT', input);
  checkOutputDir('--out', values.out);
  const tok = loadTokenizer(values.tokenizer);
  const out = new Output(values.json);
  const total = totalBytes(input);
  const progress = new Progress(total, 'bytes');
  const writer = new ShardWriter(values.out, tok.hash(), dtypeFor(tok.vocabSize), values.tokenizer, shardTokens);
  const bad: BadInput[] = [];
  const sources: SourceFile[] = [];
  const sep = tok.encode(DOC_SEPARATOR);
  let read = 0;
  const t0 = performance.now();
  for (const d of readDocuments(input, { ...(split ? { split } : {}), onBad: (b) => bad.push(b), onSource: (s) => sources.push(s),
    onBytes: (n) => { read += n; } })) {
    writer.add(tok.encode(d.text));
    writer.add(sep, false);
    progress.update(read);
  }
  progress.done();
  const index = writer.finish(sources);
  const seconds = (performance.now() - t0) / 1000;
  out.say(`${index.documents} documents, ${index.total_tokens} tokens (${(read / Math.max(1, index.total_tokens)).toFixed(2)} bytes/token) ` +
    `in ${index.shards.length} shard(s) -> ${values.out}  [${(read / seconds / 1e6).toFixed(2)} MB/s]`);
  for (const b of bad.slice(0, 10)) out.say(`  bad input ${b.source}:${b.line}: ${b.reason} (${b.detail})`);
  if (bad.length > 10) out.say(`  ... and ${bad.length - 10} more bad inputs`);
  out.result({ out: values.out, documents: index.documents, tokens: index.total_tokens, bytes: read, seconds,
    bytes_per_s: read / seconds, shards: index.shards.length, dtype: index.dtype, tokenizer_hash: index.tokenizer_hash,
    bad_input: bad.length });
  return 0;
}

async function clean(argv: string[]): Promise<number> {
  const flags = ['t2s', 'no-normalize', 'no-exact-dedup', 'no-quality', 'no-gopher', 'no-repetition', 'no-c4', 'no-fineweb',
    'no-placeholders', 'no-near-dedup', 'no-pii', 'json'] as const;
  const strings = ['out', 'lang', 'bands', 'rows', 'ngram-en', 'ngram-zh', 'threshold', 'split', 'max-doc-bytes', 'samples', 'quality-config'] as const;
  const spec = Object.fromEntries([...flags.map((f) => [f, { type: 'boolean' as const, default: false }]),
    ...strings.map((f) => [f, { type: 'string' as const }])]) as Record<(typeof flags)[number], { type: 'boolean'; default: boolean }> &
    Record<(typeof strings)[number], { type: 'string' }>;
  const { values: v, positionals } = parse(argv, spec, true, USAGE);
  if (positionals.length !== 1) throw new UsageError(`data clean: expected one INPUT, got ${positionals.length}`);
  if (v.out === undefined) throw new InputError('data clean: --out DIR is required');
  checkInputPath('INPUT', positionals[0]!);
  checkOutputDir('--out', v.out);
  const lang = v.lang ?? 'auto';
  if (lang !== 'en' && lang !== 'zh' && lang !== 'auto') throw new InputError(`--lang: expected en, zh or auto, got '${lang}'`);
  let quality: QualityOptions | null = v['no-quality'] ? null : {
    ...readQualityConfig(v['quality-config']),
  };
  if (quality !== null) {
    quality = { ...quality, gopher: quality.gopher && !v['no-gopher'], repetition: quality.repetition && !v['no-repetition'],
      c4: quality.c4 && !v['no-c4'], fineweb: quality.fineweb && !v['no-fineweb'], placeholders: quality.placeholders && !v['no-placeholders'] };
  }
  const split = splitFlag(v.split);
  const opts: CleanOptions = {
    ...DEFAULT_CLEAN,
    lang, t2s: v.t2s, pii: !v['no-pii'], exactDedup: !v['no-exact-dedup'], quality,
    normalize: v['no-normalize'] ? null : DEFAULT_CLEAN.normalize,
    nearDedup: v['no-near-dedup'] ? null : {
      ...DEFAULT_MINHASH,
      bands: intFlag('bands', v.bands, 1, 1024) ?? DEFAULT_MINHASH.bands,
      rows: intFlag('rows', v.rows, 1, 64) ?? DEFAULT_MINHASH.rows,
      ngramEn: intFlag('ngram-en', v['ngram-en'], 1, 64) ?? DEFAULT_MINHASH.ngramEn,
      ngramZh: intFlag('ngram-zh', v['ngram-zh'], 1, 64) ?? DEFAULT_MINHASH.ngramZh,
      threshold: numFlag('threshold', v.threshold, 0, 1) ?? DEFAULT_MINHASH.threshold,
    },
    maxDocBytes: intFlag('max-doc-bytes', v['max-doc-bytes'], 1, 1 << 30) ?? DEFAULT_CLEAN.maxDocBytes,
    samples: intFlag('samples', v.samples, 0, 1000) ?? DEFAULT_CLEAN.samples,
    ...(split ? { split } : {}),
  };
  const input = positionals[0]!;
  const progress = new Progress(totalBytes(input), 'bytes');
  let read = 0;
  const report = await cleanCorpus(input, v.out, opts, { onBytes: (n) => { read += n; progress.update(read); } });
  progress.done();
  writeReport(report, opts, ['furnace', 'data', 'clean', ...argv]);
  const out = new Output(v.json);
  out.say(summaryText(report).trimEnd());
  out.result({ out: v.out, docs_in: report.docs_in, docs_out: report.docs_out, bytes_in: report.bytes_in, bytes_out: report.bytes_out,
    seconds: report.seconds, bytes_per_s: report.bytes_in / report.seconds, bad_input: report.bad_input.total,
    removed: Object.fromEntries(report.stages.map((s) => [s.name, s.removed])), clusters: report.near_dedup.clusters, pii: report.pii });
  return 0;
}

/** Quality thresholds from a JSON file: every key must be a known threshold of the same type. */
function readQualityConfig(path: string | undefined): QualityOptions {
  if (path === undefined) return { ...DEFAULT_QUALITY };
  checkInputPath('--quality-config', path, 'file');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InputError(`--quality-config ${path}: ${errorMessage(e).split('\n')[0]}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(`--quality-config ${path}: expected a JSON object`);
  const out: QualityOptions = { ...DEFAULT_QUALITY };
  for (const [k, val] of Object.entries(raw)) {
    if (!(k in DEFAULT_QUALITY)) throw new InputError(`--quality-config ${path}: unknown key '${k}'`);
    const want = DEFAULT_QUALITY[k as keyof QualityOptions];
    const ok = Array.isArray(want)
      ? Array.isArray(val) && val.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'number' && Number.isFinite(x)))
      : typeof val === typeof want && (typeof val !== 'number' || Number.isFinite(val));
    if (!ok) throw new InputError(`--quality-config ${path}: '${k}' must be ${Array.isArray(want) ? 'a list of [n, fraction] pairs' : `a ${typeof want}`}`);
    Object.assign(out, { [k]: val });
  }
  return out;
}
