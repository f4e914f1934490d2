// Quality rules: Gopher quality and repetition, C4 line rules, FineWeb extras, with Chinese variants.
//
// Sources and default thresholds:
//   Gopher  Rae et al. 2021 (arXiv 2112.11446), Appendix A.1.1 and Table A1 (repetition);
//           thresholds as in datatrove's GopherQualityFilter / GopherRepetitionFilter.
//   C4      Raffel et al. 2020 (arXiv 1910.10683), Section 2.2: keep lines ending in terminal
//           punctuation with at least 5 words; drop pages with "lorem ipsum", "{", or < 3 sentences.
//   FineWeb Penedo et al. 2024 (arXiv 2406.17557), Section 3.3 / datatrove FineWebQualityFilter.
// Chinese ('zh'): lengths count characters, words are single Han characters, the Han-script ratio
// replaces the stop-word and alphabetic-word rules, and terminal punctuation includes 。！？….
import { findDuplicates, NgramScanner } from './repetition.js';
import { isHanCode, isSpace, statsOfWords, wordStats, type WordStats } from './word-stats.js';

export type Lang = 'en' | 'zh';

export interface QualityOptions {
  gopher: boolean;
  repetition: boolean;
  c4: boolean;
  fineweb: boolean;
  /** Remove documents whose share of placeholder characters (□, U+FFFD) exceeds maxPlaceholderRatio. */
  placeholders: boolean;
  minWords: number; maxWords: number; minWordsZh: number;
  minMeanWordLength: number; maxMeanWordLength: number;
  maxSymbolWordRatio: number; maxBulletLines: number; maxEllipsisLines: number;
  minAlphaWords: number; minStopWords: number; minHanRatio: number;
  maxDupLineFrac: number; maxDupParaFrac: number; maxDupLineChars: number; maxDupParaChars: number;
  topNgram: [n: number, maxFrac: number][]; dupNgram: [n: number, maxFrac: number][];
  /** n-gram repetition rules only look at documents with at least this many words. */
  minWordsForNgramRules: number;
  c4MinWordsPerLine: number; c4MinCharsPerLineZh: number; c4MinSentences: number; c4MinSentencesZh: number;
  finewebMinLinePunct: number; finewebMaxShortLines: number; finewebShortLine: number; finewebShortLineZh: number;
  finewebMaxDupLineChars: number; finewebMaxNewlineRatio: number;
  maxPlaceholderRatio: number;
}

export const DEFAULT_QUALITY: QualityOptions = {
  gopher: true, repetition: true, c4: true, fineweb: true, placeholders: true,
  minWords: 50, maxWords: 100_000, minWordsZh: 20,
  minMeanWordLength: 3, maxMeanWordLength: 10,
  maxSymbolWordRatio: 0.1, maxBulletLines: 0.9, maxEllipsisLines: 0.3,
  minAlphaWords: 0.8, minStopWords: 2, minHanRatio: 0.3,
  maxDupLineFrac: 0.3, maxDupParaFrac: 0.3, maxDupLineChars: 0.2, maxDupParaChars: 0.2,
  topNgram: [[2, 0.2], [3, 0.18], [4, 0.16]],
  dupNgram: [[5, 0.15], [6, 0.14], [7, 0.13], [8, 0.12], [9, 0.11], [10, 0.1]],
  minWordsForNgramRules: 50,
  c4MinWordsPerLine: 5, c4MinCharsPerLineZh: 5, c4MinSentences: 3, c4MinSentencesZh: 2,
  finewebMinLinePunct: 0.12, finewebMaxShortLines: 0.67, finewebShortLine: 30, finewebShortLineZh: 10,
  finewebMaxDupLineChars: 0.1, finewebMaxNewlineRatio: 0.3,
  maxPlaceholderRatio: 0.002,
};

