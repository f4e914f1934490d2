// The 1F1B pipeline schedule (PipeDream-Flush; Narayanan et al. 2021, arXiv 2104.04473 §2.2):
// each stage runs the forward passes of its first micro-batches, then alternates one forward and
// one backward, then drains the remaining backwards. Activations move to the next stage and their
// gradients to the previous one by send/recv over the pp group.
//
// Stage s of p with m micro-batches runs w = min(p - s - 1, m) warm-up forwards, m - w
// forward/backward pairs and w cool-down backwards, so at most w + 1 micro-batches' activations
// are alive at once (GPipe keeps all m). The bubble, the time a stage waits for its neighbours, is
// (p - 1) / (m + p - 1) of the step for equal stages.
//
// Sends block until the peer receives (MPI's rendezvous, the threads channels' bounded slots), so
// where a stage sends one way and receives the other (steady state), the two neighbours exchange:
// the lower stage sends first and then receives, the upper receives first and then sends
// (Megatron-LM's send_forward_recv_backward / send_backward_recv_forward pairs).
import type { ProcessGroup } from '../comm/process-group.js';

/** What a stage computes for micro-batch `i`; the schedule moves the arrays between stages. */
export interface StageWork {
  /** Forward of micro-batch i from the previous stage's output (null on the first stage): the
   * activations for the next stage (ignored on the last). */
  forward(i: number, input: Float32Array | null): Promise<Float32Array | null>;
  /** Backward of micro-batch i from the gradient of its output (null on the last stage): the
   * gradient of its input for the previous stage (ignored on the first). */
  backward(i: number, gradOutput: Float32Array | null): Promise<Float32Array | null>;
}

/** Seconds one stage spent waiting for its neighbours during a schedule (its part of the bubble). */
export interface ScheduleTimes {
  wait: number;
}

const TAG_FWD = 1, TAG_BWD = 2;

/** Point-to-point steps of one stage with its neighbours; every receive is timed as waiting. */
class Neighbours {
  wait = 0;
  private readonly prev: number | null;
  private readonly next: number | null;

  constructor(private readonly pp: ProcessGroup, private readonly floats: number) {
    this.prev = pp.rank > 0 ? pp.rank - 1 : null;
    this.next = pp.rank < pp.size - 1 ? pp.rank + 1 : null;
  }

  private async timed(f: () => Promise<void>): Promise<void> {
    const t0 = performance.now();
    await f();
    this.wait += (performance.now() - t0) / 1000;
  }

  async recvForward(): Promise<Float32Array | null> {
    if (this.prev === null) return null;
    const x = new Float32Array(this.floats), prev = this.prev;
    await this.timed(() => this.pp.recv(x, prev, TAG_FWD));
    return x;
  }

  async sendForward(y: Float32Array | null): Promise<void> {
    if (this.next !== null) await this.timed(() => this.pp.send(need(y, 'activations'), this.next!, TAG_FWD));
  }

  async recvBackward(): Promise<Float32Array | null> {
    if (this.next === null) return null;
    const g = new Float32Array(this.floats), next = this.next;
    await this.timed(() => this.pp.recv(g, next, TAG_BWD));
    return g;
  }

  async sendBackward(dx: Float32Array | null): Promise<void> {
    if (this.prev !== null) await this.timed(() => this.pp.send(need(dx, 'input gradient'), this.prev!, TAG_BWD));
  }

  /** The lower side of an exchange with the next stage: send activations, then receive a gradient. */
  async sendForwardRecvBackward(y: Float32Array | null): Promise<Float32Array | null> {
    await this.sendForward(y);
    return this.recvBackward();
  }

  /** The upper side of an exchange with the previous stage: receive activations, then send a gradient. */
  async sendBackwardRecvForward(dx: Float32Array | null): Promise<Float32Array | null> {
    const x = await this.recvForward();
    await this.sendBackward(dx);
    return x;
  }
}

function need(a: Float32Array | null, what: string): Float32Array {
  if (a === null) throw new Error(`invariant: a pipeline stage produced no ${what} for its neighbour`);
  return a;
}

/**
 * Runs `micro` micro-batches through this stage (pp.rank) in 1F1B order. Every array exchanged
 * holds `floats` elements (one micro-batch's activations, B/m x T x C).
 */
export async function run1F1B(pp: ProcessGroup, micro: number, floats: number, work: StageWork): Promise<ScheduleTimes> {
  const io = new Neighbours(pp, floats);
  const warm = Math.min(pp.size - pp.rank - 1, micro), steady = micro - warm;
  for (let i = 0; i < warm; i++) await io.sendForward(await work.forward(i, await io.recvForward()));
  let input = steady > 0 ? await io.recvForward() : null;
  for (let i = 0; i < steady; i++) {
    const gradOut = await io.sendForwardRecvBackward(await work.forward(warm + i, input));
    const dx = await work.backward(i, gradOut);
    if (i === steady - 1) await io.sendBackward(dx);
    else input = await io.sendBackwardRecvForward(dx);
  }
  for (let i = steady; i < micro; i++) await io.sendBackward(await work.backward(i, await io.recvBackward()));
  return { wait: io.wait };
}

/** Forward only (evaluation): each stage receives, computes and passes on, one batch after another. */
export async function runForward(pp: ProcessGroup, floats: number, forward: (input: Float32Array | null) => Promise<Float32Array | null>): Promise<void> {
  const io = new Neighbours(pp, floats);
  await io.sendForward(await forward(await io.recvForward()));
}

/** The 1F1B bubble of equal stages: idle over total time of a step, (p - 1) / (m + p - 1). */
export function bubbleFraction(stages: number, micro: number): number {
  return (stages - 1) / (micro + stages - 1);
}
