// The cleaning pipeline: normalize -> exact dedup -> quality rules -> near dedup -> PII redaction.
//
// Two streaming passes with bounded memory apart from the dedup index (one digest per document
// for exact dedup; signature, band keys and id per surviving document for near dedup):
//   pass 1 reads the input, normalizes, drops exact duplicates and low-quality documents, adds
//          each survivor's MinHash signature to the LSH index, redacts PII, and spools the
//          finished output line to DIR/.pass1.spool behind a short prefix (LSH number, PII
//          counts, source line);
//   pass 2 copies the spooled lines of documents that head their near-duplicate cluster (the
//          earliest in input order, so every cluster keeps exactly one even when a late
//          document links two earlier clusters) to DIR/cleaned.jsonl, without parsing them.
import { createHash, hash, type Hash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, rmSync } from 'node:fs';
import { AtomicFileWriter } from '../util/durable.js';
import { join } from 'node:path';
import { readDocuments, type BadInput, type Doc, type SourceFile, type SplitMode } from './documents.js';
import { DEFAULT_NORMALIZE, loadT2S, normalizeText, type NormalizeOptions } from './normalize.js';
import { applyQuality, DEFAULT_QUALITY, detectLang, type Lang, type QualityOptions } from './quality.js';
import { DEFAULT_MINHASH, LshIndex, shingleHashes, signature, type MinHashOptions } from './minhash.js';
import { emptyPiiCounts, PII_KINDS, redactPii, type PiiCounts } from './pii.js';

export interface CleanOptions {
  lang: Lang | 'auto';
  /** Each stage is switched off by null / false. */
  normalize: NormalizeOptions | null;
  /** Convert Traditional to Simplified Chinese in Chinese documents (after normalization). */
  t2s: boolean;
  exactDedup: boolean;
  quality: QualityOptions | null;
  nearDedup: MinHashOptions | null;
  pii: boolean;
  split?: SplitMode;
  maxDocBytes: number;
  /** Example documents kept in the report per removal reason. */
  samples: number;
}

export const DEFAULT_CLEAN: CleanOptions = {
  lang: 'auto', normalize: DEFAULT_NORMALIZE, t2s: false, exactDedup: true, quality: DEFAULT_QUALITY,
  nearDedup: DEFAULT_MINHASH, pii: true, maxDocBytes: 16 << 20, samples: 5,
};

export const STAGES = ['read', 'normalize', 'exact_dedup', 'quality', 'near_dedup', 'pii'] as const;
export type StageName = (typeof STAGES)[number];

export interface StageReport {
  name: StageName;
  enabled: boolean;
  docs_in: number;
  docs_out: number;
  /** Documents removed, by reason (for 'read': bad input that never became a document). */
  removed: Record<string, number>;
  /** Documents changed but kept (normalization, C4 line removal, redaction). */
  modified: number;
}

export interface Sample { id: string; source: string; line: number; excerpt: string; duplicate_of?: string }

export interface CleanReport {
  input: string;
  out_dir: string;
  seconds: number;
  bytes_in: number;
  bytes_out: number;
  docs_in: number;
  docs_out: number;
  languages: Record<Lang, number>;
  stages: StageReport[];
  samples: Record<string, Sample[]>;
  bad_input: { total: number; by_reason: Record<string, number>; items: BadInput[] };
  near_dedup: { clusters: number; confirmed_pairs: number; largest: number; items: { kept: string; removed: string[] }[] };
  c4_units_dropped: number;
  pii: PiiCounts;
  sources: SourceFile[];
  outputs: { path: string; bytes: number; sha256: string }[];
}

const MAX_LISTED = 1000;

/** Buffered, hashed, append-only line writer that lands at `path` only on close(). */
class LineWriter {
  private readonly file: AtomicFileWriter;
  private readonly hash: Hash | undefined;
  private parts: Buffer[] = [];
  private pending = 0;
  bytes = 0;
  constructor(private readonly path: string, hashed = true) {
    this.hash = hashed ? createHash('sha256') : undefined;
    this.file = new AtomicFileWriter(path);
  }
  write(line: string | Buffer): void {
    const b = typeof line === 'string' ? Buffer.from(line) : line;
    this.parts.push(b);
    this.pending += b.length;
    if (this.pending > 1 << 20) this.flush();
  }
  private flush(): void {
    if (this.parts.length === 0) return;
    const buf = Buffer.concat(this.parts);
    this.file.write(buf);
    this.hash?.update(buf);
    this.bytes += buf.length;
    this.parts = [];
    this.pending = 0;
  }
  close(): { path: string; bytes: number; sha256: string } {
    this.flush();
    this.file.commit();
    return { path: this.path, bytes: this.bytes, sha256: this.hash?.digest('hex') ?? '' };
  }
}

