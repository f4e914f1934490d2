// The safetensors file format: 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}}, then the raw little-endian data.
import { readFileSync } from 'node:fs';
import { AtomicFileWriter, atomicWriteSync } from '../util/durable.js';

export interface NamedArray {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/** A tensor's place in a file before its data exists: name and shape (float32). */
export interface TensorEntry {
  name: string;
  shape: readonly number[];
}

/**
 * The header of a file holding `tensors` back to back in this order: 8-byte length, then the JSON
 * padded with spaces to a multiple of 8 bytes (so the data section starts 8-byte aligned).
 */
export function safetensorsHeader(tensors: readonly TensorEntry[], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let off = 0;
  for (const t of tensors) {
    const bytes = 4 * volume(t.shape);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8);
  return head;
}

/** Writes float32 tensors to `path` atomically (temporary file, fsync, rename). */
export function writeSafetensors(path: string, tensors: readonly NamedArray[], metadata: Record<string, string> = {}): void {
  for (const t of tensors) checkLength(path, t, t.data);
  atomicWriteSync(path, [safetensorsHeader(tensors, metadata), ...tensors.map((t) => bytesOf(t.data))]);
}

/**
 * The same file as writeSafetensors, byte for byte, with the data arriving one tensor at a time:
 * `data` yields each entry's values in order, and each array may be dropped once yielded, so the
 * writer never holds more than one tensor. Durable and atomic like writeSafetensors.
 */
export async function writeSafetensorsStreamed(path: string, tensors: readonly TensorEntry[], data: AsyncIterable<Float32Array>,
  metadata: Record<string, string> = {}): Promise<void> {
  const w = new AtomicFileWriter(path);
  try {
    w.write(safetensorsHeader(tensors, metadata));
    let i = 0;
    for await (const d of data) {
      const t = tensors[i++];
      if (t === undefined) throw new Error(`${path}: more tensors than the ${tensors.length} in the header`);
      checkLength(path, t, d);
      w.write(bytesOf(d));
    }
    if (i !== tensors.length) throw new Error(`${path}: ${i} of the header's ${tensors.length} tensors arrived`);
    w.commit();
  } catch (e) {
    w.abort();
    throw e;
  }
}

function checkLength(path: string, t: TensorEntry, d: Float32Array): void {
  if (d.length !== volume(t.shape)) throw new Error(`${path}: tensor ${t.name} has ${d.length} values, shape [${t.shape}]`);
}

function bytesOf(d: Float32Array): Uint8Array {
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function volume(shape: readonly number[]): number {
  return shape.reduce((p, n) => p * n, 1);
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
