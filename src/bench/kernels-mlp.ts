// The MLP training step of `furnace bench kernels`: 784-512-512-10, batch 256, ReLU, softmax
// cross-entropy, SGD; furnace (its autograd on each backend) beside tfjs-wasm's optimizer.minimize.
import type { Backend, BackendName } from '../backends/backend.js';
import { createBackend } from '../backends/index.js';
import { loadCblas } from '../backends/cblas.js';
import { WasmBackend } from '../backends/wasm.js';
import { fillUniform, loadTfjsWasm, median } from './kernels-util.js';
import { setBackend, scoped } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { crossEntropy } from '../tensor/ops.js';

export interface MlpRow {
  impl: `furnace-${BackendName}` | 'tfjs-wasm';
  threads: number;
  /** Median ms per step after one warm-up step; null when not measured, with the reason. */
  ms_per_step: number | null;
  /** Mean process CPU ms per step (threads = 1 only): robust to other processes sharing the cores. */
  cpu_ms_per_step?: number;
  /** First and last loss of the measured steps (they must fall: the step really trains). */
  loss_first?: number;
  loss_last?: number;
  /** Growth of the backend's reserved wasm heap between the second and the last step (0 = no leak). */
  heap_growth_bytes?: number;
  reason?: string;
}

const LAYERS = [784, 512, 512, 10] as const;
const BATCH = 256, LR = 0.05;

/** One fixed batch: inputs in [0, 1) and labels that depend on them, so the loss can fall. */
function batchData(): { x: Float32Array; labels: Int32Array } {
  const x = new Float32Array(BATCH * LAYERS[0]);
  fillUniform(x, 7, 0.5);
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + 0.5;
  const labels = new Int32Array(BATCH);
  for (let r = 0; r < BATCH; r++) labels[r] = Math.floor(x[r * LAYERS[0]]! * 10) % 10;
  return { x, labels };
}

/** He-uniform weights (bound sqrt(6 / fan_in)), zero biases, from a fixed seed. */
function initWeights(): Float32Array[] {
  const out: Float32Array[] = [];
  for (let l = 0; l + 1 < LAYERS.length; l++) {
    const w = new Float32Array(LAYERS[l]! * LAYERS[l + 1]!);
    fillUniform(w, 100 + l, Math.sqrt(6 / LAYERS[l]!));
    out.push(w, new Float32Array(LAYERS[l + 1]!));
  }
  return out;
}

async function furnaceMlp(be: Backend, steps: number): Promise<{ ms: number; cpuMs: number; first: number; last: number; growth?: number }> {
  setBackend(be);
  const { x: xv, labels } = batchData();
  const x = new Tensor(be.alloc(xv.length), [BATCH, LAYERS[0]]);
  x.data.set(xv);
  const params = initWeights().map((v, i) => {
    const shape = i % 2 === 0 ? [LAYERS[i / 2]!, LAYERS[i / 2 + 1]!] : [v.length];
    const t = new Tensor(be.alloc(v.length), shape, true);
    t.data.set(v);
    return t;
  });
  const tmp = params.map((p) => be.alloc(p.size));
  const step = (): Promise<number> => scoped(() => {
    const [w1, b1, w2, b2, w3, b3] = params as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    const h1 = x.matmul(w1).add(b1).relu();           // (B, 512)
    const h2 = h1.matmul(w2).add(b2).relu();          // (B, 512)
    const logits = h2.matmul(w3).add(b3);             // (B, 10)
    const loss = crossEntropy(logits, labels);
    loss.backward();
    params.forEach((p, i) => {
      // SGD: p -= lr * g (g may be shared between leaves, so it is not scaled in place).
      be.affine(p.grad!.data, -LR, 0, tmp[i]!);
      be.binary('add', p.data, [1], tmp[i]!, [1], p.data, [p.size]);
      p.grad = null;
    });
    return loss.item();
  });
  const first = await step();
  const times: number[] = [];
  let last = first, heapAfter2: number | undefined;
  const c0 = process.cpuUsage();
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    last = await step();
    times.push(performance.now() - t0);
    if (s === 0 && be instanceof WasmBackend) heapAfter2 = be.memoryStats().reservedBytes;
  }
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / steps;
  const growth = be instanceof WasmBackend && heapAfter2 !== undefined ? be.memoryStats().reservedBytes - heapAfter2 : undefined;
  for (const p of params) p.dispose();
  x.dispose();
  tmp.forEach((t) => be.free(t));
  return growth === undefined ? { ms: median(times), cpuMs, first, last } : { ms: median(times), cpuMs, first, last, growth };
}

