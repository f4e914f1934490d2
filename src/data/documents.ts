// Streaming document reader: JSONL, .txt files and folders, with every bad input counted by line.
import { InputError, errorMessage, errnoCode } from '../util/errors.js';
export { InputError };
//
// How inputs become documents:
//   *.jsonl / *.json  one JSON object per line; `text` (string) is required, `id` is kept (else
//                     "<file>:<line>"), every other field is carried through untouched.
//   *.txt             split by `split`: 'paragraph' (default for a single file: blocks separated by
//                     blank lines), 'file' (default inside a folder: the whole file), 'line'.
//   folder            every .txt/.jsonl/.json file below it, sorted by path.
// Memory stays bounded: files are read in 4 MiB chunks, and a line or document larger than
// `maxDocBytes` is skipped (and reported) without being held.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

export interface Doc {
  id: string;
  text: string;
  /** Fields of a JSONL record other than id and text, kept as they were. */
  fields: Record<string, unknown>;
  source: string;
  /** 1-based line where the document starts in its source. */
  line: number;
}

export const BAD_INPUT_REASONS = ['invalid_utf8', 'malformed_json', 'missing_text', 'too_large', 'empty', 'unreadable'] as const;
export type BadInputReason = (typeof BAD_INPUT_REASONS)[number];

export interface BadInput { source: string; line: number; reason: BadInputReason; detail: string }

export interface SourceFile { path: string; bytes: number; sha256: string }

export type SplitMode = 'file' | 'paragraph' | 'line';

export interface ReadOptions {
  /** How .txt files become documents (default: 'paragraph' for one file, 'file' in a folder). */
  split?: SplitMode;
  /** Largest document or line, in bytes (default 16 MiB). */
  maxDocBytes?: number;
  onBad: (b: BadInput) => void;
  /** Called when a source file has been read to its end, with its size and sha256. */
  onSource?: (s: SourceFile) => void;
  /** Called with the number of bytes read, for progress. */
  onBytes?: (n: number) => void;
}


const DOC_EXT = /\.(txt|jsonl|json)$/i;

/** The files an input path stands for, sorted; throws InputError naming the path if there are none. */
export function listInputs(input: string): { files: string[]; isFolder: boolean } {
  let st;
  try {
    st = statSync(input);
  } catch {
    throw new InputError(`${input}: no such file or folder`);
  }
  if (st.isFile()) return { files: [input], isFolder: false };
  if (!st.isDirectory()) throw new InputError(`${input}: not a regular file or folder`);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if ((e.isFile() || e.isSymbolicLink()) && DOC_EXT.test(e.name)) files.push(p);
    }
  };
  walk(input);
  files.sort();
  if (files.length === 0) throw new InputError(`${input}: folder holds no .txt, .jsonl or .json files`);
  return { files, isFolder: true };
}

/** One line of a file: its text, or why it could not be read. */
interface Line { no: number; text: string | null; bad?: 'invalid_utf8' | 'too_large'; bytes: number }

/** Reads a file line by line in fixed-size chunks; lines over `maxBytes` are reported, not held. */
function* readLines(path: string, maxBytes: number, hash: Hash, onBytes?: (n: number) => void): Generator<Line> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const fd = openSync(path, 'r');
  const chunk = Buffer.allocUnsafe(1 << 22);
  let parts: Buffer[] = [];
  let partBytes = 0;
  let overflow = false;
  let no = 0;
  const finish = (tail: Buffer): Line => {
    no++;
    const total = partBytes + tail.length;
    if (overflow || total > maxBytes) return { no, text: null, bad: 'too_large', bytes: total };
    let buf = parts.length === 0 ? tail : Buffer.concat([...parts, tail]);
    if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
    try {
      return { no, text: decoder.decode(buf), bytes: total };
    } catch {
      return { no, text: null, bad: 'invalid_utf8', bytes: total };
    }
  };
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      const view = chunk.subarray(0, n);
      hash.update(view);
      onBytes?.(n);
      let start = 0;
      for (let nl = view.indexOf(0x0a, start); nl !== -1; nl = view.indexOf(0x0a, start)) {
        yield finish(view.subarray(start, nl));
        parts = []; partBytes = 0; overflow = false;
        start = nl + 1;
      }
      const rest = view.subarray(start);
      partBytes += rest.length;
      if (partBytes > maxBytes) { overflow = true; parts = []; }
      else if (rest.length > 0) parts.push(Buffer.from(rest));
    }
    if (partBytes > 0 || overflow) yield finish(Buffer.alloc(0));
  } finally {
    closeSync(fd);
  }
}

