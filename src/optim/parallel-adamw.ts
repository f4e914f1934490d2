// AdamW over a parallel layout: gradient reduction, the global-norm clip and the update in one
// step, with ZeRO-1 (Rajbhandari et al., SC 2020, section 5.1) as an option: the optimizer state
// of the dp-replicated parameters is split over their data-parallel group; each rank
// reduce-scatters the gradients, updates its slice, and all-gathers the parameters. With Muon
// (./muon.ts) the weight matrices go to Muon instead: their gradients are all-reduced (also under
// ZeRO-1, whose split then covers the AdamW state only), so each rank orthogonalizes whole matrices.
import type { ProcessGroup } from '../comm/process-group.js';
import { trainable, type ParamInfo } from '../nn/module.js';
import { Muon, usesMuon } from './muon.js';
import { AdamW, clipScale, type AdamWOptions } from './adamw.js';
import { FlatShards, ZERO_STAGING_FLOATS } from './zero-shards.js';
import { backend } from '../tensor/engine.js';
import type { ParallelContext } from '../parallel/context.js';
import { OverlappedSums, combineNorm, fillMissingGrads, inNorm, localSquares, normKind, sumGradients } from '../parallel/grads.js';

/** Optimizer state of one parameter's local block, for checkpoints: AdamW's two moments, or Muon's momentum m alone (v null). */
export interface MomentState {
  name: string;
  m: Float32Array;
  v: Float32Array | null;
}

export type OptimizerKind = 'adamw' | 'muon';

/**
 * One parameter set whose state is split over a group (ZeRO-1). The gradients are reduce-scattered
 * and the parameters all-gathered in the tensors' own arrays (./zero-shards.ts): this rank's range
 * of the gradient arrays receives the sums, and it updates its range of the parameters in place,
 * so besides the moments it keeps only the staging bucket.
 */
class ZeroPart {
  readonly zero: FlatShards;
  readonly m: Float32Array;
  readonly v: Float32Array;

  constructor(readonly infos: readonly ParamInfo[], readonly group: ProcessGroup) {
    this.zero = new FlatShards(group, infos.map((i) => i.param.size), ZERO_STAGING_FLOATS, (n) => backend().alloc(n));
    this.m = backend().alloc(this.zero.shard);
    this.v = backend().alloc(this.zero.shard);
  }

  /** Each parameter's overlap [a, b) with this rank's slice, in the parameter's own indices, at s in the shard. */
  *segments(): Generator<{ info: ParamInfo; a: number; b: number; s: number }> {
    const { start, end, offsets } = this.zero;
    for (let k = 0; k < this.infos.length; k++) {
      const o = offsets[k]!, info = this.infos[k]!;
      const a = Math.max(start, o), b = Math.min(end, o + info.param.size);
      if (a < b) yield { info, a: a - o, b: b - o, s: a - start };
    }
  }

  async reduceGrads(): Promise<void> {
    await this.zero.reduceScatter(this.infos.map((i) => i.param.grad!.data));
  }

  squares(): { replicated: number; tp: number; ep: number } {
    const ss = { replicated: 0, tp: 0, ep: 0 };
    for (const { info, a, b } of this.segments()) if (inNorm(info)) ss[normKind(info)] += backend().sumSquares(info.param.grad!.data.subarray(a, b));
    return ss;
  }

  update(lr: number, scale: number, o: AdamWOptions, bc1: number, bc2: number): void {
    const be = backend();
    for (const { info, a, b, s } of this.segments()) {
      const n = b - a, g = info.param.grad!.data.subarray(a, b);
      if (scale !== 1) be.affine(g, scale, 0, g);
      be.adamw(info.param.data.subarray(a, b), g, this.m.subarray(s, s + n), this.v.subarray(s, s + n),
        lr, o.beta1, o.beta2, o.eps, info.param.ndim >= 2 ? o.weightDecay : 0, bc1, bc2);
    }
  }

  async gatherParams(): Promise<void> {
    await this.zero.allGather(this.infos.map((i) => i.param.data));
  }

  /** Full local-block moments of every parameter (gathered from the group). */
  async moments(): Promise<MomentState[]> {
    const m = this.infos.map((i) => new Float32Array(i.param.size)), v = this.infos.map((i) => new Float32Array(i.param.size));
    await this.zero.gatherShards(this.m, m);
    await this.zero.gatherShards(this.v, v);
    return this.infos.map((i, k) => ({ name: i.name, m: m[k]!, v: v[k]! }));
  }

