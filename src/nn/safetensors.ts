// The safetensors file format: 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}}, then the raw little-endian data.
import { readFileSync } from 'node:fs';
import { atomicWriteSync } from '../util/durable.js';

export interface NamedArray {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/** Writes float32 tensors to `path` atomically (temporary file, fsync, rename). */
export function writeSafetensors(path: string, tensors: readonly NamedArray[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // align the data section to 8 bytes
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8);
  atomicWriteSync(path, [head, ...tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

/** Reads every float32 tensor of a safetensors file; the header is JSON, no code is run. */
export function readSafetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(path);
  if (buf.length < 8) throw new Error(`${path}: too short for a safetensors file`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new Error(`${path}: header length ${n} exceeds the file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as typeof header;
  } catch {
    throw new Error(`${path}: header is not valid JSON`);
  }
  const base = 8 + n;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (h.dtype !== 'F32') throw new Error(`${path}: tensor ${name} has dtype ${h.dtype}, only F32 is supported`);
    const [b, e] = h.data_offsets;
    const count = h.shape.reduce((p, d) => p * d, 1);
    if (e - b !== count * 4 || base + e > buf.length) throw new Error(`${path}: tensor ${name} is truncated or malformed`);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(buf.subarray(base + b, base + e));
    out.set(name, { shape: h.shape, data });
  }
  return out;
}