/** All documents of an input path, in order. Bad inputs go to `opts.onBad`, never thrown. */
export function* readDocuments(input: string, opts: ReadOptions): Generator<Doc> {
  const { files, isFolder } = listInputs(input);
  const split = opts.split ?? (isFolder ? 'file' : 'paragraph');
  const maxBytes = opts.maxDocBytes ?? 16 << 20;
  for (const file of files) {
    const name = isFolder ? relative(input, file) : basename(file);
    const hash = createHash('sha256');
    let bytes = 0;
    const lines = readLines(file, maxBytes, hash, (n) => { bytes += n; opts.onBytes?.(n); });
    const bad = (line: number, reason: BadInputReason, detail: string) => opts.onBad({ source: name, line, reason, detail });
    try {
      if (/\.jsonl?$/i.test(file)) yield* jsonlDocs(lines, name, bad);
      else yield* textDocs(lines, name, split, maxBytes, bad);
    } catch (e) {
      const code = errnoCode(e);
      if (code === undefined) throw e;
      bad(0, 'unreadable', `${code}: ${errorMessage(e)}`);  // e.g. EACCES, EISDIR: skip the file, go on
      continue;
    }
    opts.onSource?.({ path: file, bytes, sha256: hash.digest('hex') });
  }
}

type Bad = (line: number, reason: BadInputReason, detail: string) => void;

function* jsonlDocs(lines: Generator<Line>, name: string, bad: Bad): Generator<Doc> {
  for (const l of lines) {
    if (l.text === null) { bad(l.no, l.bad ?? 'invalid_utf8', `${l.bytes} bytes`); continue; }
    if (l.text.trim() === '') { bad(l.no, 'empty', 'blank line'); continue; }
    let rec: unknown;
    try {
      rec = JSON.parse(l.text);
    } catch (e) {
      bad(l.no, 'malformed_json', errorMessage(e).slice(0, 120));
      continue;
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) { bad(l.no, 'malformed_json', 'not a JSON object'); continue; }
    const { text, id, ...fields } = rec as Record<string, unknown>;
    if (typeof text !== 'string') { bad(l.no, 'missing_text', `"text" is ${text === undefined ? 'missing' : typeof text}`); continue; }
    const docId = typeof id === 'string' || typeof id === 'number' ? String(id) : `${name}:${l.no}`;
    if (text.trim() === '') { bad(l.no, 'empty', `document ${docId} has no text`); continue; }
    yield { id: docId, text, fields, source: name, line: l.no };
  }
}

function* textDocs(lines: Generator<Line>, name: string, split: SplitMode, maxBytes: number, bad: Bad): Generator<Doc> {
  let buf: string[] = [];
  let bufBytes = 0;
  let start = 0;
  let broken: { reason: BadInputReason; line: number } | undefined;
  const flush = function* (): Generator<Doc> {
    if (broken !== undefined) bad(broken.line, broken.reason, `document starting at line ${start} skipped`);
    else if (buf.length > 0 && buf.some((s) => s.trim() !== '')) {
      yield { id: split === 'file' ? name : `${name}:${start}`, text: buf.join('\n'), fields: {}, source: name, line: start };
    } else if (split === 'file') bad(1, 'empty', 'file has no text');
    buf = []; bufBytes = 0; broken = undefined;
  };
  for (const l of lines) {
    if (split === 'line') {
      if (l.text === null) bad(l.no, l.bad ?? 'invalid_utf8', `${l.bytes} bytes`);
      else if (l.text.trim() !== '') yield { id: `${name}:${l.no}`, text: l.text, fields: {}, source: name, line: l.no };
      continue;
    }
    if (split === 'paragraph' && l.text !== null && l.text.trim() === '') {
      if (buf.length > 0 || broken !== undefined) yield* flush();
      continue;
    }
    if (buf.length === 0 && broken === undefined) start = l.no;
    if (broken !== undefined) continue;
    if (l.text === null) { broken = { reason: l.bad ?? 'invalid_utf8', line: l.no }; buf = []; continue; }
    bufBytes += l.bytes + 1;
    if (bufBytes > maxBytes) { broken = { reason: 'too_large', line: l.no }; buf = []; continue; }
    buf.push(l.text);
  }
  if (buf.length > 0 || broken !== undefined || split === 'file') yield* flush();
}
