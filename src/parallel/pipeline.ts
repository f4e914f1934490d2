// Pipeline schedules: 1F1B (PipeDream-Flush) and interleaved 1F1B (Narayanan et al., SC21, arXiv
// 2104.04473 §2.2.1-2.2.2), as one program per stage of computations and point-to-point messages.
//
// The model is cut into S = p x v virtual stages; rank r of p holds the v chunks r, r + p, r + 2p, ...
// (v = 1: one contiguous stage, plain 1F1B). Activations flow from virtual stage s to s + 1, which
// lives on rank (r + 1) mod p (the last rank passes chunk k's output to rank 0's chunk k + 1: the
// extra sends of interleaving), gradients back from s + 1 to s.
//
// Rank r computes, in Megatron-LM's order, w warm-up forwards, then alternates one forward and one
// backward, then drains w backwards: w = min(p - r - 1, m) for 1F1B, and w = min(2 (p - r - 1) +
// (v - 1) p, m v) interleaved, where forward unit k takes micro-batch (k div pv) p + (k mod p) through
// chunk (k mod pv) div p (micro-batches in groups of p, so m must be a multiple of p), and backward
// unit k the same micro-batch through chunk v - 1 - (k mod pv) div p. At most w + 1 units' activations
// are alive at once (GPipe keeps all m v). The bubble, the time a stage waits for its neighbours, is
// (p - 1) / (v m + p - 1) of the step for equal stages.
//
// Sends block until the peer receives (MPI's rendezvous, the threads channels' bounded slots), so
// the order of every rank's sends and receives must agree. The program is made by simulating the
// schedule (a forward takes 1, a backward 2) on every rank alike: each message is a meeting at the
// simulated time t its sender finishes, meetings are ordered by (t, sender), and each rank runs its
// meetings in that order, each before the computations that start at or after t. The earliest
// unfinished meeting then always has both sides ready (everything either side runs before it needs
// only earlier meetings), so no order of real durations deadlocks.
import type { ProcessGroup } from '../comm/process-group.js';

/** One step of a stage's work: forward ('F') or backward ('B') of micro-batch `micro` through its chunk `chunk`. */
export interface Unit {
  kind: 'F' | 'B';
  micro: number;
  chunk: number;
}

/** What a stage computes; the schedule moves the arrays between stages. */
export interface StageWork {
  /** Forward of micro-batch i through chunk k from the previous virtual stage's output (null on
   * the first): the activations for the next virtual stage (ignored on the last). */
  forward(i: number, k: number, input: Float32Array | null): Promise<Float32Array | null>;
  /** Backward of micro-batch i through chunk k from the gradient of its output (null on the last
   * virtual stage): the gradient of its input for the previous one (ignored on the first). */
  backward(i: number, k: number, gradOutput: Float32Array | null): Promise<Float32Array | null>;
}

/** A stage's program: computations, and meetings with another stage that pass a unit's output (send: the
 * unit that made it) to the unit that takes it as input (recv: that unit). */
export type Op = { op: 'compute'; unit: Unit } | { op: 'send' | 'recv'; peer: number; unit: Unit; tag: number };

/** Seconds one stage spent waiting for its neighbours during a schedule (its part of the bubble). */
export interface ScheduleTimes {
  wait: number;
}

export interface Schedule {
  /** Pipeline ranks p, chunks per rank v, micro-batches m. */
  stages: number;
  virtual: number;
  micro: number;
}

const TAG_FWD = 1, TAG_BWD = 2;

/** Warm-up forwards of rank r: 1F1B's p - r - 1, interleaving's 2 (p - r - 1) + (v - 1) p (arXiv 2104.04473 §2.2.2), at most every unit. */
export function warmupUnits(s: Schedule, r: number): number {
  const { stages: p, virtual: v, micro: m } = s;
  return v === 1 ? Math.min(p - r - 1, m) : Math.min(2 * (p - r - 1) + (v - 1) * p, m * v);
}

