// Token shards on disk: a 128-byte header and little-endian token ids, written atomically.
//
// Header (little-endian):
//   0  8  magic "FURNTOK\0"        24 32  sha256 of the tokenizer.json that produced the tokens
//   8  4  format version (1)       56 32  sha256 of the payload (catches truncated or torn files)
//  12  4  bytes per token (2, 4)   88 40  zero
//  16  8  token count
// A shard set is a folder of shard-NNNNN.tok files plus index.json, written last as the commit
// marker; the tokenizer.json that made the tokens is copied beside them.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { atomicWriteSync } from '../util/durable.js';
import { join } from 'node:path';
import { InputError, errorMessage, errnoCode } from '../util/errors.js';

export const SHARD_MAGIC = 'FURNTOK\0';
export const SHARD_VERSION = 1;
export const HEADER_BYTES = 128;

export type TokenDType = 'uint16' | 'uint32';
export type TokenArray = Uint16Array | Uint32Array;

export interface ShardHeader {
  version: number;
  dtype: TokenDType;
  count: number;
  tokenizerHash: string;
  payloadHash: string;
}

/** A shard file or shard set that is damaged or does not match what the reader expects. */
export class ShardFormatError extends InputError {
  override readonly name = 'ShardFormatError';
}

/** The narrowest dtype that holds every id below vocabSize. */
export function dtypeFor(vocabSize: number): TokenDType {
  return vocabSize <= 0x10000 ? 'uint16' : 'uint32';
}

/** Writes `tokens` to `path` through a temporary file, fsync and rename: a reader sees all or nothing. */
export function writeShard(path: string, tokens: ArrayLike<number>, tokenizerHash: string, dtype: TokenDType): ShardHeader {
  if (!/^[0-9a-f]{64}$/.test(tokenizerHash)) throw new RangeError(`tokenizerHash: expected 64 hex digits, got '${tokenizerHash}'`);
  const payload = dtype === 'uint16' ? new Uint16Array(tokens.length) : new Uint32Array(tokens.length);
  const limit = dtype === 'uint16' ? 0xffff : 0xffffffff;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!(t >= 0 && t <= limit && Number.isInteger(t))) throw new RangeError(`token ${i} = ${t} does not fit ${dtype}`);
    payload[i] = t;
  }
  const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  const payloadHash = createHash('sha256').update(bytes).digest('hex');
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(SHARD_MAGIC, 0, 'latin1');
  header.writeUInt32LE(SHARD_VERSION, 8);
  header.writeUInt32LE(dtype === 'uint16' ? 2 : 4, 12);
  header.writeBigUInt64LE(BigInt(tokens.length), 16);
  Buffer.from(tokenizerHash, 'hex').copy(header, 24);
  Buffer.from(payloadHash, 'hex').copy(header, 56);
  atomicWrite(path, [header, bytes]);
  return { version: SHARD_VERSION, dtype, count: tokens.length, tokenizerHash, payloadHash };
}

/** Parses and checks a shard header; `fileBytes` (when known) must match the count it declares. */
export function parseShardHeader(buf: Uint8Array, path: string, fileBytes?: number): ShardHeader {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < HEADER_BYTES || b.toString('latin1', 0, 8) !== SHARD_MAGIC) throw new ShardFormatError(`${path}: not a furnace token shard (bad magic)`);
  const version = b.readUInt32LE(8);
  if (version !== SHARD_VERSION) throw new ShardFormatError(`${path}: version ${version}, this furnace reads version ${SHARD_VERSION}`);
  const width = b.readUInt32LE(12);
  if (width !== 2 && width !== 4) throw new ShardFormatError(`${path}: bytes per token ${width}, expected 2 or 4`);
  const count = Number(b.readBigUInt64LE(16));
  if (fileBytes !== undefined && fileBytes !== HEADER_BYTES + count * width) {
    throw new ShardFormatError(`${path}: size ${fileBytes} bytes, header declares ${count} tokens (${HEADER_BYTES + count * width} bytes): truncated or damaged`);
  }
  return {
    version, dtype: width === 2 ? 'uint16' : 'uint32', count,
    tokenizerHash: b.toString('hex', 24, 56), payloadHash: b.toString('hex', 56, 88),
  };
}

export interface ReadShardOptions {
  /** Refuse the shard unless its tokenizer hash equals this. */
  tokenizerHash?: string;
  /** Check the payload sha256 (default true; ~1 GB/s). */
  verify?: boolean;
}

/** Reads a shard as a typed array over the file's bytes (no per-token copy). */
export function readShard(path: string, opts: ReadShardOptions = {}): { header: ShardHeader; tokens: TokenArray } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new ShardFormatError(`${path}: cannot read (${errnoCode(e) ?? String(e)})`);
  }
  const header = parseShardHeader(buf, path, buf.length);
  if (opts.tokenizerHash !== undefined && opts.tokenizerHash !== header.tokenizerHash) {
    throw new ShardFormatError(`${path}: made by tokenizer ${header.tokenizerHash.slice(0, 12)}, expected ${opts.tokenizerHash.slice(0, 12)}`);
  }
  const payload = buf.subarray(HEADER_BYTES);
  if (opts.verify !== false && createHash('sha256').update(payload).digest('hex') !== header.payloadHash) {
    throw new ShardFormatError(`${path}: payload sha256 does not match the header: damaged`);
  }
  const width = header.dtype === 'uint16' ? 2 : 4;
  // A typed array needs an aligned offset; Buffers from readFileSync usually are, else copy once.
  const aligned = payload.byteOffset % width === 0 ? payload : Buffer.from(payload);
  const tokens = width === 2
    ? new Uint16Array(aligned.buffer, aligned.byteOffset, header.count)
    : new Uint32Array(aligned.buffer, aligned.byteOffset, header.count);
  return { header, tokens };
}

