// Tests of the quality rules: each rule fires on the text it targets and spares real prose, and
// the hashed repetition statistics equal a plain string implementation of datatrove's definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyQuality, c4Filter, DEFAULT_QUALITY, detectLang, hanRatio, words, type QualityOptions } from './quality.js';
import { findDuplicates, NgramScanner } from './repetition.js';
import { statsOfWords, wordStats } from './word-stats.js';
import { mobyDickChapter, tangPoems } from './bundled-corpora.js';
import { mobyPassages } from '../bench/data-corpus.js';
import { normalizeText } from './normalize.js';

const O = DEFAULT_QUALITY;
const prose = normalizeText(mobyDickChapter(1));

test('Moby-Dick chapters pass every rule (C4 may drop short paragraphs, never a whole chapter)', () => {
  for (const n of [1, 3, 16, 32, 42, 54, 87, 135]) {
    const q = applyQuality(normalizeText(mobyDickChapter(n)), 'en', O);
    assert.equal(q.reason, null, `chapter ${n} removed: ${q.reason}`);
    assert.ok(q.text.length > 0.8 * mobyDickChapter(n).length, `chapter ${n} lost more than 20% to C4`);
  }
});

test('hard-wrapped prose (Moby-Dick as printed, 4 kB passages) passes: wrapped lines are not judged alone', () => {
  const passages = mobyPassages(4000).slice(5, 205).map((p) => normalizeText(p));
  const failed = passages.map((p) => applyQuality(p, 'en', O).reason).filter((r) => r !== null);
  assert.ok(failed.length <= 4, `${failed.length}/200 passages removed: ${failed.slice(0, 5).join(', ')}`);
});

