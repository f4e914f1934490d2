// Tests of normalization: NFKC, control characters, whitespace, idempotence, Traditional -> Simplified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadT2S, normalizeText } from './normalize.js';
import { mobyDickChapter, tangPoems } from './bundled-corpora.js';

test('NFKC folds full-width forms and ligatures; controls and zero-width characters go', () => {
  assert.equal(normalizeText('ＡＢＣ１２３，ﬁne\u200b\u0007 text'), 'ABC123,fine text');
  assert.equal(normalizeText('a\r\nb\rc'), 'a\nb\nc');
});

test('whitespace: runs collapse, line ends are stripped, at most one blank line, trimmed', () => {
  assert.equal(normalizeText('  a \t\u00a0 b  \n\n\n\n  c\u3000d  \n'), 'a b\n\nc d');
});

test('normalization is idempotent on real English and Chinese text and on random strings', () => {
  const samples = [mobyDickChapter(1), mobyDickChapter(54), ...tangPoems(50).map((p) => p.text)];
  let s = 7;
  for (let i = 0; i < 200; i++) {
    let t = '';
    for (let k = 0; k < 40; k++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; t += String.fromCodePoint([0x20, 0x0a, 0x09, 0xa0, 0xff21, 0x3000, 0x4e00, 0x300, 0xfb01, 0x61][s % 10]! + (s >>> 20) % 3); }
    samples.push(t);
  }
  for (const t of samples) {
    const n = normalizeText(t);
    assert.equal(normalizeText(n), n);
  }
  // English prose is already normal apart from whitespace at its ends.
  assert.equal(normalizeText(mobyDickChapter(1)), mobyDickChapter(1).trim());
});

test('Traditional -> Simplified (OpenCC) on a Tang poem', async () => {
  const t2s = await loadT2S();
  assert.equal(t2s('秦川雄帝宅，函谷壯皇居。綺殿千尋起，離宮百雉餘。'), '秦川雄帝宅，函谷壮皇居。绮殿千寻起，离宫百雉余。');
});