/** Lines of a file as Buffers (including the newline), read in 4 MiB chunks. */
function* rawLines(path: string): Generator<Buffer> {
  const fd = openSync(path, 'r');
  const chunk = Buffer.allocUnsafe(1 << 22);
  let carry: Buffer[] = [];
  try {
    for (let n = readSync(fd, chunk, 0, chunk.length, null); n > 0; n = readSync(fd, chunk, 0, chunk.length, null)) {
      let start = 0;
      for (let nl = chunk.indexOf(0x0a, start); nl !== -1 && nl < n; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl + 1);
        yield carry.length === 0 ? piece : Buffer.concat([...carry, piece]);
        carry = [];
        start = nl + 1;
      }
      if (start < n) carry.push(Buffer.from(chunk.subarray(start, n)));
    }
    if (carry.length > 0) yield Buffer.concat(carry);
  } finally {
    closeSync(fd);
  }
}

/** Spool line: "n<TAB>email ipv4 ipv6 phone<TAB>line<TAB>JSON(source)<TAB>output JSON\n". */
const SPOOL_FIELDS = 4;

export interface CleanHooks { onBytes?: (n: number) => void }

/** Why a stage dropped a document; the sample is built only while the report still wants one. */
interface Removal { reason: string; sample: () => Sample }

/**
 * One stage of the pipeline (as datatrove's PipelineStep): keeps a document, possibly changed, or
 * says why it goes. The driver does the counting; a disabled stage is counted and passes all.
 */
interface Step<D> {
  readonly report: StageReport;
  process(doc: D): Removal | undefined;
}

/** Runs documents through steps, keeping every stage's docs_in / docs_out / removed and the samples. */
class StageDriver {
  readonly samples: Record<string, Sample[]> = {};
  constructor(private readonly limit: number) {}

  /** True when `step` kept `doc`. */
  pass<D>(step: Step<D>, doc: D): boolean {
    const r = step.report;
    r.docs_in++;
    const removal = r.enabled ? step.process(doc) : undefined;
    if (removal !== undefined) {
      r.removed[removal.reason] = (r.removed[removal.reason] ?? 0) + 1;
      const list = (this.samples[removal.reason] ??= []);
      if (list.length < this.limit) list.push(removal.sample());
      return false;
    }
    r.docs_out++;
    return true;
  }
}

function stageReport(name: StageName, enabled: boolean): StageReport {
  return { name, enabled, docs_in: 0, docs_out: 0, removed: {}, modified: 0 };
}

function sampleOf(d: { id: string; source: string; line: number }, text: string, duplicateOf?: string): Sample {
  const s: Sample = { id: d.id, source: d.source, line: d.line, excerpt: text.slice(0, 240) };
  if (duplicateOf !== undefined) s.duplicate_of = duplicateOf;
  return s;
}

/** A document in pass 1: its text as the stages so far have left it. */
interface Pass1Doc { doc: Doc; text: string; lang: Lang }

/** Every document read counts; bad input that never became one is added to the report at the end. */
function readStep(): Step<Pass1Doc> {
  return { report: stageReport('read', true), process: () => undefined };
}

/** Unicode normalization, then Traditional -> Simplified for Chinese; a document left empty goes. */
function normalizeStep(o: CleanOptions, t2s: ((s: string) => string) | undefined): Step<Pass1Doc> {
  const report = stageReport('normalize', o.normalize !== null || o.t2s);
  return {
    report,
    process(p) {
      let t = o.normalize === null ? p.text : normalizeText(p.text, o.normalize);
      if (t2s !== undefined && p.lang === 'zh') t = t2s(t);
      if (t !== p.text) report.modified++;
      p.text = t;
      return t.trim() === '' ? { reason: 'empty_after_normalize', sample: () => sampleOf(p.doc, p.doc.text) } : undefined;
    },
  };
}