async function tfjsMlp(steps: number): Promise<MlpRow> {
  const probe = await loadTfjsWasm();
  if (!probe.ok) return { impl: 'tfjs-wasm', threads: 1, ms_per_step: null, reason: probe.reason };
  const tf = probe.tf;
  const { x: xv, labels } = batchData();
  const x = tf.tensor2d(xv, [BATCH, LAYERS[0]]);
  const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), LAYERS[3]), 'float32');
  const init = initWeights();
  const vars = init.map((v, i) => tf.variable(i % 2 === 0 ? tf.tensor2d(v, [LAYERS[i / 2]!, LAYERS[i / 2 + 1]!]) : tf.tensor1d(v)));
  const [w1, b1, w2, b2, w3, b3] = vars as [typeof vars[0], typeof vars[0], typeof vars[0], typeof vars[0], typeof vars[0], typeof vars[0]];
  const opt = tf.train.sgd(LR);
  const step = (): number => {
    const cost = opt.minimize(() => {
      const h1 = tf.relu(tf.add(tf.matMul(x, w1), b1));
      const h2 = tf.relu(tf.add(tf.matMul(h1, w2), b2));
      return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(h2, w3), b3));
    }, true);
    const v = cost!.dataSync()[0]!;
    cost!.dispose();
    return v;
  };
  const first = step();
  const times: number[] = [];
  let last = first;
  const c0 = process.cpuUsage();
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    last = step();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(c0);
  vars.forEach((v) => v.dispose());
  x.dispose(); y.dispose(); opt.dispose();
  return { impl: 'tfjs-wasm', threads: 1, ms_per_step: median(times), cpu_ms_per_step: (cpu.user + cpu.system) / 1000 / steps,
    loss_first: first, loss_last: last };
}

export async function benchMlp(steps: number, say: (s: string) => void): Promise<MlpRow[]> {
  const rows: MlpRow[] = [];
  const add = (r: MlpRow): void => {
    rows.push(r);
    say(`  mlp  ${r.impl.padEnd(14)} threads=${r.threads}  ` + (r.ms_per_step === null ? `- (${r.reason})`
      : `${r.ms_per_step.toFixed(2)} ms/step${r.cpu_ms_per_step !== undefined ? ` (${r.cpu_ms_per_step.toFixed(2)} CPU)` : ''}  loss ${r.loss_first?.toFixed(3)} -> ${r.loss_last?.toFixed(3)}` +
        (r.heap_growth_bytes !== undefined ? `  heap growth ${r.heap_growth_bytes} B` : '')));
  };
  const cb = loadCblas(1);
  const configs: { name: BackendName; threads: number; steps: number }[] = [
    { name: 'js', threads: 1, steps: 1 },   // seconds per step: one measured step
    { name: 'wasm', threads: 1, steps }, { name: 'wasm', threads: 2, steps },
    { name: 'blas', threads: 1, steps }, { name: 'blas', threads: 2, steps },
  ];
  for (const c of configs) {
    if (c.name === 'blas' && !cb.ok) { add({ impl: 'furnace-blas', threads: c.threads, ms_per_step: null, reason: cb.reason }); continue; }
    if (c.name === 'blas' && c.threads > 1 && (!cb.ok || cb.cblas.setThreads === undefined)) continue;
    if (c.name === 'blas' && cb.ok) cb.cblas.setThreads?.(c.threads);
    const be = await createBackend(c.name, c.name === 'wasm' ? { threads: c.threads } : {});
    const r = await furnaceMlp(be, c.steps);
    if ('close' in be && typeof be.close === 'function') be.close();
    add({ impl: `furnace-${c.name}`, threads: c.threads, ms_per_step: r.ms, ...(c.threads === 1 ? { cpu_ms_per_step: r.cpuMs } : {}),
      loss_first: r.first, loss_last: r.last,
      ...(r.growth !== undefined ? { heap_growth_bytes: r.growth } : {}) });
  }
  if (cb.ok) cb.cblas.setThreads?.(1);
  add(await tfjsMlp(steps));
  return rows;
}