/** Rank r's units in the order it computes them. */
export function unitOrder(s: Schedule, r: number): Unit[] {
  const { stages: p, virtual: v, micro: m } = s, total = m * v, warm = warmupUnits(s, r);
  const unit = (kind: 'F' | 'B', k: number): Unit => {
    const g = Math.floor(k / (p * v)), i = k % (p * v), c = Math.floor(i / p);
    return { kind, micro: v === 1 ? k : g * p + (i % p), chunk: kind === 'F' ? c : v - 1 - c };
  };
  const out: Unit[] = [];
  for (let k = 0; k < warm; k++) out.push(unit('F', k));
  for (let k = 0; k < total - warm; k++) out.push(unit('F', warm + k), unit('B', k));
  for (let k = total - warm; k < total; k++) out.push(unit('B', k));
  return out;
}

/** Checks a schedule's shape; throws RangeError naming what is wrong (callers map it to the flag). */
export function checkSchedule(s: Schedule): void {
  if (s.virtual > 1 && s.micro % s.stages !== 0) {
    throw new RangeError(`the interleaved schedule takes micro-batches in groups of pp: ${s.micro} is not a multiple of ${s.stages}`);
  }
}

interface Timed { t: number; cls: 0 | 1; sender: number; op: Op }

/** Every rank's program (see the header): computations in unitOrder, meetings in one global order. */
export function stagePrograms(s: Schedule): Op[][] {
  return simulate(s).events.map((e) => e.sort((a, b) => a.t - b.t || a.cls - b.cls || a.sender - b.sender).map((x) => x.op));
}

/**
 * The schedule run with `costs` (the forward time of one micro-batch through each virtual stage;
 * its backward takes twice that) and messages that take no time: the step's length and each
 * rank's idle share of it, the bubble of stages as unequal as the costs say (equal costs give
 * (p - 1) / (v m + p - 1) on the last rank).
 */
export function simulateSchedule(s: Schedule, costs?: readonly number[]): { step: number; idle: number[] } {
  const { free, busy } = simulate(s, costs);
  const step = Math.max(...free);
  return { step, idle: busy.map((b) => (step - b) / step) };
}

/** List scheduling of every rank's units in unitOrder: each starts when its rank is free and its input is computed. */
function simulate(s: Schedule, costs?: readonly number[]): { events: Timed[][]; free: number[]; busy: number[] } {
  checkSchedule(s);
  const { stages: p, virtual: v } = s, last = p * v - 1;
  const orders = Array.from({ length: p }, (_, r) => unitOrder(s, r));
  const events: Timed[][] = orders.map(() => []);
  const done = new Map<string, number>(); // `${kind}${micro}@${virtual stage}` -> simulated end time
  const next = new Array<number>(p).fill(0), free = new Array<number>(p).fill(0), busy = new Array<number>(p).fill(0);
  for (let left = orders.reduce((a, o) => a + o.length, 0); left > 0; left--) {
    // The unit that can start first, of those whose inputs are computed.
    let pick: { r: number; u: Unit; vs: number; start: number } | undefined;
    for (let r = 0; r < p; r++) {
      const u = orders[r]![next[r]!];
      if (u === undefined) continue;
      const vs = u.chunk * p + r;
      const dep = u.kind === 'F' ? (vs > 0 ? done.get(`F${u.micro}@${vs - 1}`) : 0) : (vs < last ? done.get(`B${u.micro}@${vs + 1}`) : done.get(`F${u.micro}@${vs}`));
      if (dep === undefined) continue;
      const start = Math.max(free[r]!, dep);
      if (pick === undefined || start < pick.start) pick = { r, u, vs, start };
    }
    if (pick === undefined) throw new Error(`invariant: the pipeline schedule stalls (p ${p}, v ${v}, m ${s.micro})`);
    const { r, u, vs, start } = pick, dt = (u.kind === 'F' ? 1 : 2) * (costs?.[vs] ?? 1), end = start + dt;
    next[r]!++;
    free[r] = end;
    busy[r]! += dt;
    done.set(`${u.kind}${u.micro}@${vs}`, end);
    events[r]!.push({ t: start, cls: 1, sender: r, op: { op: 'compute', unit: u } });
    const to = u.kind === 'F' ? (vs < last ? vs + 1 : null) : (vs > 0 ? vs - 1 : null);
    if (to === null) continue;
    const peer = to % p, consumer: Unit = { kind: u.kind, micro: u.micro, chunk: Math.floor(to / p) }, tag = u.kind === 'F' ? TAG_FWD : TAG_BWD;
    events[r]!.push({ t: end, cls: 0, sender: r, op: { op: 'send', peer, unit: u, tag } });
    events[peer]!.push({ t: end, cls: 0, sender: r, op: { op: 'recv', peer: r, unit: consumer, tag } });
  }
  return { events, free, busy };
}