  /** Bytes of the working buffers (the staging bucket). */
  bufferBytes(): number {
    return this.zero.buffers.reduce((s, b) => s + b.byteLength, 0);
  }

  release(): void {
    for (const a of [this.m, this.v, ...this.zero.buffers]) backend().free(a);
  }

  load(states: Map<string, MomentState>): void {
    for (const { info, a, b, s } of this.segments()) {
      const st = states.get(info.name)!;
      this.m.set(st.m.subarray(a, b), s);
      this.v.set(st.v!.subarray(a, b), s);
    }
  }
}

export class ParallelAdamW {
  step = 0;
  /** The trained parameters (buffers have no optimizer). */
  readonly infos: readonly ParamInfo[];
  /**
   * The plain AdamW (after reduction and clipping) over the parameters whose state is not split:
   * all of them without ZeRO, and under ZeRO-1 those whose data-parallel group is one rank (expert
   * parameters when ep spans dp), where a split would only add buffers.
   */
  private local: AdamW | undefined;
  private readonly localInfos: readonly ParamInfo[];
  private readonly parts: ZeroPart[] = [];
  /** With train.optimizer muon: the weight matrices' optimizer. */
  private muon: Muon | undefined;
  /** The parameters AdamW trains. */
  private readonly adam: readonly ParamInfo[];
  /** The all-reduced parameters' sums, started during backward (made at the first backward; null: not asked for). */
  private overlapped: OverlappedSums | null = null;
  /** Whether this step's backward pass started the sums (update then waits for them instead of starting them). */
  private summing = false;
  private released = false;

  constructor(infos: readonly ParamInfo[], readonly opts: AdamWOptions, readonly ctx: ParallelContext,
    readonly zero: boolean, kind: OptimizerKind = 'adamw') {
    this.infos = trainable(infos);
    const matrices = kind === 'muon' ? this.infos.filter(usesMuon) : [];
    this.adam = this.infos.filter((i) => !matrices.includes(i));
    if (matrices.length > 0) this.muon = new Muon(matrices, ctx, opts.weightDecay);
    const local: ParamInfo[] = zero ? [] : [...this.adam];
    if (zero) {
      for (const [infos, group] of [[this.adam.filter((i) => !i.expert), ctx.groups.dp], [this.adam.filter((i) => i.expert), ctx.groups.expertDp]] as const) {
        if (infos.length === 0) continue;
        if (group.size > 1) this.parts.push(new ZeroPart(infos, group));
        else local.push(...infos);
      }
    }
    this.localInfos = local;
    if (local.length > 0) this.local = new AdamW(local.map((i) => [i.name, i.param]), opts);
  }

  /**
   * Runs this step's backward pass (`pass`), with the gradient sums of the all-reduced parameters
   * (all without ZeRO-1, and Muon's) started during it when `overlap` (comm/progress.ts); the
   * first call is collective. update() then finishes the sums.
   */
  async backward(pass: () => Promise<void>, overlap = true): Promise<void> {
    if (!overlap) return pass();
    this.overlapped ??= await OverlappedSums.create([...this.localInfos, ...(this.muon?.infos ?? [])], this.ctx);
    await this.overlapped.backward(pass);
    this.summing = true;
  }

  /** Reduces gradients, clips them to a global norm of maxNorm (0: no clip), updates. Returns the norm. */
  async update(lr: number, maxNorm: number): Promise<number> {
    if (this.released) throw new Error('ParallelAdamW.update after release()');
    fillMissingGrads(this.infos);
    this.step++;
    const o = this.opts;
    const bc1 = 1 - o.beta1 ** this.step, bc2 = 1 - o.beta2 ** this.step;
    // Sums started by backward() are waited for; otherwise they run now.
    const started = this.summing;
    this.summing = false;
    const ss = await this.reduceZeroParts(), ls = await this.reduceLocal(started);
    ss.replicated += ls.replicated; ss.tp += ls.tp; ss.ep += ls.ep;
    if (this.muon !== undefined) {
      if (!started) await sumGradients(this.muon.infos, this.ctx);
      const m = localSquares(this.muon.infos);
      ss.replicated += m.replicated; ss.tp += m.tp; ss.ep += m.ep;
    }
    const norm = await combineNorm(ss, this.ctx);
    const scale = clipScale(norm, maxNorm);
    await this.muon?.update(lr, scale);
    for (const p of this.parts) p.update(lr, scale, o, bc1, bc2);
    for (const p of this.parts) await p.gatherParams();
    if (this.local !== undefined) {
      if (scale !== 1) for (const i of this.localInfos) backend().affine(i.param.grad!.data, scale, 0, i.param.grad!.data);
      this.local.update(lr);
    }
    return norm;
  }