/** index.json of a shard set. */
export interface ShardIndex {
  format: 'furnace-tokens';
  version: number;
  tokenizer_hash: string;
  tokenizer_file: string;
  dtype: TokenDType;
  total_tokens: number;
  documents: number;
  shards: { file: string; tokens: number; sha256: string }[];
  sources: { path: string; bytes: number; sha256: string }[];
}

/**
 * Streams tokens into a folder of shards of `shardTokens` tokens each. `finish()` writes
 * index.json last; a folder without it is an interrupted write, and readers refuse it.
 */
export class ShardWriter {
  private buf: Uint32Array;
  private n = 0;
  private total = 0;
  private docs = 0;
  private readonly shards: ShardIndex['shards'] = [];

  constructor(private readonly dir: string, private readonly tokenizerHash: string, private readonly dtype: TokenDType,
    private readonly tokenizerPath: string, private readonly shardTokens = 1 << 24) {
    mkdirSync(dir, { recursive: true });
    this.buf = new Uint32Array(Math.min(shardTokens, 1 << 16));
  }

  /** Appends tokens; `newDocument` false continues the previous document (e.g. a separator). */
  add(tokens: ArrayLike<number>, newDocument = true): void {
    if (newDocument) this.docs++;
    for (let i = 0; i < tokens.length;) {
      if (this.n === this.buf.length) {
        if (this.n === this.shardTokens) this.flush();
        else { const g = new Uint32Array(Math.min(this.buf.length * 2, this.shardTokens)); g.set(this.buf); this.buf = g; }
      }
      const take = Math.min(tokens.length - i, this.buf.length - this.n);
      for (let k = 0; k < take; k++) this.buf[this.n + k] = tokens[i + k]!;
      this.n += take;
      i += take;
    }
  }

  private flush(): void {
    if (this.n === 0) return;
    const file = `shard-${String(this.shards.length).padStart(5, '0')}.tok`;
    const h = writeShard(join(this.dir, file), this.buf.subarray(0, this.n), this.tokenizerHash, this.dtype);
    this.shards.push({ file, tokens: this.n, sha256: h.payloadHash });
    this.total += this.n;
    this.n = 0;
  }

  /** Writes the last shard, copies the tokenizer, then index.json (the commit marker). */
  finish(sources: ShardIndex['sources']): ShardIndex {
    this.flush();
    copyFileSync(this.tokenizerPath, join(this.dir, 'tokenizer.json'));
    const index: ShardIndex = {
      format: 'furnace-tokens', version: SHARD_VERSION, tokenizer_hash: this.tokenizerHash, tokenizer_file: 'tokenizer.json',
      dtype: this.dtype, total_tokens: this.total, documents: this.docs, shards: this.shards, sources,
    };
    atomicWrite(join(this.dir, 'index.json'), [Buffer.from(JSON.stringify(index, null, 2) + '\n')]);
    return index;
  }
}

/** Reads a whole shard set written by ShardWriter, in order, as one typed array. */
export function readShardSet(dir: string, opts: ReadShardOptions = {}): { index: ShardIndex; tokens: TokenArray } {
  const indexPath = join(dir, 'index.json');
  let index: ShardIndex;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8')) as ShardIndex;
  } catch (e) {
    throw new ShardFormatError(`${indexPath}: missing or not JSON (${errorMessage(e)}); an interrupted write leaves no index`);
  }
  if (index.format !== 'furnace-tokens' || !Array.isArray(index.shards)) throw new ShardFormatError(`${indexPath}: format: expected "furnace-tokens"`);
  const hash = opts.tokenizerHash ?? index.tokenizer_hash;
  const out = index.dtype === 'uint16' ? new Uint16Array(index.total_tokens) : new Uint32Array(index.total_tokens);
  let o = 0;
  for (const s of index.shards) {
    const { header, tokens } = readShard(join(dir, s.file), { ...opts, tokenizerHash: hash });
    if (header.payloadHash !== s.sha256 || header.count !== s.tokens) throw new ShardFormatError(`${join(dir, s.file)}: does not match index.json`);
    if (o + tokens.length > out.length) throw new ShardFormatError(`${indexPath}: total_tokens is smaller than the shards hold`);
    out.set(tokens, o);
    o += tokens.length;
  }
  if (o !== out.length) throw new ShardFormatError(`${indexPath}: total_tokens ${out.length}, shards hold ${o}`);
  return { index, tokens: out };
}

function atomicWrite(path: string, parts: Uint8Array[]): void {
  atomicWriteSync(path, parts);
}

/** Writes a small text file atomically (used for reports and manifests). */
export function writeTextAtomic(path: string, text: string): void {
  atomicWrite(path, [Buffer.from(text)]);
}

