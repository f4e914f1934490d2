// The measured FMA peak: plausible against the clock-based estimate, cached, and a stated fallback where it cannot run.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hasBf16, pickKernel } from './fma-probe.js';
import { estimatePeak, measurePeak } from './peak.js';

function cpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

const x86Linux = process.platform === 'linux' && process.arch === 'x64';
const kernel = x86Linux ? pickKernel(cpuinfo()) : 'not x86-64 Linux';
const skip = typeof kernel === 'string' ? `no FMA probe here: ${kernel}` : false;

it('picks the widest kernel the cpuinfo flags allow', () => {
  const pick = (flags: string): string => { const k = pickKernel(`flags\t\t: ${flags}\n`); return typeof k === 'string' ? 'none' : k.name; };
  assert.equal(pick('sse2 avx avx2 fma avx512f avx512bw'), 'AVX-512');
  assert.equal(pick('sse2 avx avx2 fma'), 'AVX2 FMA');
  assert.equal(pick('sse2 avx'), 'none');
  assert.equal(pick('sse2 fma'), 'none');
});

it('measured FMA peak is within a plausible factor of clock x FLOP/cycle, and cached', { skip }, () => {
  const est = estimatePeak();
  const peak = measurePeak();
  assert.equal(peak.measured, true, peak.basis);
  assert.match(peak.basis, /^measured: (AVX-512|AVX2 FMA) FMA loop \d+ GFLOP\/s per core x \d+ cores(; bf16 dot loop \d+ GFLOP\/s per core)?$/);
  // The bf16 loop is timed exactly where the CPU has vdpbf16ps.
  assert.equal(peak.perCoreBf16Flops !== undefined, hasBf16(cpuinfo()));
  if (peak.perCoreBf16Flops !== undefined) assert.ok(Number.isFinite(peak.perCoreBf16Flops) && peak.perCoreBf16Flops > 0);
  assert.ok(Number.isFinite(peak.perCoreFlops) && peak.perCoreFlops > 0, `${peak.perCoreFlops}`);
  // Turbo lifts the measurement above the cpuinfo (often base) clock; 4x leaves room for a core whose
  // 512-bit pipes are full width where the estimate assumes split ones (Zen 5), 0.5x for a busy core.
  const ratio = peak.perCoreFlops / est.perCoreFlops;
  assert.ok(ratio > 0.5 && ratio < 4, `measured ${peak.perCoreFlops / 1e9} vs estimated ${est.perCoreFlops / 1e9} GFLOP/s`);
  assert.equal(peak.totalFlops, peak.perCoreFlops * peak.cores);
  assert.ok(peak.perCoreSimd128Flops > 0 && peak.perCoreSimd128Flops < peak.perCoreFlops);
  assert.equal(measurePeak(), peak);
});

it('falls back to the estimate with the reason when the probe is off', () => {
  const peakJs = new URL('./peak.js', import.meta.url).href;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e',
    `import { measurePeak } from ${JSON.stringify(peakJs)}; console.log(JSON.stringify(measurePeak()));`],
  { encoding: 'utf8', env: { ...process.env, FURNACE_FMA_PROBE: '0' } });
  const peak = JSON.parse(out) as { measured: boolean; basis: string; perCoreFlops: number };
  assert.equal(peak.measured, false);
  assert.match(peak.basis, /^estimated \(disabled by FURNACE_FMA_PROBE=0\): /);
  assert.equal(peak.perCoreFlops, estimatePeak().perCoreFlops);
});

it('worker threads started after sharePeak() take its measurement instead of probing at once', async () => {
  const { Worker } = await import('node:worker_threads');
  const { sharePeak } = await import('./peak.js');
  const mine = sharePeak();
  const peakJs = new URL('./peak.js', import.meta.url).href;
  const got = await new Promise<unknown>((resolve, reject) => {
    const w = new Worker(`import(${JSON.stringify(peakJs)}).then((m) => require('node:worker_threads').parentPort.postMessage(m.measurePeak()));`,
      { eval: true });
    w.once('message', (m) => { resolve(m); void w.terminate(); });
    w.once('error', reject);
  });
  assert.deepEqual(got, mine);
  delete process.env['FURNACE_PEAK'];
});
