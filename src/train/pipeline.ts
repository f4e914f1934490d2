// Pipeline-parallel training of one stage: a step's micro-batches through the 1F1B or interleaved
// 1F1B schedule (parallel/pipeline.ts) over this rank's model chunks, the tied embedding's gradient
// summed over the first and last stage, the step's statistics and evaluations made global over the
// stages, and the whole model gathered on rank 0 at the end.
//
// With the balance loss (aux_loss_coef > 0) and several micro-batches, a pipelined run is not the
// one-rank run to the last bit: the balance loss is taken per micro-batch (its token fractions f_i
// are the micro-batch's, as in Megatron-LM), not over the whole batch, so the loss differs from one
// rank's: over 12 steps of 4 micro-batches, by up to 2.4e-4 relative on the 2-layer test model
// (pp2) and 3.1e-4 on its 4-layer variant (pp2, and pp2 x 2 virtual stages alike). The parity
// tests therefore leave the balance loss out. The router z-loss is a mean over tokens and so
// exact; with one micro-batch the balance loss is exact too.
import { tensor, type Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import { keep, noGrad, noGradAsync, scoped, track } from '../tensor/engine.js';
import { Rng } from '../tensor/random.js';
import { isMoeLayer, moeLayersOf, routerBiasRate, updateRouterBiases } from '../nn/gpt.js';
import type { GPTStage, StageForward } from '../nn/gpt-stage.js';
import type { ParamInfo } from '../nn/module.js';
import type { ParallelContext } from '../parallel/context.js';
import { gatherParams } from '../parallel/gather.js';
import { runForward, runSchedule, type StageWork } from '../parallel/pipeline.js';
import type { ProcessGroup } from '../comm/process-group.js';
import { StepStats } from './step-stats.js';
import { evaluateWith, type EvalResult } from './evaluate.js';

const TAG_TIED = 3, TAG_NAMES = 4, TAG_PARAM = 5;

/** One micro-batch's saved forward: the received input (a leaf), the output and this stage's objective. */
interface Saved {
  input: Tensor | null;
  out: Tensor;
  loss: Tensor;
}

/** Running sums of one step's statistics over micro-batches and chunks. */
class MicroStats {
  ce = 0;
  aux = 0;
  z = 0;
  dropped = 0;
  /** (the model's MoE layers, E): rows of this stage's layers filled. */
  readonly load: number[][];

  constructor(moeLayers: number, experts: number) {
    this.load = Array.from({ length: moeLayers }, () => new Array<number>(experts).fill(0));
  }

  /** One chunk's forward of one micro-batch; `rows`: the model's index of each of its MoE layers. */
  add(f: StageForward, ce: Tensor | null, rows: readonly number[]): void {
    if (ce !== null) this.ce += ce.item();
    this.aux += f.auxLoss.item();
    this.z += f.zLoss.item();
    this.dropped += f.dropped;
    f.load.forEach((l, k) => {
      const row = this.load[rows[k]!]!;
      l.forEach((c, e) => { row[e]! += c; });
    });
  }

  /** The step's statistics: losses are means over the (equal) micro-batches, counts sums. */
  mean(micro: number): StepStats {
    return new StepStats(this.ce / micro, this.aux / micro, this.z / micro, this.dropped, this.load);
  }
}

export class PipelineStage {
  readonly pp: ProcessGroup;
  /** Chunks (virtual stages) this rank holds: 1 for plain 1F1B. */
  readonly virtual: number;
  /** Per chunk: the index among the model's MoE layers of each of its MoE layers. */
  private readonly moeRows: number[][];
  private readonly moeLayers: number;

  constructor(readonly model: GPTStage, readonly ctx: ParallelContext, readonly micro: number) {
    this.pp = ctx.groups.pp;
    this.virtual = model.stage.chunks.length;
    const cfg = model.cfg, row = new Array<number>(cfg.n_layers);
    let n = 0;
    for (let i = 0; i < cfg.n_layers; i++) if (isMoeLayer(cfg, i)) row[i] = n++;
    this.moeLayers = n;
    this.moeRows = model.stage.chunks.map((c) => Array.from({ length: c.end - c.first }, (_, j) => row[c.first + j]).filter((x) => x !== undefined));
  }

  /**
   * Forward and backward of this rank's rows x, y (rows, T) as `micro` micro-batches of rows/micro
   * sequences through each of its chunks; gradients accumulate in the parameters' .grad, the tied
   * embedding's summed over the first and last stage. Returns the global batch's statistics and each
   * stage's wait for its neighbours (seconds, by stage).
   */
  async step(x: Int32Array, y: Int32Array, rows: number, t: number, rngOf: (i: number) => Rng): Promise<{ stats: StepStats; waits: number[] }> {
    const { model, micro } = this, mb = rows / micro, n = mb * t, c = model.cfg.d_model;
    const saved = new Map<string, Saved>(), sums = new MicroStats(this.moeLayers, model.cfg.n_experts);
    const work: StageWork = {
      forward: async (i, k, input) => {
        const inp = input === null ? null : tensor(input, [n, c], true);
        const f = await model.forward(k, inp ?? x.subarray(i * n, (i + 1) * n), mb, t, rngOf(i));
        const { loss, ce } = model.objective(f, model.holdsOutput(k) ? y.subarray(i * n, (i + 1) * n) : null, micro);
        sums.add(f, ce, this.moeRows[k]!);
        saved.set(`${i}.${k}`, { input: inp, out: f.out, loss });
        return model.holdsOutput(k) ? null : f.out.data;
      },
      backward: async (i, k, gradOut) => {
        const s = saved.get(`${i}.${k}`)!;
        // Below the last virtual stage the objective is <out, dL/dout> plus this chunk's MoE losses.
        const seed = gradOut === null ? null : tensor(gradOut, s.out.shape);
        const root = seed === null ? s.loss : s.out.mul(seed).sum().add(s.loss);
        const dx = await this.backwardFreeing(root, s.input, model.chunkParameters(k));
        seed?.dispose();
        saved.delete(`${i}.${k}`);
        return dx;
      },
    };
    const { wait } = await runSchedule(this.pp, { stages: this.pp.size, virtual: this.virtual, micro }, n * c, work);
    await this.sumTiedGrads();
    const stats = await sums.mean(micro).reduceOverDp(this.ctx);
    const waits = new Float32Array(this.pp.size);
    await this.pp.allGather(Float32Array.of(wait), waits);
    return { stats: await this.overStages(stats), waits: Array.from(waits) };
  }

  /**
   * Backward from `root`, then frees the micro-batch's activations (what 1F1B's order saves: at
   * most w + 1 units' are alive) and the gradients computed on the way; the accumulated gradients
   * of `params` (the chunk's) are copied out of that memory first. Returns the input's gradient.
   */
  private async backwardFreeing(root: Tensor, input: Tensor | null, params: readonly Tensor[]): Promise<Float32Array | null> {
    const { dx, grads } = await scoped(async () => {
      await root.backwardAsync();
      const grads = params.flatMap((p) => (p.grad === null ? [] : [(p.grad = keep(noGrad(() => p.grad!.mul(1))))]));
      return { dx: input === null || input.grad === null ? null : Float32Array.from(input.grad.data), grads };
    });
    for (const g of grads) track(g); // freed with the step's other tensors
    releaseGraph(root);
    input?.dispose();
    return dx;
  }

  /** The tied embedding's gradient: the first stage's (input) plus the last stage's (output layer). */
  private async sumTiedGrads(): Promise<void> {
    const w = this.model.tokEmb?.weight;
    if (!this.model.tiedAcrossStages || w === undefined) return;
    const g = w.grad ?? noGrad(() => w.zerosLike());
    const other = new Float32Array(w.size), last = this.pp.size - 1;
    if (this.model.isFirst) {
      await this.pp.send(g.data, last, TAG_TIED);
      await this.pp.recv(other, last, TAG_TIED);
    } else {
      await this.pp.recv(other, 0, TAG_TIED);
      await this.pp.send(g.data, 0, TAG_TIED);
    }
    w.grad = noGrad(() => g.add(tensor(other, w.shape)));
  }

  /**
   * Aux-loss-free balancing after a step: this stage's MoE layers move their router biases by their
   * rows of the whole model's global load (L, E); returns every layer's bias (L, E), gathered over
   * the stages, or nothing when the balancing is off (the same on every stage).
   */
  async updateRouterBias(load: readonly (readonly number[])[]): Promise<number[][]> {
    const mine = moeLayersOf(this.model.blocks), rows = this.moeRows.flat(); // both in model order
    const biases = updateRouterBiases(mine, this.model.cfg, rows.map((r) => load[r]!));
    if (routerBiasRate(this.model.cfg) === 0) return [];
    const e = this.model.cfg.n_experts, v = new Float32Array(this.moeLayers * e);
    biases.forEach((b, k) => v.set(b, rows[k]! * e));
    await this.pp.allReduce(v); // each row is non-zero on one stage only
    return Array.from({ length: this.moeLayers }, (_, k) => Array.from(v.subarray(k * e, (k + 1) * e)));
  }

  /** Statistics summed over stages: cross-entropy from the last, MoE losses and loads (rows of each stage's layers) from each. */
  private async overStages(s: StepStats): Promise<StepStats> {
    const e = this.model.cfg.n_experts, v = new Float32Array(4 + this.moeLayers * e);
    v.set([this.model.isLast ? s.ce : 0, s.aux, s.zLoss, s.dropped]);
    s.load.forEach((l, k) => v.set(l, 4 + k * e));
    await this.pp.allReduce(v);
    const load = Array.from({ length: this.moeLayers }, (_, k) => Array.from(v.subarray(4 + k * e, 4 + (k + 1) * e)));
    return new StepStats(v[0]!, v[1]!, v[2]!, v[3]!, load);
  }

  /** Loss over validation windows (as evaluate.ts), each batch passed through the stages; every stage gets the result. */
  async evaluate(tokens: Int32Array, batchSize: number, maxBatches?: number): Promise<EvalResult> {
    const { model } = this, t = model.cfg.seq_len, c = model.cfg.d_model, rng = new Rng(0);
    const wasTraining = model.training;
    model.eval();
    const r = await evaluateWith(t, tokens, batchSize, maxBatches, (x, y, rows) => scoped(() => noGradAsync(async () => {
      let loss = 0;
      await runForward(this.pp, rows * t * c, this.virtual, async (k, input) => {
        const f = await model.forward(k, input === null ? x : tensor(input, [rows * t, c]), rows, t, rng);
        if (model.holdsOutput(k)) loss = ops.crossEntropy(f.out, y).item();
        return model.holdsOutput(k) ? null : f.out.data;
      });
      return loss;
    })));
    model.train(wasTraining);
    // The last stage's sums reach every stage; nats as a float32 pair (hi + lo) so they stay exact.
    const nats = this.model.isLast ? r.nats : 0, hi = Math.fround(nats);
    const v = Float32Array.of(hi, nats - hi, this.model.isLast ? r.tokens : 0);
    await this.pp.allReduce(v);
    const total = v[0]! + v[1]!, count = v[2]!;
    return { loss: count > 0 ? total / count : NaN, tokens: count, nats: total };
  }

  /**
   * Every parameter whole on world rank 0 (collective; null elsewhere): each stage gathers its
   * tp/ep blocks, then stages after the first send theirs to rank 0 along its pp group, names and
   * shapes first.
   */
  async gatherParams(infos: readonly ParamInfo[]): Promise<Map<string, { shape: number[]; data: Float32Array }> | null> {
    const { ctx, pp } = this;
    const onRank0Group = ctx.dpIndex === 0 && ctx.tpIndex === 0; // world rank 0's pp group
    const whole = await gatherParams(infos, ctx, onRank0Group);
    if (!onRank0Group) return null;
    if (pp.rank > 0) {
      const own = infos.filter((i) => i.tied === undefined || i.tied.copy === 0).map((i) => ({ name: i.name, shape: whole.get(i.name)!.shape }));
      await sendJson(pp, own, 0);
      for (const { name } of own) await pp.send(whole.get(name)!.data, 0, TAG_PARAM);
      return null;
    }
    for (let s = 1; s < pp.size; s++) {
      const theirs = (await recvJson(pp, s)) as { name: string; shape: number[] }[];
      for (const { name, shape } of theirs) {
        const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
        await pp.recv(data, s, TAG_PARAM);
        whole.set(name, { shape, data });
      }
    }
    return whole;
  }
}

/** Frees every tensor computed on the way to `root` (parameters and other leaves stay). */
function releaseGraph(root: Tensor): void {
  const stack = [root], seen = new Set<Tensor>();
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t) || t.node === null) continue;
    seen.add(t);
    for (const x of t.node.inputs) if (x.requiresGrad) stack.push(x);
    t.dispose();
  }
}

/** A JSON value as a length, then its UTF-8 bytes one per float (exact below 2^24). */
async function sendJson(g: ProcessGroup, value: unknown, peer: number): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  await g.send(Float32Array.of(bytes.length), peer, TAG_NAMES);
  await g.send(Float32Array.from(bytes), peer, TAG_NAMES);
}

async function recvJson(g: ProcessGroup, peer: number): Promise<unknown> {
  const len = new Float32Array(1);
  await g.recv(len, peer, TAG_NAMES);
  const floats = new Float32Array(len[0]!);
  await g.recv(floats, peer, TAG_NAMES);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(floats)));
}
