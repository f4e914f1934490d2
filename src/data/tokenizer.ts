// Byte-level BPE tokenizer: trains on text, encodes any UTF-8 losslessly, saves as tokenizer.json.
//
// Layout of the saved file is Hugging Face `tokenizers`' tokenizer.json: a Split pre-tokenizer
// with furnace's regex (pretokenize.ts) followed by ByteLevel without its own regex, a ByteLevel
// decoder, and a BPE model with `vocab` (vocab string -> id) and `merges` ("left right", by rank).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { atomicWriteSync } from '../util/durable.js';
import { BYTE_TO_CHAR, bytesToVocabString, vocabStringToBytes } from './byte-level.js';
import { trainMerges, type Merge } from './bpe-train.js';
import { PairTable } from './pair-table.js';
import { compilePattern, GPT2_PATTERN, pretokenize, PRETOKENIZE_PATTERN } from './pretokenize.js';
import { InputError, errorMessage, errnoCode } from '../util/errors.js';

export interface TrainOptions {
  /** Size of the vocabulary: 256 byte tokens plus up to vocabSize - 256 merges. */
  vocabSize: number;
  /** Stop merging when the best pair occurs fewer times than this (default 2). */
  minFrequency?: number;
}

/** A word's byte length above which encoding switches from rescanning to a heap (O(n log n)). */
const LONG_WORD = 128;
const CACHE_LIMIT = 1 << 18;

export class BpeTokenizer {
  readonly vocabSize: number;
  private readonly re: RegExp;
  private readonly pattern: string;
  private readonly patternIsGpt2: boolean;
  /** byteId[b]: token id of the single byte b. */
  private readonly byteId: Int32Array;
  /** ranks: pair of token ids -> merge rank; mergedId[rank]: the token that merge produces. */
  private readonly ranks: PairTable;
  private readonly mergedId: Int32Array;
  private readonly mergePairs: Merge[];
  /** tokenBytes[id]: the bytes a token stands for. */
  private readonly tokenBytes: Uint8Array[];
  private readonly cache = new Map<string, Int32Array>();
  private readonly utf8 = new TextEncoder();
  private scratch = new Uint8Array(256);
  private symScratch = new Int32Array(LONG_WORD);
  private rankScratch = new Int32Array(LONG_WORD);
  private hashHex: string | undefined;

  private constructor(tokenBytes: Uint8Array[], merges: Merge[], mergedId: Int32Array, pattern: string, gpt2: boolean) {
    this.vocabSize = tokenBytes.length;
    this.tokenBytes = tokenBytes;
    this.mergePairs = merges;
    this.mergedId = mergedId;
    this.pattern = pattern;
    this.patternIsGpt2 = gpt2;
    this.re = compilePattern(pattern);
    const ids = new Map<string, number>();
    tokenBytes.forEach((b, id) => ids.set(bytesToVocabString(b), id));
    this.byteId = new Int32Array(256);
    for (let b = 0; b < 256; b++) this.byteId[b] = ids.get(BYTE_TO_CHAR[b]!) ?? -1;
    this.ranks = new PairTable(merges.length);
    merges.forEach(([a, b], r) => this.ranks.set(a, b, r));
  }

