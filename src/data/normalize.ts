// Text normalization, the first cleaning stage: Unicode NFKC, control characters, whitespace,
// and optionally Traditional to Simplified Chinese (OpenCC tables via opencc-js).

export interface NormalizeOptions {
  /** Unicode compatibility composition (full-width forms, ligatures, compatibility ideographs). */
  nfkc: boolean;
  /** Remove C0/C1 control and zero-width characters (tab and newline are kept). */
  controls: boolean;
  /** Collapse runs of spaces, strip line ends, at most one blank line in a row, trim the document. */
  whitespace: boolean;
}

export const DEFAULT_NORMALIZE: NormalizeOptions = { nfkc: true, controls: true, whitespace: true };

// C0 except \t \n, DEL, C1, zero-width space/joiners, word joiner, BOM, soft hyphen.
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u200b-\u200d\u2060\ufeff]/g;
const HORIZONTAL_SPACE = /[^\S\n]+/g;  // any whitespace but newline (tab, NBSP, ideographic space, ...)
const NEEDS_CONTROLS = 1, NEEDS_NFKC = 2, NEEDS_SPACE = 4;

/** Normalizes one document; pure and deterministic. */
export function normalizeText(text: string, o: NormalizeOptions = DEFAULT_NORMALIZE): string {
  let t = text;
  if (t.includes('\r')) t = t.replace(/\r\n?/g, '\n');
  const need = scan(t);
  if (o.controls && need & NEEDS_CONTROLS) t = t.replace(CONTROLS, '');
  if (o.nfkc && need & NEEDS_NFKC) t = t.normalize('NFKC');
  if (o.whitespace) {
    if (need & NEEDS_SPACE) t = t.replace(HORIZONTAL_SPACE, ' ').replace(/ ?\n ?/g, '\n').replace(/\n{3,}/g, '\n\n');
    t = t.trim();
  }
  return t;
}

/**
 * One pass over the text that says which rewrites it needs, so that most English text skips the
 * regexes and the full NFKC normalizer. NFKC is needed unless every character is below U+00A0 or
 * a dash or curly quote (U+2013..U+201D but U+2017), which NFKC leaves alone.
 */
function scan(t: string): number {
  let need = 0, prev = 0x0a, run = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x20) {
      if (c === 0x0a) {
        if (prev === 0x20) need |= NEEDS_SPACE;
        if (++run >= 3) need |= NEEDS_SPACE;
      } else need |= c === 0x09 ? NEEDS_SPACE : NEEDS_CONTROLS | NEEDS_SPACE;
    } else {
      if (c === 0x20 && (prev === 0x20 || prev === 0x0a)) need |= NEEDS_SPACE;
      else if (c >= 0x7f) {
        if (c <= 0x9f || c === 0xad || (c >= 0x200b && c <= 0x200d) || c === 0x2060 || c === 0xfeff) need |= NEEDS_CONTROLS;
        if (c >= 0xa0 && !(c >= 0x2013 && c <= 0x201d && c !== 0x2017)) need |= NEEDS_NFKC | NEEDS_SPACE;
      }
      run = 0;
    }
    prev = c;
  }
  return need;
}

/** A Traditional -> Simplified converter (OpenCC 't' -> 'cn'), loaded on first use (~1 s). */
export async function loadT2S(): Promise<(s: string) => string> {
  const opencc = await import('opencc-js/t2cn');
  return opencc.Converter({ from: 't', to: 'cn' });
}