/** Drops a document whose text equals an earlier one's (one MD5 digest kept per document). */
function exactDedupStep(o: CleanOptions): Step<Pass1Doc> {
  const first = new Map<string, string>();
  return {
    report: stageReport('exact_dedup', o.exactDedup),
    process(p) {
      const key = hash('md5', p.text, 'base64'); // one-shot: no Hash object per document
      const earlier = first.get(key);
      if (earlier !== undefined) return { reason: 'exact_duplicate', sample: () => sampleOf(p.doc, p.text, earlier) };
      first.set(key, p.doc.id);
      return undefined;
    },
  };
}

/** The quality rules; C4 line removal changes a document, and the units it removed are counted. */
function qualityStep(o: CleanOptions): Step<Pass1Doc> & { c4Units: number } {
  const report = stageReport('quality', o.quality !== null);
  return {
    report, c4Units: 0,
    process(p) {
      const q = applyQuality(p.text, p.lang, o.quality!);
      if (q.reason !== null) return { reason: q.reason, sample: () => sampleOf(p.doc, p.text) };
      if (q.c4Dropped > 0) { report.modified++; this.c4Units += q.c4Dropped; }
      p.text = q.text;
      return undefined;
    },
  };
}

interface Pass1Result {
  reports: StageReport[];
  bad: BadInput[];
  badByReason: Record<string, number>;
  sources: SourceFile[];
  languages: Record<Lang, number>;
  bytesIn: number;
  c4Units: number;
  /** Document id of each LSH entry, by entry number. */
  lshIds: string[];
}

/**
 * Pass 1: reads, normalizes, drops exact duplicates and low-quality documents, adds each survivor's
 * signature to the LSH index, redacts PII and spools the survivors (SPOOL_FIELDS prefix fields).
 */
async function pass1(input: string, spoolPath: string, o: CleanOptions, lsh: LshIndex | null, driver: StageDriver,
  hooks: CleanHooks): Promise<Pass1Result> {
  const t2s = o.t2s ? await loadT2S() : undefined;
  const quality = qualityStep(o);
  const steps: Step<Pass1Doc>[] = [readStep(), normalizeStep(o, t2s), exactDedupStep(o), quality];
  const r: Pass1Result = { reports: steps.map((s) => s.report), bad: [], badByReason: {}, sources: [], languages: { en: 0, zh: 0 },
    bytesIn: 0, c4Units: 0, lshIds: [] };
  const spool = new LineWriter(spoolPath, false);
  const docs = readDocuments(input, {
    ...(o.split ? { split: o.split } : {}), maxDocBytes: o.maxDocBytes,
    onBad: (b) => { r.badByReason[b.reason] = (r.badByReason[b.reason] ?? 0) + 1; if (r.bad.length < MAX_LISTED) r.bad.push(b); },
    onSource: (s) => r.sources.push(s),
    onBytes: (n) => { r.bytesIn += n; hooks.onBytes?.(n); },
  });
  for (const d of docs) {
    const p: Pass1Doc = { doc: d, text: d.text, lang: o.lang === 'auto' ? detectLang(d.text) : o.lang };
    r.languages[p.lang]++;
    if (!steps.every((s) => driver.pass(s, p))) continue;
    let n = -1;
    if (lsh !== null && o.nearDedup !== null) {
      n = lsh.add(signature(shingleHashes(p.text, p.lang, o.nearDedup), o.nearDedup));
      r.lshIds.push(d.id);
    }
    const found = emptyPiiCounts();
    const text = o.pii ? redactPii(p.text, found) : p.text;
    const line = JSON.stringify({ id: d.id, text, ...d.fields });
    spool.write(`${n}\t${PII_KINDS.map((k) => found[k]).join(' ')}\t${d.line}\t${JSON.stringify(d.source)}\t${line}\n`);
  }
  spool.close();
  r.c4Units = quality.c4Units;
  return r;
}

/** A spooled line in pass 2: its prefix fields parsed, the output JSON after byte `at`, unparsed. */
interface SpoolDoc { raw: Buffer; at: number; n: number; counts: number[]; line: number; sourceJson: string }

function parseSpoolLine(raw: Buffer): SpoolDoc {
  let at = -1;
  for (let f = 0; f < SPOOL_FIELDS; f++) at = raw.indexOf(0x09, at + 1);
  const [nStr, counts, lineStr, sourceJson] = raw.toString('utf8', 0, at).split('\t') as [string, string, string, string];
  return { raw, at, n: Number(nStr), counts: counts.split(' ').map(Number), line: Number(lineStr), sourceJson };
}

