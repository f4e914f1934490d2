// FFT against the naive DFT, exact inversion, spectral derivatives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fft, wavenumbers } from './fft.js';
import { Rng } from '../tensor/random.js';

test('FFT equals the naive DFT and inverts exactly', () => {
  const n = 64, rng = new Rng(3);
  const re = Float64Array.from({ length: n }, () => rng.normal()), im = Float64Array.from({ length: n }, () => rng.normal());
  const fr = Float64Array.from(re), fi = Float64Array.from(im);
  const f = new Fft(n);
  f.transform(fr, fi);
  for (let k = 0; k < n; k++) {
    let sr = 0, si = 0;
    for (let j = 0; j < n; j++) {
      const a = (-2 * Math.PI * j * k) / n;
      sr += re[j]! * Math.cos(a) - im[j]! * Math.sin(a);
      si += re[j]! * Math.sin(a) + im[j]! * Math.cos(a);
    }
    assert.ok(Math.abs(fr[k]! - sr) < 1e-11 && Math.abs(fi[k]! - si) < 1e-11, `bin ${k}`);
  }
  f.transform(fr, fi, true);
  for (let j = 0; j < n; j++) assert.ok(Math.abs(fr[j]! - re[j]!) < 1e-13 && Math.abs(fi[j]! - im[j]!) < 1e-13);
});

test('spectral derivative of a periodic function is exact to rounding', () => {
  const n = 32, L = 2 * Math.PI, f = new Fft(n), k = wavenumbers(n, L);
  const re = Float64Array.from({ length: n }, (_, j) => Math.sin(3 * (j * L) / n)), im = new Float64Array(n);
  f.transform(re, im);
  for (let j = 0; j < n; j++) { const r = re[j]!; re[j] = -k[j]! * im[j]!; im[j] = k[j]! * r; } // i k
  f.transform(re, im, true);
  for (let j = 0; j < n; j++) assert.ok(Math.abs(re[j]! - 3 * Math.cos(3 * (j * L) / n)) < 1e-12);
});

test('non-power-of-two lengths are refused', () => {
  assert.throws(() => new Fft(48), /power of two/);
});
