// The byte-level alphabet of GPT-2 BPE: every byte maps to one printable code point, and back.
//
// Source: GPT-2 `encoder.py` bytes_to_unicode(). Printable Latin-1 bytes map to themselves; the
// other 68 bytes (controls, space, soft hyphen, ...) map to U+0100.. in byte order, so a token's
// vocab string never holds whitespace (space becomes 'Ġ', newline 'Ċ').

/** BYTE_TO_CHAR[b]: the vocab character that stands for byte b. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** Inverse of BYTE_TO_CHAR, keyed by code point. */
export const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(
  BYTE_TO_CHAR.map((ch, b) => [ch.codePointAt(0) ?? 0, b] as const),
);

function buildByteToChar(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(printable(b) ? b : next++);
  return out;
}

/** The vocab string of a byte sequence. */
export function bytesToVocabString(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i] ?? 0];
  return s;
}

/** The bytes of a vocab string, or undefined if it holds a character outside the alphabet. */
export function vocabStringToBytes(s: string): Uint8Array | undefined {
  const out: number[] = [];
  for (const ch of s) {
    const b = CHAR_TO_BYTE.get(ch.codePointAt(0) ?? -1);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return Uint8Array.from(out);
}