/** Keeps the document that heads its near-duplicate cluster (the earliest in input order). */
function nearDedupStep(o: CleanOptions, lsh: LshIndex | null, lshIds: readonly string[]): Step<SpoolDoc> {
  return {
    report: stageReport('near_dedup', o.nearDedup !== null),
    process(s) {
      if (lsh === null || s.n < 0) return undefined;
      const root = lsh.find(s.n);
      if (root === s.n) return undefined;
      return {
        reason: 'near_duplicate',
        sample: () => {
          const doc = JSON.parse(s.raw.toString('utf8', s.at + 1)) as { id: string; text: string };
          return sampleOf({ id: doc.id, source: JSON.parse(s.sourceJson) as string, line: s.line }, doc.text, lshIds[root]);
        },
      };
    },
  };
}

/** Counts the PII that pass 1 redacted in the documents that stay. */
function piiStep(o: CleanOptions): Step<SpoolDoc> & { pii: PiiCounts } {
  const report = stageReport('pii', o.pii);
  return {
    report, pii: emptyPiiCounts(),
    process(s) {
      PII_KINDS.forEach((k, i) => { this.pii[k] += s.counts[i]!; });
      if (s.counts.some((x) => x > 0)) report.modified++;
      return undefined;
    },
  };
}

/** Pass 2: copies the spooled documents that survive near dedup to `outPath`, without parsing them. */
function pass2(spoolPath: string, outPath: string, o: CleanOptions, lsh: LshIndex | null, lshIds: readonly string[],
  driver: StageDriver): { reports: StageReport[]; pii: PiiCounts; cleaned: CleanReport['outputs'][number] } {
  const pii = piiStep(o);
  const steps: Step<SpoolDoc>[] = [nearDedupStep(o, lsh, lshIds), pii];
  const out = new LineWriter(outPath);
  for (const raw of rawLines(spoolPath)) {
    const s = parseSpoolLine(raw);
    if (steps.every((step) => driver.pass(step, s))) out.write(raw.subarray(s.at + 1));
  }
  return { reports: steps.map((s) => s.report), pii: pii.pii, cleaned: out.close() };
}

/** The near-duplicate clusters for the report: the kept document and the removed ones of each. */
function nearDedupSummary(lsh: LshIndex | null, lshIds: readonly string[]): CleanReport['near_dedup'] {
  const clusters = lsh?.clusters() ?? new Map<number, number[]>();
  const items: CleanReport['near_dedup']['items'] = [];
  let largest = 0;
  for (const [root, members] of clusters) {
    largest = Math.max(largest, members.length);
    if (items.length < MAX_LISTED) items.push({ kept: lshIds[root]!, removed: members.filter((m) => m !== root).map((m) => lshIds[m]!) });
  }
  return { clusters: clusters.size, confirmed_pairs: lsh?.pairs ?? 0, largest, items };
}

/** Cleans `input` into `outDir`/cleaned.jsonl and returns the report (written by writeReport). */
export async function cleanCorpus(input: string, outDir: string, o: CleanOptions, hooks: CleanHooks = {}): Promise<CleanReport> {
  const t0 = performance.now();
  mkdirSync(outDir, { recursive: true });
  const driver = new StageDriver(o.samples);
  const lsh = o.nearDedup === null ? null : new LshIndex(o.nearDedup);
  const spoolPath = join(outDir, '.pass1.spool');
  const p1 = await pass1(input, spoolPath, o, lsh, driver, hooks);
  const p2 = pass2(spoolPath, join(outDir, 'cleaned.jsonl'), o, lsh, p1.lshIds, driver);
  rmSync(spoolPath, { force: true });

  const stages = [...p1.reports, ...p2.reports];
  const read = stages[0]!, last = stages[stages.length - 1]!;
  const badTotal = Object.values(p1.badByReason).reduce((a, b) => a + b, 0);
  read.removed = { ...p1.badByReason };
  read.docs_in += badTotal;
  return {
    input, out_dir: outDir, seconds: (performance.now() - t0) / 1000, bytes_in: p1.bytesIn, bytes_out: p2.cleaned.bytes,
    docs_in: read.docs_in, docs_out: last.docs_out, languages: p1.languages, stages, samples: driver.samples,
    bad_input: { total: badTotal, by_reason: p1.badByReason, items: p1.bad },
    near_dedup: nearDedupSummary(lsh, p1.lshIds),
    c4_units_dropped: p1.c4Units, pii: p2.pii, sources: p1.sources, outputs: [p2.cleaned],
  };
}