const TERMINAL = /[.!?"”'’。！？…」』)）]$/u;
const LETTER = /\p{L}/u;
const BULLET = /^\s*[•●○■□▪▫‣⁃◦*·\-–—]\s/u;
const HAN = /\p{sc=Han}/gu;
const C4_BAD_LINE = /javascript|terms of use|privacy policy|cookie policy|uses cookies|use of cookies|use cookies/i;

/** The words of a document: whitespace-separated for English; single Han characters and
 * non-Han runs for Chinese. */
export function words(text: string, lang: Lang): string[] {
  if (lang === 'en') {
    const t = text.trim();
    return t === '' ? [] : t.split(/\s+/);  // the regex split beat a charCode scanner here
  }
  return text.match(/\p{sc=Han}|[^\s\p{sc=Han}]+/gu) ?? [];
}

/** Number of whitespace-separated words, without building them; counting stops at `limit`. */
export function countWords(text: string, limit = Infinity): number {
  let n = 0, inWord = false;
  for (let i = 0; i < text.length && n < limit; i++) {
    if (isSpace(text.charCodeAt(i))) inWord = false;
    else if (!inWord) { inWord = true; n++; }
  }
  return n;
}

/** Share of Han characters among non-space characters. */
export function hanRatio(text: string): number {
  const nonSpace = text.replace(/\s+/g, '').length;
  return nonSpace === 0 ? 0 : (text.match(HAN)?.length ?? 0) / nonSpace;
}

/** A document's language when the user says 'auto': Chinese when Han dominates its letters. */
export function detectLang(text: string): Lang {
  const end = Math.min(text.length, 2000);
  let letters = 0, han = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) { if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) letters++; continue; }
    if (isHanCode(c)) { han++; letters++; } else if (LETTER.test(text[i]!)) letters++;
  }
  return letters > 0 && han / letters >= 0.3 ? 'zh' : 'en';
}

