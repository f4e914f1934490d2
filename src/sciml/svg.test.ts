// PNG encoding (CRC, chunks, pixels) and the SVG plots built on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { crc32, encodePng } from './png.js';
import { bars, heatmap, lines } from './svg.js';

test('PNG: CRC-32 check value, chunk CRCs and pixel data decode back', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926); // the standard check value
  const w = 3, h = 2, rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
  const png = encodePng(w, h, rgb);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let off = 8;
  const chunks: string[] = [];
  let idat: Uint8Array = new Uint8Array(0);
  while (off < png.length) {
    const len = png.readUInt32BE(off), type = png.toString('ascii', off + 4, off + 8);
    assert.equal(png.readUInt32BE(off + 8 + len), crc32(png.subarray(off + 4, off + 8 + len)), `${type} CRC`);
    if (type === 'IDAT') idat = png.subarray(off + 8, off + 8 + len);
    chunks.push(type);
    off += 12 + len;
  }
  assert.deepEqual(chunks, ['IHDR', 'IDAT', 'IEND']);
  const raw = inflateSync(idat);
  for (let y = 0; y < h; y++) {
    assert.equal(raw[y * (1 + 3 * w)], 0, 'filter byte');
    assert.deepEqual([...raw.subarray(y * (1 + 3 * w) + 1, (y + 1) * (1 + 3 * w))], [...rgb.subarray(y * 3 * w, (y + 1) * 3 * w)]);
  }
});

test('SVG plots: a heatmap embeds one pixel per grid point, bars one rect per term, lines one polyline per series', () => {
  const x = [0, 1, 2, 3], y = [0, 1], values = [1, 2, 3, 4, 5, 6, 7, NaN];
  const svg = heatmap({ title: 'a <b>', x, y, values, xLabel: 'x', yLabel: 't', diverging: true });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /a &lt;b&gt;/);
  const b64 = /base64,([^"]+)"/.exec(svg)![1]!;
  const png = Buffer.from(b64, 'base64');
  assert.equal(png.readUInt32BE(16), 4); assert.equal(png.readUInt32BE(20), 2);
  const b = bars({ title: 't', labels: ['u*u_x', 'u_xx'], values: [-1, 0.1], errors: [0.01, 0.001], reference: [-1, 0.1] });
  assert.equal((b.match(/<rect x=/g) ?? []).length, 2); // the background has no x
  const l = lines({ title: 'loss', xLabel: 'step', yLabel: 'loss', logY: true, series: [{ name: 'a', x: [0, 1], y: [1, 0.1] }, { name: 'b', x: [0, 1], y: [2, 0.2] }] });
  assert.equal((l.match(/<polyline/g) ?? []).length, 2);
  for (const s of [svg, b, l]) assert.ok(!/NaN|undefined/.test(s.replace(/base64,[^"]+/, '')), 'no NaN or undefined leaks into the markup');
});