test('each rule removes the document it was written for, with its own reason', () => {
  const para = prose.split('\n\n').slice(2, 6).join('\n\n');
  const sentences = prose.replace(/\s+/g, ' ').split(/(?<=\.) /).slice(5);
  const cases: [string, string][] = [
    ['Call me Ishmael.', 'gopher_too_short'],
    [`${'Antidisestablishmentarianism '.repeat(60)}the and.`, 'gopher_mean_word_length'],
    [`${para}\n\n${'# ### #### # ## '.repeat(60)}`, 'gopher_symbol_ratio'],
    [Array.from({ length: 40 }, (_, i) => `• item number ${i} with the words of a list`).join('\n'), 'gopher_bullet_lines'],
    [Array.from({ length: 40 }, (_, i) => `loomings ishmael whale harpoon ${i} sea spout and the ship sails on the deep water...`).join('\n'), 'gopher_ellipsis_lines'],
    [`${'1234 5678 9012 3456 7890 '.repeat(40)} the whale and the sea`, 'gopher_non_alpha_words'],
    ['Ishmael Queequeg Ahab Starbuck Stubb Flask harpoon whale '.repeat(10), 'gopher_stop_words'],
    [`${para}\n\n${para}\n\n${para}`, 'gopher_dup_para_frac'],
    [[...sentences.slice(0, 10), sentences.slice(10, 16).join(' '), sentences.slice(10, 16).join(' ')].join('\n'), 'gopher_dup_line_chars'],
    [`${para} ${'the white whale '.repeat(80)}`, 'gopher_top_2gram'],
    [`${para}\n\nLorem ipsum dolor sit amet, and the whale is there.`, 'c4_lorem_ipsum'],
    [`${para}\n\nfunction f() { return the; }`, 'c4_curly_bracket'],
    [sentences.slice(0, 40).map((x) => x.replace(/[.!?"”’]+$/u, '')).join('\n'), 'c4_no_lines_left'],
    [`${para.slice(0, 1500)} \u25a1\u25a1\u25a1\u25a1\u25a1`, 'placeholder_chars'],
  ];
  const chunks = words(prose, 'en').slice(200, 800);
  const fives = Array.from({ length: 100 }, (_, i) => chunks.slice(5 * i, 5 * i + 5).join(' ').replace(/[.,;!?]+$/, '') + '.');
  const shortLines = fives.filter((l) => l.length <= 30).slice(0, 40).join('\n');
  cases.push([shortLines, 'fineweb_short_lines']);
  for (const [text, reason] of cases) assert.equal(applyQuality(text, 'en', O).reason, reason, `expected ${reason} for ${JSON.stringify(text.slice(0, 60))}`);
});

test('C4 drops javascript/policy lines and unterminated lines; hard-wrapped prose is judged by paragraph', () => {
  const page = ['Welcome to the page about whales and the sea today.', 'Please enable JavaScript to view the comments here.',
    'Read our privacy policy before you sign up for the newsletter.', 'Home', 'The sperm whale is the largest of the toothed whales.',
    'It hunts squid in the deep water of every ocean on earth.'].join('\n');
  const r = c4Filter(page, 'en', O);
  assert.equal(r.reason, null);
  assert.equal(r.dropped, 3);
  assert.doesNotMatch(r.text, /JavaScript|privacy|^Home$/m);
  const wrapped = 'Call me Ishmael. Some years ago, never mind how long\nprecisely, having little or no money in my purse, and\nnothing particular to interest me on shore.\n\n' +
    'I thought I would sail about a little and see the watery\npart of the world. It is a way I have of driving off the spleen.\n\nThen the sea.';
  const w = c4Filter(wrapped, 'en', O);
  assert.equal(w.dropped, 1);  // "Then the sea." has fewer than 5 words; the wrapped paragraphs stay whole
  assert.match(w.text, /long\nprecisely/);
});

test('Chinese: character lengths, Han ratio instead of stop words, poems kept, romanized text refused', () => {
  const poems = tangPoems(200).map((p) => normalizeText(p.text)).filter((t) => !t.includes('□') && !t.includes('{'));
  const long = poems.filter((t) => words(t, 'zh').length >= 40);
  assert.ok(long.length > 50);
  const kept = long.filter((t) => applyQuality(t, 'zh', O).reason === null).length;
  assert.ok(kept / long.length > 0.85, `only ${kept}/${long.length} poems kept`);
  assert.equal(detectLang(long[0]!), 'zh');
  assert.equal(detectLang(prose), 'en');
  assert.ok(hanRatio(long[0]!) > 0.7);
  const pinyin = 'qin chuan xiong di zhai, han gu zhuang huang ju. qi dian qian xun qi, li gong bai zhi yu.\n'.repeat(3);
  assert.equal(applyQuality(pinyin + '秦川雄帝宅。', 'zh', O).reason, 'gopher_han_ratio');
  assert.equal(applyQuality('秦川雄帝宅，函谷壯皇居。', 'zh', O).reason, 'gopher_too_short');
});

test('FineWeb list ratio: many lines with few words (C4 off, which would drop them first)', () => {
  const items = Array.from({ length: 40 }, (_, i) => `Leviathanic circumnavigations ${i}extraordinarily.\nthe ${i} and.`).join('\n');
  assert.equal(applyQuality(items, 'en', { ...O, c4: false, repetition: false }).reason, 'fineweb_list_ratio');
});

test('every rule can be switched off', () => {
  const off: QualityOptions = { ...O, gopher: false, repetition: false, c4: false, fineweb: false, placeholders: false };
  assert.equal(applyQuality('Call me Ishmael. □□□ {', 'en', off).reason, null);
});

// datatrove's definitions, on strings, as the reference for the hashed NgramScanner.
function refTop(w: string[], n: number): number {
  const c = new Map<string, number>();
  for (let i = 0; i + n <= w.length; i++) { const g = w.slice(i, i + n).join(' '); c.set(g, (c.get(g) ?? 0) + 1); }
  let best = 0, top = '';
  for (const [g, k] of c) if (k > best) { best = k; top = g; }  // first of the most frequent
  return best * top.length;
}
function refDup(w: string[], n: number): number {
  const seen = new Set<string>();
  let chars = 0;
  for (let i = 0; i < w.length - n + 1;) {
    const g = w.slice(i, i + n).join('');
    if (seen.has(g)) { chars += g.length; i += n; } else { seen.add(g); i++; }
  }
  return chars;
}

test('hashed n-gram statistics equal the string definitions on real text with repeats', () => {
  const base = words(prose.slice(0, 6000), 'en');
  const doc = [...'the the a b b a'.split(' '), ...base.slice(0, 300), ...base.slice(100, 180), ...base.slice(0, 40), ...'the the the whale'.split(' '), ...base.slice(500, 700)];
  const ws = statsOfWords(doc);
  const scan = new NgramScanner(ws.hashes, ws.lengths);
  for (const n of [2, 3, 4]) assert.equal(scan.topChars(n), refTop(doc, n), `n = ${n}`);
  const scan2 = new NgramScanner(ws.hashes, ws.lengths);
  for (const n of [5, 6, 7, 8, 9, 10]) assert.equal(scan2.repeatedChars(n), refDup(doc, n), `n = ${n}`);
  assert.deepEqual(findDuplicates(['a', 'bb', 'a', 'bb', 'c', 'a']), { count: 3, chars: 4 });
  assert.throws(() => scan2.topChars(2), /increasing n/);
});

test('one-pass word statistics equal those of the split words (Moby-Dick, odd spaces, non-Latin letters)', () => {
  const texts = [prose, mobyDickChapter(54), 'The\u00a0whale\u2003and Ωmega, 東方 ...   #  1851 the\tto', ''];
  for (const t of texts) {
    assert.deepEqual(wordStats(t), statsOfWords(words(t, 'en')));
  }
  assert.equal(wordStats('The whale and the sea of that', 2).stop, 2);  // counting stops at the limit
});