const keyOf = (u: Unit) => `${u.kind}${u.micro}.${u.chunk}`;

/**
 * Runs this stage's (pp.rank) program of the schedule. Every array exchanged holds `floats`
 * elements (one micro-batch's activations, B/m x T x C).
 */
export async function runSchedule(pp: ProcessGroup, s: Schedule, floats: number, work: StageWork): Promise<ScheduleTimes> {
  if (s.stages !== pp.size) throw new Error(`invariant: a schedule of ${s.stages} stages on a pipeline group of ${pp.size}`);
  const program = stagePrograms(s)[pp.rank]!;
  const inbox = new Map<string, Float32Array>(), outbox = new Map<string, Float32Array>();
  let wait = 0;
  for (const o of program) {
    if (o.op === 'compute') {
      const { kind, micro, chunk } = o.unit, input = inbox.get(keyOf(o.unit)) ?? null;
      inbox.delete(keyOf(o.unit));
      const y = kind === 'F' ? await work.forward(micro, chunk, input) : await work.backward(micro, chunk, input);
      if (y !== null) outbox.set(keyOf(o.unit), y);
      continue;
    }
    const t0 = performance.now();
    if (o.op === 'recv') {
      const x = new Float32Array(floats);
      await pp.recv(x, o.peer, o.tag);
      inbox.set(keyOf(o.unit), x);
    } else {
      const y = outbox.get(keyOf(o.unit));
      if (y === undefined) throw new Error(`invariant: a pipeline stage produced no ${o.unit.kind === 'F' ? 'activations' : 'input gradient'} for its neighbour`);
      outbox.delete(keyOf(o.unit));
      await pp.send(y, o.peer, o.tag);
    }
    wait += (performance.now() - t0) / 1000;
  }
  return { wait };
}

/** 1F1B over this stage's one contiguous chunk. */
export function run1F1B(pp: ProcessGroup, micro: number, floats: number, work: StageWork): Promise<ScheduleTimes> {
  return runSchedule(pp, { stages: pp.size, virtual: 1, micro }, floats, work);
}

/**
 * Forward only (evaluation): one batch through the virtual stages in order, each rank receiving,
 * computing and passing on for each of its `virtual` chunks (a single chain of messages).
 */
export async function runForward(pp: ProcessGroup, floats: number, virtual: number,
  forward: (chunk: number, input: Float32Array | null) => Promise<Float32Array | null>): Promise<void> {
  const p = pp.size, r = pp.rank, prev = (r + p - 1) % p, next = (r + 1) % p;
  for (let k = 0; k < virtual; k++) {
    let input: Float32Array | null = null;
    if (r > 0 || k > 0) await pp.recv((input = new Float32Array(floats)), prev, TAG_FWD);
    const y = await forward(k, input);
    if (r < p - 1 || k < virtual - 1) {
      if (y === null) throw new Error('invariant: a pipeline stage produced no activations for its neighbour');
      await pp.send(y, next, TAG_FWD);
    }
  }
}

/** The bubble of equal stages: idle over total time of a step, (p - 1) / (v m + p - 1) (v = 1: 1F1B). */
export function bubbleFraction(stages: number, micro: number, virtual = 1): number {
  return (stages - 1) / (virtual * micro + stages - 1);
}
