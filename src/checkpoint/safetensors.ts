// The safetensors container: 8-byte little-endian header length, JSON header, raw tensor bytes.
//
// Spec (huggingface/safetensors README): header entries {dtype, shape, data_offsets: [begin, end)}
// relative to the byte buffer after the header, which must be covered without holes; optional
// "__metadata__" maps strings to strings; the header may be padded with spaces. Nothing in it is
// executed: it is parsed as JSON only.
import { open, type FileHandle } from 'node:fs/promises';
import { errorMessage } from '../util/errors.js';

export interface SafetensorsEntry {
  name: string;
  shape: number[];
  /** Byte length of the data (float32: 4 * prod(shape)). */
  bytes: number;
}

export interface SafetensorsLayout {
  header: Uint8Array;
  /** Absolute byte range [start, end) of each entry's data in the file, in entry order. */
  ranges: [number, number][];
  fileBytes: number;
}

/** Largest header accepted on read (the spec's reference reader also caps it, at 100 MB). */
const MAX_HEADER = 100_000_000;
/** Data starts at a multiple of this, so float32 views of a mapped file stay aligned. */
const ALIGN = 64;

/** Lays out a file holding `entries` back to back in order (float32 data only). */
export function layoutSafetensors(entries: SafetensorsEntry[], metadata: Record<string, string> = {}): SafetensorsLayout {
  const json: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) json['__metadata__'] = metadata;
  let at = 0;
  const rel: [number, number][] = [];
  for (const e of entries) {
    if (e.name in json) throw new Error(`safetensors: duplicate tensor name '${e.name}'`);
    json[e.name] = { dtype: 'F32', shape: e.shape, data_offsets: [at, at + e.bytes] };
    rel.push([at, at + e.bytes]);
    at += e.bytes;
  }
  const text = JSON.stringify(json);
  const raw = new TextEncoder().encode(text);
  const padded = Math.ceil((8 + raw.length) / ALIGN) * ALIGN - 8;
  const header = new Uint8Array(8 + padded).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(raw, 8);
  const base = header.length;
  return { header, ranges: rel.map(([a, b]) => [base + a, base + b]), fileBytes: base + at };
}

export interface ParsedEntry {
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  range: [number, number];
}

export interface ParsedHeader {
  entries: Map<string, ParsedEntry>;
  metadata: Record<string, string>;
  dataStart: number;
}

/** Reads and validates the header of an open safetensors file of `fileBytes` bytes. */
export async function readSafetensorsHeader(fh: FileHandle, fileBytes: number): Promise<ParsedHeader> {
  if (fileBytes < 8) throw new Error(`file of ${fileBytes} bytes has no safetensors header`);
  const lenBuf = new Uint8Array(8);
  await fh.read(lenBuf, 0, 8, 0);
  const n = Number(new DataView(lenBuf.buffer).getBigUint64(0, true));
  if (n > MAX_HEADER || 8 + n > fileBytes) throw new Error(`safetensors header length ${n} exceeds the file (${fileBytes} bytes)`);
  const buf = new Uint8Array(n);
  const { bytesRead } = await fh.read(buf, 0, n, 8);
  if (bytesRead !== n) throw new Error('safetensors header cut short');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf));
  } catch (e) {
    throw new Error(`safetensors header is not valid JSON: ${errorMessage(e)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('safetensors header is not a JSON object');
  const dataStart = 8 + n;
  const entries = new Map<string, ParsedEntry>();
  const metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null) throw new Error('safetensors __metadata__ is not an object');
      for (const [k, s] of Object.entries(v)) if (typeof s === 'string') metadata[k] = s;
      continue;
    }
    if (typeof v !== 'object' || v === null) throw new Error(`safetensors entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: off } = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !isIntArray(shape) || !isIntArray(off) || off.length !== 2 || off[0]! > off[1]!) {
      throw new Error(`safetensors entry '${name}' is malformed`);
    }
    const range: [number, number] = [dataStart + off[0]!, dataStart + off[1]!];
    if (range[1] > fileBytes) throw new Error(`safetensors entry '${name}' ends past the end of the file`);
    entries.set(name, { dtype, shape, range });
  }
  return { entries, metadata, dataStart };
}

/** Opens a standalone .safetensors file and reads its header. */
export async function openSafetensors(path: string): Promise<{ fh: FileHandle; header: ParsedHeader }> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    return { fh, header: await readSafetensorsHeader(fh, size) };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
}
