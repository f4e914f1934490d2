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

/** Cleans `input` into `outDir`/cleaned.jsonl and returns the report (written by writeReport). */
export async function cleanCorpus(input: string, outDir: string, o: CleanOptions, hooks: CleanHooks = {}): Promise<CleanReport> {
  const t0 = performance.now();
  mkdirSync(outDir, { recursive: true });
  const t2s = o.t2s ? await loadT2S() : undefined;
  const stage = (name: StageName, enabled: boolean): StageReport => ({ name, enabled, docs_in: 0, docs_out: 0, removed: {}, modified: 0 });
  const st = {
    read: stage('read', true), normalize: stage('normalize', o.normalize !== null || o.t2s), exact_dedup: stage('exact_dedup', o.exactDedup),
    quality: stage('quality', o.quality !== null), near_dedup: stage('near_dedup', o.nearDedup !== null), pii: stage('pii', o.pii),
  };
  const samples: Record<string, Sample[]> = {};
  const sample = (reason: string, d: { id: string; source: string; line: number }, text: string, duplicateOf?: string) => {
    const list = (samples[reason] ??= []);
    if (list.length >= o.samples) return;
    const s: Sample = { id: d.id, source: d.source, line: d.line, excerpt: text.slice(0, 240) };
    if (duplicateOf !== undefined) s.duplicate_of = duplicateOf;
    list.push(s);
  };
  const remove = (s: StageReport, reason: string, d: Doc, text: string, duplicateOf?: string) => {
    s.removed[reason] = (s.removed[reason] ?? 0) + 1;
    sample(reason, d, text, duplicateOf);
  };
  const bad: BadInput[] = [];
  const badByReason: Record<string, number> = {};
  const sources: SourceFile[] = [];
  const languages: Record<Lang, number> = { en: 0, zh: 0 };
  const exact = new Map<string, string>();
  const lsh = o.nearDedup === null ? null : new LshIndex(o.nearDedup);
  const lshIds: string[] = [];
  let bytesIn = 0, c4Units = 0;

  // Pass 1.
  const spoolPath = join(outDir, '.pass1.spool');
  const spool = new LineWriter(spoolPath, false);
  const docs = readDocuments(input, {
    ...(o.split ? { split: o.split } : {}), maxDocBytes: o.maxDocBytes,
    onBad: (b) => { badByReason[b.reason] = (badByReason[b.reason] ?? 0) + 1; if (bad.length < MAX_LISTED) bad.push(b); },
    onSource: (s) => sources.push(s),
    onBytes: (n) => { bytesIn += n; hooks.onBytes?.(n); },
  });
  for (const d of docs) {
    st.read.docs_in++; st.read.docs_out++;
    let text = d.text;
    const lang: Lang = o.lang === 'auto' ? detectLang(text) : o.lang;
    languages[lang]++;
    st.normalize.docs_in++;
    if (st.normalize.enabled) {
      let t = o.normalize === null ? text : normalizeText(text, o.normalize);
      if (t2s !== undefined && lang === 'zh') t = t2s(t);
      if (t !== text) st.normalize.modified++;
      text = t;
      if (text.trim() === '') { remove(st.normalize, 'empty_after_normalize', d, d.text); continue; }
    }
    st.normalize.docs_out++;
    st.exact_dedup.docs_in++;
    if (o.exactDedup) {
      const key = hash('md5', text, 'base64');  // one-shot: no Hash object per document
      const first = exact.get(key);
      if (first !== undefined) { remove(st.exact_dedup, 'exact_duplicate', d, text, first); continue; }
      exact.set(key, d.id);
    }
    st.exact_dedup.docs_out++;
    st.quality.docs_in++;
    if (o.quality !== null) {
      const q = applyQuality(text, lang, o.quality);
      if (q.reason !== null) { remove(st.quality, q.reason, d, text); continue; }
      if (q.c4Dropped > 0) { st.quality.modified++; c4Units += q.c4Dropped; }
      text = q.text;
    }
    st.quality.docs_out++;
    let n = -1;
    if (lsh !== null && o.nearDedup !== null) {
      n = lsh.add(signature(shingleHashes(text, lang, o.nearDedup), o.nearDedup));
      lshIds.push(d.id);
    }
    const found = emptyPiiCounts();
    if (o.pii) text = redactPii(text, found);
    const line = JSON.stringify({ id: d.id, text, ...d.fields });
    spool.write(`${n}\t${PII_KINDS.map((k) => found[k]).join(' ')}\t${d.line}\t${JSON.stringify(d.source)}\t${line}\n`);
  }
  spool.close();

  // Pass 2.
  const out = new LineWriter(join(outDir, 'cleaned.jsonl'));
  const pii = emptyPiiCounts();
  for (const raw of rawLines(spoolPath)) {
    let at = -1;
    for (let f = 0; f < SPOOL_FIELDS; f++) at = raw.indexOf(0x09, at + 1);
    const [nStr, counts, lineStr, sourceJson] = raw.toString('utf8', 0, at).split('\t') as [string, string, string, string];
    const n = Number(nStr);
    st.near_dedup.docs_in++;
    if (lsh !== null && n >= 0) {
      const root = lsh.find(n);
      if (root !== n) {
        st.near_dedup.removed['near_duplicate'] = (st.near_dedup.removed['near_duplicate'] ?? 0) + 1;
        if ((samples['near_duplicate']?.length ?? 0) < o.samples) {
          const doc = JSON.parse(raw.toString('utf8', at + 1)) as { id: string; text: string };
          sample('near_duplicate', { id: doc.id, source: JSON.parse(sourceJson) as string, line: Number(lineStr) }, doc.text, lshIds[root]);
        }
        continue;
      }
    }
    st.near_dedup.docs_out++;
    st.pii.docs_in++;
    const c = counts.split(' ').map(Number);
    PII_KINDS.forEach((k, i) => { pii[k] += c[i]!; });
    if (c.some((x) => x > 0)) st.pii.modified++;
    st.pii.docs_out++;
    out.write(raw.subarray(at + 1));
  }
  const cleaned = out.close();
  rmSync(spoolPath, { force: true });

  st.read.removed = { ...badByReason };
  st.read.docs_in += Object.values(badByReason).reduce((a, b) => a + b, 0);

  const clusters = lsh?.clusters() ?? new Map<number, number[]>();
  const items: CleanReport['near_dedup']['items'] = [];
  let largest = 0;
  for (const [root, members] of clusters) {
    largest = Math.max(largest, members.length);
    if (items.length < MAX_LISTED) items.push({ kept: lshIds[root]!, removed: members.filter((m) => m !== root).map((m) => lshIds[m]!) });
  }
  return {
    input, out_dir: outDir, seconds: (performance.now() - t0) / 1000, bytes_in: bytesIn, bytes_out: cleaned.bytes,
    docs_in: st.read.docs_in, docs_out: st.pii.docs_out, languages,
    stages: [st.read, st.normalize, st.exact_dedup, st.quality, st.near_dedup, st.pii], samples,
    bad_input: { total: Object.values(badByReason).reduce((a, b) => a + b, 0), by_reason: badByReason, items: bad },
    near_dedup: { clusters: clusters.size, confirmed_pairs: lsh?.pairs ?? 0, largest, items },
    c4_units_dropped: c4Units, pii, sources, outputs: [cleaned],
  };
}
