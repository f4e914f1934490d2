// The cleaning pipeline: normalize -> exact dedup -> quality rules -> near dedup -> PII redaction.
//
// Two streaming passes with bounded memory apart from the dedup index (one digest per document
// for exact dedup; signature, band keys and id per surviving document for near dedup):
//   pass 1 reads the input, normalizes, drops exact duplicates and low-quality documents, adds
//          each survivor's MinHash signature to the LSH index, and spools it to DIR/.pass1.jsonl;
//   pass 2 reads the spool back, keeps one document per near-duplicate cluster (the earliest in
//          input order, so every cluster keeps exactly one even when a late document links two
//          earlier clusters), redacts PII and writes DIR/cleaned.jsonl.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readDocuments, type BadInput, type Doc, type SourceFile, type SplitMode } from './documents.js';
import { DEFAULT_NORMALIZE, loadT2S, normalizeText, type NormalizeOptions } from './normalize.js';
import { applyQuality, DEFAULT_QUALITY, detectLang, type Lang, type QualityOptions } from './quality.js';
import { DEFAULT_MINHASH, LshIndex, shingleHashes, signature, type MinHashOptions } from './minhash.js';
import { emptyPiiCounts, redactPii, type PiiCounts } from './pii.js';

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

/** Buffered, hashed, append-only JSONL writer that lands at `path` only on close(). */
class JsonlWriter {
  private readonly fd: number;
  private readonly tmp: string;
  private readonly hash: Hash = createHash('sha256');
  private parts: string[] = [];
  private pending = 0;
  bytes = 0;
  constructor(private readonly path: string) {
    this.tmp = `${path}.tmp-${process.pid}`;
    this.fd = openSync(this.tmp, 'w');
  }
  write(obj: unknown): void {
    const line = JSON.stringify(obj) + '\n';
    this.parts.push(line);
    this.pending += line.length;
    if (this.pending > 1 << 20) this.flush();
  }
  private flush(): void {
    if (this.parts.length === 0) return;
    const buf = Buffer.from(this.parts.join(''));
    writeSync(this.fd, buf);
    this.hash.update(buf);
    this.bytes += buf.length;
    this.parts = [];
    this.pending = 0;
  }
  close(): { path: string; bytes: number; sha256: string } {
    this.flush();
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
    return { path: this.path, bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

interface Spooled { n: number; id: string; text: string; fields: Record<string, unknown>; source: string; line: number; lang: Lang }

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
  const spoolPath = join(outDir, '.pass1.jsonl');
  const spool = new JsonlWriter(spoolPath);
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
      const key = createHash('md5').update(text).digest('base64');
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
    spool.write({ n, id: d.id, text, fields: d.fields, source: d.source, line: d.line, lang } satisfies Spooled);
  }
  spool.close();

  // Pass 2.
  const out = new JsonlWriter(join(outDir, 'cleaned.jsonl'));
  const pii = emptyPiiCounts();
  for (const d of readDocuments(spoolPath, { maxDocBytes: Number.MAX_SAFE_INTEGER, onBad: (b) => { throw new Error(`spool ${b.source}:${b.line}: ${b.reason}`); } })) {
    const s = { ...(d.fields as Omit<Spooled, 'id' | 'text'>), id: d.id, text: d.text };
    const orig = { id: s.id, source: s.source, line: s.line };
    st.near_dedup.docs_in++;
    if (lsh !== null && s.n >= 0) {
      const root = lsh.find(s.n);
      if (root !== s.n) {
        st.near_dedup.removed['near_duplicate'] = (st.near_dedup.removed['near_duplicate'] ?? 0) + 1;
        sample('near_duplicate', orig, s.text, lshIds[root]);
        continue;
      }
    }
    st.near_dedup.docs_out++;
    st.pii.docs_in++;
    let text = s.text;
    if (o.pii) {
      const t = redactPii(text, pii);
      if (t !== text) st.pii.modified++;
      text = t;
    }
    st.pii.docs_out++;
    out.write({ id: s.id, text, ...s.fields });
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
