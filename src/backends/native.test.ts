// The native backend's own guarantees: generated code never writable and executable at once, a stated reason when absent.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { blocking, NativeBackend, probeNative } from './native.js';
import { createBackend } from './index.js';
import { gemmKernel, panelMasks } from './native-gemm.js';

const probe = probeNative();

describe('native backend', () => {
  it('maps every generated kernel read+exec, never writable (W^X), while the backend exists', { skip: !probe.ok && `native unavailable: ${probe.ok ? '' : probe.reason}` }, async () => {
    const be = await createBackend('native');
    assert.ok('mappings' in be);
    const maps = readFileSync('/proc/self/maps', 'utf8').trim().split('\n').map((l) => {
      const [range = '', perms = ''] = l.split(' ');
      const [lo = '0', hi = '0'] = range.split('-');
      return { lo: BigInt(`0x${lo}`), hi: BigInt(`0x${hi}`), perms };
    });
    const mappings = (be as { mappings: { address: bigint; bytes: number }[] }).mappings;
    assert.ok(mappings.length >= 13, 'gemm kernels for mr 1..6 with and without C, and the packer');
    for (const m of mappings) {
      const hit = maps.filter((x) => x.lo < m.address + BigInt(m.bytes) && m.address < x.hi);
      assert.ok(hit.length > 0, `mapping at 0x${m.address.toString(16)} not in /proc/self/maps`);
      for (const h of hit) assert.match(h.perms, /^r-xp$/, `kernel mapping 0x${m.address.toString(16)} has ${h.perms}`);
    }
  });

  it('splits a GEMM over 2 threads also when the memory grew between allocating A and C', { skip: !probe.ok && 'native unavailable' }, async () => {
    const be = await createBackend('native', { threads: 2 });
    try {
      const [m, n, k] = [96, 200, 130];
      const a = be.alloc(m * k), b = be.alloc(k * n);
      a.forEach((_, i) => { a[i] = Math.sin(i); });
      b.forEach((_, i) => { b[i] = Math.cos(i); });
      const grow = be.alloc(64 << 20); // 256 MiB: past the memory's size, so it grows
      const c = be.alloc(m * n);
      be.gemm({ transA: false, transB: false, m, n, k, alpha: 1, beta: 0, a, lda: k, strideA: 0, b, ldb: n, strideB: 0,
        c, ldc: n, strideC: 0, batch: 1 });
      for (const [i, j] of [[0, 0], [m - 1, n - 1], [50, 101], [95, 0]] as const) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
        assert.ok(Math.abs(c[i * n + j]! - s) < 1e-3, `C[${i},${j}] = ${c[i * n + j]}, want ${s}`);
      }
      be.free(grow);
    } finally {
      if (be instanceof NativeBackend) be.close();
    }
  });

  it('packs strided B^T itself (gathered on AVX-512; from 128 rows of A on AVX2), batched, ragged panels', { skip: !probe.ok && 'native unavailable' }, async () => {
    const { JsBackend } = await import('./js.js');
    const fill = (x: Float32Array, f: (i: number) => number): Float32Array => { x.forEach((_, i) => { x[i] = f(i); }); return x; };
    for (const isa of ['avx512', 'avx2'] as const) {
      if (isa === 'avx512' && probe.ok && probe.target !== 'avx512') continue;
      const be = await createBackend('native', { isa });
      // 131 rows: the generated path on both ISAs; 5 rows: AVX2 hands it to wasm. 130 columns: two full panels and a ragged one.
      for (const [m, n, k, batch, ldb] of [[131, 67, 45, 2, 50], [5, 130, 64, 3, 200], [32, 96, 64, 4, 768]] as const) {
        const a = fill(be.alloc(batch * m * k), (i) => Math.sin(i)), b = fill(be.alloc(batch * n * ldb), (i) => Math.cos(i));
        const c = fill(be.alloc(batch * m * n), (i) => Math.sin(3 * i));
        const args = { transA: false, transB: true, m, n, k, alpha: 0.5, beta: 2, lda: k, strideA: m * k, ldb, strideB: ldb === 768 ? 192 : n * ldb,
          ldc: n, strideC: m * n, batch };
        const want = Float32Array.from(c);
        new JsBackend().gemm({ ...args, a: Float32Array.from(a), b: Float32Array.from(b), c: want });
        be.gemm({ ...args, a, b, c });
        for (let i = 0; i < want.length; i++) assert.ok(Math.abs(c[i]! - want[i]!) < 1e-4, `${isa} m${m}: C[${i}] = ${c[i]}, want ${want[i]}`);
      }
    }
  });

  it('packs a batch of one-block GEMMs in one packer call per panel kind (items interleaved, ragged panels), then a single GEMM', { skip: !probe.ok && 'native unavailable' }, async () => {
    const { JsBackend } = await import('./js.js');
    const fill = (x: Float32Array, f: (i: number) => number): Float32Array => { x.forEach((_, i) => { x[i] = f(i); }); return x; };
    for (const isa of ['avx512', 'avx2'] as const) {
      if (isa === 'avx512' && probe.ok && probe.target !== 'avx512') continue;
      const be = await createBackend('native', { isa });
      // Items side by side as attention's heads: B item t at column t n of rows ldb = batch n apart. 96 columns: a full panel and a ragged one.
      for (const [m, n, k, batch, transA, transB] of [[32, 96, 40, 4, false, false], [13, 70, 33, 3, true, false], [7, 96, 64, 4, false, true],
        [20, 50, 30, 1, false, false]] as const) {
        const lda = (transA ? m : k) * batch, ldb = (transB ? k : n) * batch;
        const a = fill(be.alloc((transA ? k : m) * lda), (i) => Math.sin(i));
        const b = fill(be.alloc((transB ? n : k) * ldb), (i) => Math.cos(i)), c = fill(be.alloc(batch * m * n), (i) => Math.sin(3 * i));
        const args = { transA, transB, m, n, k, alpha: 0.5, beta: 2, lda, strideA: lda / batch, ldb, strideB: ldb / batch, ldc: n, strideC: m * n, batch };
        const want = Float32Array.from(c);
        new JsBackend().gemm({ ...args, a: Float32Array.from(a), b: Float32Array.from(b), c: want });
        be.gemm({ ...args, a, b, c });
        for (let i = 0; i < want.length; i++) assert.ok(Math.abs(c[i]! - want[i]!) < 1e-4, `${isa} m${m} batch ${batch}: C[${i}] = ${c[i]}, want ${want[i]}`);
      }
    }
  });

  it('says why when turned off, and auto then picks something else', async () => {
    if (probe.ok) assert.equal(probe.isa, 'AVX-512F');
    else assert.ok(probe.reason.length > 0);
    const { probeBackends } = await import('./index.js');
    const rows = await probeBackends();
    const native = rows.find((r) => r.name === 'native');
    assert.ok(native !== undefined);
    assert.ok(native.available ? native.detail !== undefined : native.reason !== undefined);
    assert.equal(rows.filter((r) => r.chosen).length, 1);
  });

  it('sizes blocks from the caches: KC x 64 floats is 1/16 of L2, MC x KC floats half of L2, MC a multiple of 6', () => {
    assert.deepEqual(blocking({ l1d: 49152, l2: 1 << 20, basis: 'test' }), { kc: 256, mc: 510, nc: 2048 });
    assert.deepEqual(blocking({ l1d: 32768, l2: 2 << 20, basis: 'test' }), { kc: 512, mc: 510, nc: 2048 });
    assert.equal(blocking({ l1d: 32768, l2: 256 << 10, basis: 'test' }).kc, 64);
  });

  it('masks the ragged last panel per 16-column vector', () => {
    assert.deepEqual(panelMasks(64), [0xffff, 0xffff, 0xffff, 0xffff]);
    assert.deepEqual(panelMasks(1), [1, 0, 0, 0]);
    assert.deepEqual(panelMasks(37), [0xffff, 0xffff, 0x1f, 0]);
    assert.throws(() => gemmKernel(7, false), /mr 7 not in 1\.\.6/);
  });
});
