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

/** Normalizes one document; pure and deterministic. */
export function normalizeText(text: string, o: NormalizeOptions = DEFAULT_NORMALIZE): string {
  let t = text;
  if (t.includes('\r')) t = t.replace(/\r\n?/g, '\n');
  if (o.controls) t = t.replace(CONTROLS, '');
  if (o.nfkc && !nfkcInvariant(t)) t = t.normalize('NFKC');
  if (o.whitespace) {
    t = t.replace(HORIZONTAL_SPACE, ' ')
      .replace(/ ?\n ?/g, '\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  }
  return t;
}

/** True when every character is one NFKC leaves alone for sure: below U+00A0, or a dash or
 * curly quote (U+2013..U+201D). A quick scan that spares most English text the full normalizer. */
function nfkcInvariant(t: string): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c >= 0xa0 && !(c >= 0x2013 && c <= 0x201d && c !== 0x2017)) return false;
  }
  return true;
}

/** A Traditional -> Simplified converter (OpenCC 't' -> 'cn'), loaded on first use (~1 s). */
export async function loadT2S(): Promise<(s: string) => string> {
  const opencc = await import('opencc-js/t2cn');
  return opencc.Converter({ from: 't', to: 'cn' });
}