  /** Learns a vocabulary of at most `opts.vocabSize` tokens from text (or chunks of text). */
  static train(text: string | Iterable<string>, opts: TrainOptions): BpeTokenizer {
    const { vocabSize, minFrequency = 2 } = opts;
    if (!Number.isInteger(vocabSize) || vocabSize < 256) throw new RangeError(`vocabSize: must be an integer >= 256, got ${vocabSize}`);
    if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new RangeError(`minFrequency: must be an integer >= 1, got ${minFrequency}`);
    const re = compilePattern(PRETOKENIZE_PATTERN);
    const counts = new Map<string, number>();
    for (const chunk of typeof text === 'string' ? [text] : text) {
      for (const w of pretokenize(chunk, re)) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    const merges = trainMerges(counts, vocabSize - 256, minFrequency);
    const tokenBytes: Uint8Array[] = [];
    for (let b = 0; b < 256; b++) tokenBytes.push(Uint8Array.of(b));
    for (const [a, b] of merges) tokenBytes.push(concatBytes(tokenBytes[a]!, tokenBytes[b]!));
    const mergedId = Int32Array.from(merges, (_, r) => 256 + r);
    return new BpeTokenizer(tokenBytes, merges, mergedId, PRETOKENIZE_PATTERN, false);
  }

  /** Token ids of `text`; decode(encode(t)) === t for every well-formed string. */
  encode(text: string): Int32Array {
    let out = new Int32Array(Math.max(16, text.length >> 1));
    let n = 0;
    for (const piece of pretokenize(text, this.re)) {
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        ids = this.encodeWord(piece);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, ids);
      }
      if (n + ids.length > out.length) {
        const grown = new Int32Array(Math.max(out.length * 2, n + ids.length));
        grown.set(out);
        out = grown;
      }
      if (ids.length === 1) out[n++] = ids[0]!;
      else { out.set(ids, n); n += ids.length; }
    }
    return out.slice(0, n);
  }

  /** The text of token ids; ids that split a UTF-8 character decode to U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    let total = 0;
    for (let i = 0; i < ids.length; i++) total += this.bytesOf(ids[i]!).length;
    const buf = new Uint8Array(total);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf(ids[i]!);
      buf.set(b, o);
      o += b.length;
    }
    return new TextDecoder().decode(buf);
  }

  /** The bytes token `id` stands for. */
  bytesOf(id: number): Uint8Array {
    const b = this.tokenBytes[id];
    if (b === undefined) throw new RangeError(`token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    return b;
  }

  /** Number of merges (vocabSize - 256 for a tokenizer furnace trained). */
  get numMerges(): number { return this.mergePairs.length; }

  /** BPE of one pre-token: start from its bytes, apply the lowest-ranked merge until none applies. */
  private encodeWord(piece: string): Int32Array {
    if (this.scratch.length < piece.length * 3) this.scratch = new Uint8Array(piece.length * 3);
    const { written: n } = this.utf8.encodeInto(piece, this.scratch);
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) ids[i] = this.byteId[this.scratch[i]!]!;
    return n > LONG_WORD ? this.mergeWithHeap(ids) : this.mergeByScan(ids);
  }

  /**
   * GPT-2 `bpe()`: merge the best-ranked adjacent pair, leftmost first, until none is left; the
   * rank of each adjacent pair is kept in `rank` and only the merged pair's neighbours are looked
   * up again (tiktoken's byte_pair_merge). O(n^2) moves, O(n) hash lookups; for short words.
   */
  mergeByScan(word: Int32Array): Int32Array {
    let len = word.length;
    if (this.symScratch.length < len) { this.symScratch = new Int32Array(len); this.rankScratch = new Int32Array(len); }
    const sym = this.symScratch, rank = this.rankScratch;
    sym.set(word);
    const NONE = 0x7fffffff;
    const rankAt = (i: number) => {
      const r = this.ranks.get(sym[i]!, sym[i + 1]!);
      return r === -1 ? NONE : r;
    };
    for (let i = 0; i + 1 < len; i++) rank[i] = rankAt(i);
    rank[len - 1] = NONE;
    for (;;) {
      let best = NONE, at = -1;
      for (let i = 0; i + 1 < len; i++) if (rank[i]! < best) { best = rank[i]!; at = i; }
      if (at === -1) return sym.slice(0, len);
      sym[at] = this.mergedId[best]!;
      sym.copyWithin(at + 1, at + 2, len);
      rank.copyWithin(at + 1, at + 2, len);
      len--;
      rank[len - 1] = NONE;
      if (at + 1 < len) rank[at] = rankAt(at);
      else rank[at] = NONE;
      if (at > 0) rank[at - 1] = rankAt(at - 1);
    }
  }

  /**
   * Same result as mergeByScan in O(n log n): a doubly linked list of symbols and a min-heap of
   * (rank, position). Equal ranks pop left to right, and a merge's product only takes part in
   * later-ranked merges, so the order of merges matches the scan.
   */
  mergeWithHeap(word: Int32Array): Int32Array {
    const n = word.length;
    const sym = Int32Array.from(word);
    const next = new Int32Array(n), prev = new Int32Array(n);
    for (let i = 0; i < n; i++) { next[i] = i + 1; prev[i] = i - 1; }
    next[n - 1] = -1;
    const heap = new MinHeap();
    const pushPair = (i: number) => {
      const j = next[i]!;
      if (i < 0 || j < 0) return;
      const r = this.ranks.get(sym[i]!, sym[j]!);
      if (r !== -1) heap.push(r, i, sym[i]!, sym[j]!);
    };
    for (let i = 0; i + 1 < n; i++) pushPair(i);
    while (heap.size > 0) {
      const { rank, pos, a, b } = heap.pop();
      const j = next[pos]!;
      if (sym[pos] !== a || j < 0 || sym[j] !== b) continue;  // stale: a neighbour merged first
      sym[pos] = this.mergedId[rank]!;
      sym[j] = -1;
      const k = next[j]!;
      next[pos] = k;
      if (k >= 0) prev[k] = pos;
      pushPair(prev[pos]!);
      pushPair(pos);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(sym[i]!);
    return Int32Array.from(out);
  }

  /** Hugging Face tokenizer.json layout. */
  toJSON(): object {
    const vocab: Record<string, number> = {};
    this.tokenBytes.forEach((b, id) => { vocab[bytesToVocabString(b)] = id; });
    const merges = this.mergePairs.map(([a, b]) => `${bytesToVocabString(this.tokenBytes[a]!)} ${bytesToVocabString(this.tokenBytes[b]!)}`);
    const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: this.patternIsGpt2 };
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: this.patternIsGpt2 ? byteLevel : {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: this.pattern }, behavior: 'Isolated', invert: false },
          byteLevel,
        ],
      },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
      },
    };
  }

  /** Reads the tokenizer.json layout (ours, or a GPT-2-style byte-level BPE); errors name the field. */
  static fromJSON(obj: unknown): BpeTokenizer {
    const root = record(obj, 'tokenizer');
    const model = record(root['model'], 'model');
    if (model['type'] !== 'BPE') throw new TokenizerFormatError(`model.type: expected "BPE", got ${JSON.stringify(model['type'])}`);
    const { pattern, gpt2 } = readPreTokenizer(root['pre_tokenizer']);
    const vocab = record(model['vocab'], 'model.vocab');
    const entries = Object.entries(vocab);
    const tokenBytes: Uint8Array[] = new Array<Uint8Array>(entries.length);
    const idOf = new Map<string, number>();
    for (const [tok, id] of entries) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= entries.length) {
        throw new TokenizerFormatError(`model.vocab[${JSON.stringify(tok)}]: expected an id in [0, ${entries.length}), got ${JSON.stringify(id)}`);
      }
      if (tokenBytes[id] !== undefined) throw new TokenizerFormatError(`model.vocab[${JSON.stringify(tok)}]: id ${id} is used twice`);
      const bytes = vocabStringToBytes(tok);
      if (bytes === undefined || bytes.length === 0) throw new TokenizerFormatError(`model.vocab[${JSON.stringify(tok)}]: not a byte-level token`);
      tokenBytes[id] = bytes;
      idOf.set(tok, id);
    }
    for (let b = 0; b < 256; b++) {
      if (!idOf.has(BYTE_TO_CHAR[b]!)) throw new TokenizerFormatError(`model.vocab: byte ${b} (${JSON.stringify(BYTE_TO_CHAR[b])}) is missing`);
    }
    const rawMerges = model['merges'];
    if (!Array.isArray(rawMerges)) throw new TokenizerFormatError('model.merges: expected an array');
    const merges: Merge[] = [];
    const mergedId = new Int32Array(rawMerges.length);
    rawMerges.forEach((m: unknown, r) => {
      const parts = typeof m === 'string' ? m.split(' ') : m;
      if (!Array.isArray(parts) || parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string') {
        throw new TokenizerFormatError(`model.merges[${r}]: expected "left right" or [left, right], got ${JSON.stringify(m)}`);
      }
      const [l, rt] = parts as [string, string];
      const a = idOf.get(l), b = idOf.get(rt), c = idOf.get(l + rt);
      if (a === undefined || b === undefined || c === undefined) {
        throw new TokenizerFormatError(`model.merges[${r}]: "${l} ${rt}" uses a token that is not in model.vocab`);
      }
      merges.push([a, b]);
      mergedId[r] = c;
    });
    return new BpeTokenizer(tokenBytes, merges, mergedId, pattern, gpt2);
  }

  /** sha256 of the canonical JSON: names the tokenizer that produced a token shard. */
  hash(): string {
    this.hashHex ??= createHash('sha256').update(JSON.stringify(this.toJSON())).digest('hex');
    return this.hashHex;
  }

  /** Writes tokenizer.json durably and atomically (temporary file, fsync, rename). */
  save(path: string): void {
    atomicWriteSync(path, JSON.stringify(this.toJSON()));
  }

  static load(path: string): BpeTokenizer {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new TokenizerFormatError(`${path}: cannot read (${errnoCode(e) ?? String(e)})`);
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new TokenizerFormatError(`${path}: not JSON (${errorMessage(e)})`);
    }
    try {
      return BpeTokenizer.fromJSON(obj);
    } catch (e) {
      if (e instanceof TokenizerFormatError) throw new TokenizerFormatError(`${path}: ${e.message}`);
      throw e;
    }
  }
}

/** A tokenizer file or object that does not have the expected layout. */
export class TokenizerFormatError extends InputError {
  override readonly name = 'TokenizerFormatError';
}

function record(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TokenizerFormatError(`${field}: expected an object`);
  return v as Record<string, unknown>;
}

/** Our Sequence[Split(regex), ByteLevel(use_regex=false)], or GPT-2's ByteLevel(use_regex=true). */
function readPreTokenizer(v: unknown): { pattern: string; gpt2: boolean } {
  const pt = record(v, 'pre_tokenizer');
  if (pt['type'] === 'ByteLevel') {
    if (pt['use_regex'] === false) throw new TokenizerFormatError('pre_tokenizer: ByteLevel with use_regex=false needs a Split before it');
    return { pattern: GPT2_PATTERN, gpt2: true };
  }
  const seq = pt['pretokenizers'];
  if (pt['type'] !== 'Sequence' || !Array.isArray(seq) || seq.length !== 2) {
    throw new TokenizerFormatError('pre_tokenizer: expected ByteLevel, or Sequence [Split, ByteLevel]');
  }
  const split = record(seq[0], 'pre_tokenizer.pretokenizers[0]');
  const regex = split['type'] === 'Split' ? record(split['pattern'], 'pre_tokenizer.pretokenizers[0].pattern')['Regex'] : undefined;
  if (typeof regex !== 'string') throw new TokenizerFormatError('pre_tokenizer.pretokenizers[0]: expected a Split with pattern.Regex');
  if (record(seq[1], 'pre_tokenizer.pretokenizers[1]')['type'] !== 'ByteLevel') {
    throw new TokenizerFormatError('pre_tokenizer.pretokenizers[1]: expected ByteLevel');
  }
  try {
    compilePattern(regex);
  } catch (e) {
    throw new TokenizerFormatError(`pre_tokenizer.pretokenizers[0].pattern.Regex: not usable here (${errorMessage(e)})`);
  }
  return { pattern: regex, gpt2: false };
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Min-heap of merge candidates ordered by (rank, position), for BpeTokenizer.mergeWithHeap. */
class MinHeap {
  private items: { rank: number; pos: number; a: number; b: number }[] = [];
  get size(): number { return this.items.length; }
  private less(i: number, j: number): boolean {
    const x = this.items[i]!, y = this.items[j]!;
    return x.rank < y.rank || (x.rank === y.rank && x.pos < y.pos);
  }
  push(rank: number, pos: number, a: number, b: number): void {
    const it = this.items;
    it.push({ rank, pos, a, b });
    for (let i = it.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      [it[i], it[p]] = [it[p]!, it[i]!];
      i = p;
    }
  }
  pop(): { rank: number; pos: number; a: number; b: number } {
    const it = this.items;
    const top = it[0]!;
    const last = it.pop()!;
    if (it.length > 0) {
      it[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < it.length && this.less(l, m)) m = l;
        if (r < it.length && this.less(r, m)) m = r;
        if (m === i) break;
        [it[i], it[m]] = [it[m]!, it[i]!];
        i = m;
      }
    }
    return top;
  }
}