  /** ZeRO-1: reduce-scatters the AdamW gradients; their sums of squares, complete over dp. */
  private async reduceZeroParts(): Promise<{ replicated: number; tp: number; ep: number }> {
    for (const p of this.parts) await p.reduceGrads();
    const ss = { replicated: 0, tp: 0, ep: 0 };
    for (const p of this.parts) {
      const s = p.squares();
      const v = Float32Array.of(s.replicated, s.tp, s.ep);
      await p.group.allReduce(v);
      ss.replicated += v[0]!; ss.tp += v[1]!; ss.ep += v[2]!;
    }
    return ss;
  }

  /** Sums the gradients of the unsplit AdamW parameters over dp (or waits for the sums backward started); their sums of squares. */
  private async reduceLocal(started: boolean): Promise<{ replicated: number; tp: number; ep: number }> {
    if (started) await this.overlapped?.finish();
    if (this.localInfos.length === 0) return { replicated: 0, tp: 0, ep: 0 };
    if (!started) await sumGradients(this.localInfos, this.ctx);
    return localSquares(this.localInfos);
  }

  zeroGrad(): void {
    for (const i of this.infos) i.param.grad = null;
  }

  /**
   * Gives the optimizer state and ZeRO-1's buffers back to the backend, and drops the gradients:
   * for the end of a run, so that the final evaluation and export have their memory. No update or
   * state() after it; a second call does nothing.
   */
  release(): void {
    if (this.released) return;
    this.zeroGrad();
    for (const m of this.muon?.momentum ?? []) m.dispose();
    for (const st of this.local?.states ?? []) { st.m.dispose(); st.v.dispose(); }
    for (const p of this.parts) p.release();
    // Host blocks are collected only once nothing refers to them: drop the states' owners too.
    this.muon = undefined;
    this.local = undefined;
    this.parts.length = 0;
    this.released = true;
  }

  /** Bytes of optimizer state (the moments) and of ZeRO-1's working buffers (shards, staging) on this rank. */
  stateBytes(): { optimizer: number; buffers: number } {
    let optimizer = (this.muon?.momentum.reduce((s, m) => s + 4 * m.size, 0) ?? 0)
      + (this.local?.states.reduce((s, st) => s + 4 * (st.m.size + st.v.size), 0) ?? 0), buffers = 0;
    for (const p of this.parts) {
      optimizer += 4 * (p.m.length + p.v.length);
      buffers += p.bufferBytes();
    }
    return { optimizer, buffers };
  }

  /** Moments of every parameter's local block (collective under ZeRO-1). */
  async state(): Promise<MomentState[]> {
    const out: MomentState[] = this.muon?.infos.map((info, k) => ({ name: info.name, m: this.muon!.momentum[k]!.data, v: null })) ?? [];
    if (this.local !== undefined) out.push(...this.local.states.map((st) => ({ name: st.name, m: st.m.data, v: st.v.data })));
    for (const p of this.parts) out.push(...(await p.moments()));
    return out;
  }

  /** Which state arrays a parameter has: Muon's momentum alone, or AdamW's two moments. */
  stateKinds(info: ParamInfo): ('m' | 'v')[] {
    return this.muon?.infos.includes(info) === true ? ['m'] : ['m', 'v'];
  }

  load(states: readonly MomentState[], step: number): void {
    const byName = new Map(states.map((s) => [s.name, s]));
    for (const info of this.infos) if (!byName.has(info.name)) throw new Error(`optimizer state for ${info.name} is missing`);
    this.step = step;
    this.muon?.infos.forEach((info, k) => this.muon!.momentum[k]!.data.set(byName.get(info.name)!.m));
    if (this.local !== undefined) {
      this.local.step = step;
      for (const st of this.local.states) { st.m.data.set(byName.get(st.name)!.m); st.v.data.set(byName.get(st.name)!.v!); }
    }
    for (const p of this.parts) p.load(byName);
  }
}