/** Gopher quality rules; returns the first rule the document fails, or null. */
export function gopherQuality(text: string, ws: WordStats, lang: Lang, o: QualityOptions): string | null {
  const n = ws.count;
  if (n < (lang === 'zh' ? o.minWordsZh : o.minWords)) return 'gopher_too_short';
  if (n > o.maxWords) return 'gopher_too_long';
  if (lang === 'en') {
    const mean = ws.chars / n;
    if (mean < o.minMeanWordLength || mean > o.maxMeanWordLength) return 'gopher_mean_word_length';
  }
  const symbols = (text.match(/#/g)?.length ?? 0) + (text.match(/\.\.\.|…/g)?.length ?? 0);
  if (symbols / n > o.maxSymbolWordRatio) return 'gopher_symbol_ratio';
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length > 0) {
    if (lines.filter((l) => BULLET.test(l)).length / lines.length > o.maxBulletLines) return 'gopher_bullet_lines';
    if (lines.filter((l) => /(\.\.\.|…)\s*$/.test(l)).length / lines.length > o.maxEllipsisLines) return 'gopher_ellipsis_lines';
  }
  if (lang === 'zh') return hanRatio(text) < o.minHanRatio ? 'gopher_han_ratio' : null;
  if (ws.alpha / n < o.minAlphaWords) return 'gopher_non_alpha_words';
  if (ws.stop < o.minStopWords) return 'gopher_stop_words';
  return null;
}

/** Gopher repetition rules (Rae et al. 2021, Table A1). */
export function gopherRepetition(text: string, ws: WordStats, lang: Lang, o: QualityOptions): string | null {
  const paragraphs = text.split(/\n{2,}/);
  const p = findDuplicates(paragraphs);
  if (p.count / paragraphs.length > o.maxDupParaFrac) return 'gopher_dup_para_frac';
  if (p.chars / text.length > o.maxDupParaChars) return 'gopher_dup_para_chars';
  const lines = text.split(/\n+/);
  const l = findDuplicates(lines);
  if (l.count / lines.length > o.maxDupLineFrac) return 'gopher_dup_line_frac';
  if (l.chars / text.length > o.maxDupLineChars) return 'gopher_dup_line_chars';
  if (ws.count < o.minWordsForNgramRules) return null;
  const scan = new NgramScanner(ws.hashes, ws.lengths, lang === 'zh' ? 0 : 1);
  const rules = [...o.topNgram.map(([n, max]) => ({ n, max, top: true })), ...o.dupNgram.map(([n, max]) => ({ n, max, top: false }))]
    .sort((a, b) => a.n - b.n);
  for (const { n, max, top } of rules) {
    const chars = top ? scan.topChars(n) : scan.repeatedChars(n);
    if (chars / text.length > max) return top ? `gopher_top_${n}gram` : `gopher_dup_${n}gram`;
  }
  return null;
}

/**
 * C4 rules. Units are lines, or paragraphs when the document has blank lines (hard-wrapped
 * prose such as books would otherwise lose every line that breaks mid-sentence). Returns the
 * kept text, how many units were dropped, and a removal reason or null.
 */
export function c4Filter(text: string, lang: Lang, o: QualityOptions): { text: string; dropped: number; reason: string | null } {
  if (/lorem ipsum/i.test(text)) return { text, dropped: 0, reason: 'c4_lorem_ipsum' };
  if (text.includes('{')) return { text, dropped: 0, reason: 'c4_curly_bracket' };
  const sep = text.includes('\n\n') ? '\n\n' : '\n';
  const units = text.split(sep);
  const kept: string[] = [];
  const anyBad = C4_BAD_LINE.test(text);  // one scan of the document spares most per-line scans
  for (const u of units) {
    const t = u.trim();
    if (t === '') continue;
    if (!TERMINAL.test(t)) continue;
    if (lang === 'en' ? countWords(t, o.c4MinWordsPerLine) < o.c4MinWordsPerLine : t.length < o.c4MinCharsPerLineZh) continue;
    if (anyBad && C4_BAD_LINE.test(t)) continue;
    kept.push(u);
  }
  const dropped = units.filter((u) => u.trim() !== '').length - kept.length;
  if (kept.length === 0) return { text, dropped, reason: 'c4_no_lines_left' };
  const out = kept.join(sep);
  const sentences = out.match(/[.!?。！？]+(?=\s|$|["”’」』])/gu)?.length ?? 0;
  if (sentences < (lang === 'zh' ? o.c4MinSentencesZh : o.c4MinSentences)) return { text: out, dropped, reason: 'c4_too_few_sentences' };
  return { text: out, dropped, reason: null };
}

/** FineWeb's extra rules (Penedo et al. 2024): line punctuation, short lines, duplicated lines, lists.
 * Short and duplicated lines are counted on lines; terminal punctuation on C4's units. */
export function finewebFilter(text: string, wordCount: number, lang: Lang, o: QualityOptions): string | null {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return 'fineweb_line_punct_ratio';
  // Terminal punctuation is judged per paragraph when there are blank lines, as for C4.
  const units = text.includes('\n\n') ? text.split(/\n\n+/).filter((u) => u.trim() !== '') : lines;
  if (units.filter((l) => TERMINAL.test(l.trim())).length / units.length < o.finewebMinLinePunct) return 'fineweb_line_punct_ratio';
  const short = lang === 'zh' ? o.finewebShortLineZh : o.finewebShortLine;
  if (lines.filter((l) => l.length <= short).length / lines.length > o.finewebMaxShortLines) return 'fineweb_short_lines';
  const nonNewline = text.length - (text.match(/\n/g)?.length ?? 0);
  if (findDuplicates(lines).chars / nonNewline > o.finewebMaxDupLineChars) return 'fineweb_dup_line_chars';
  if ((text.match(/\n/g)?.length ?? 0) / wordCount > o.finewebMaxNewlineRatio) return 'fineweb_list_ratio';
  return null;
}

/** Share of placeholder characters: □ (missing glyph in transcriptions) and U+FFFD. */
export function placeholderRatio(text: string): number {
  let n = 0;
  for (let i = text.indexOf('□'); i !== -1; i = text.indexOf('□', i + 1)) n++;
  for (let i = text.indexOf('\ufffd'); i !== -1; i = text.indexOf('\ufffd', i + 1)) n++;
  return text.length === 0 ? 0 : n / text.length;
}

/** Runs every enabled rule in order; C4 may shorten the text. */
export function applyQuality(text: string, lang: Lang, o: QualityOptions): { text: string; reason: string | null; c4Dropped: number } {
  if (o.placeholders && placeholderRatio(text) > o.maxPlaceholderRatio) return { text, reason: 'placeholder_chars', c4Dropped: 0 };
  const ws = lang === 'en' ? wordStats(text, o.minStopWords) : statsOfWords(words(text, lang), o.minStopWords);
  if (o.gopher) {
    const r = gopherQuality(text, ws, lang, o);
    if (r !== null) return { text, reason: r, c4Dropped: 0 };
  }
  if (o.repetition) {
    const r = gopherRepetition(text, ws, lang, o);
    if (r !== null) return { text, reason: r, c4Dropped: 0 };
  }
  let t = text, c4Dropped = 0, wordCount = ws.count;
  if (o.c4) {
    const c = c4Filter(text, lang, o);
    if (c.reason !== null) return { text, reason: c.reason, c4Dropped: c.dropped };
    t = c.text;
    c4Dropped = c.dropped;
    if (c4Dropped > 0) wordCount = lang === 'en' ? countWords(t) : words(t, lang).length;
  }
  if (o.fineweb) {
    const r = finewebFilter(t, wordCount, lang, o);
    if (r !== null) return { text, reason: r, c4Dropped };
  }
  return { text: t, reason: null, c4Dropped };
}
