// The one conformance suite for every communication backend: run by `launch` on N ranks, it checks
// each collective against values computed serially from every rank's (deterministic) input.
//
// Inputs are multiples of 1/4 in [-2, 2], so sums over any order are exact and results are compared
// bit for bit. Sizes include empty buffers, odd lengths, subarray views, and messages larger than
// one staging round of the threads backend (STAGE_FLOATS) and one point-to-point channel.
import assert from 'node:assert/strict';
import { displacements, sumCounts, type ProcessGroup, type ReduceOp } from '../process-group.js';
import { STAGE_FLOATS, groupLayout } from '../threads-shared.js';

/** Rank q's input of n values for a test `salt`: exact multiples of 1/4. */
export function gen(q: number, n: number, salt: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (((q * 7919 + i * 31 + salt * 131) % 17) - 8) / 4;
  return x;
}

function same(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

function reduceAll(p: number, n: number, salt: number, op: ReduceOp): Float32Array {
  const out = gen(0, n, salt);
  for (let q = 1; q < p; q++) {
    const x = gen(q, n, salt);
    for (let i = 0; i < n; i++) out[i] = op === 'sum' ? (out[i] ?? 0) + (x[i] ?? 0) : Math.max(out[i] ?? 0, x[i] ?? 0);
  }
  return out;
}

/** Variable all-to-all counts: how many elements rank q sends to rank j (some zero). */
function a2aCount(q: number, j: number, salt: number, big: number): number {
  const c = (q * 3 + j * 5 + salt) % 7;
  return c === 3 ? 0 : c + (q === j ? big : 0);
}

/** Every collective on g; `full` adds the sizes that span several staging rounds. */
async function collectives(g: ProcessGroup, tag: string, full: boolean): Promise<string[]> {
  const { rank: r, size: p } = g;
  const done: string[] = [];
  const big = full ? 2 * STAGE_FLOATS + 37 : 40_003;
  const round = full ? STAGE_FLOATS : 4099;

  for (const n of [0, 1, 15, 1000, 40_000, big]) {
    for (const op of ['sum', 'max'] as const) {
      const x = gen(r, n, n + 1);
      await g.allReduce(x, op);
      same(x, reduceAll(p, n, n + 1, op), `${tag} allReduce ${op} n=${n}`);
    }
  }
  // A view into a larger buffer: only the view changes.
  const backing = gen(r, 300, 9);
  const view = backing.subarray(100, 200);
  await g.allReduce(view);
  same(view, reduceAll(p, 300, 9, 'sum').subarray(100, 200), `${tag} allReduce subarray`);
  same(backing.subarray(0, 100), gen(r, 300, 9).subarray(0, 100), `${tag} allReduce subarray leaves the rest`);
  done.push('allReduce');

  for (const m of [0, 1, 100, Math.floor(round / p) + 5]) {
    for (const op of ['sum', 'max'] as const) {
      const out = new Float32Array(m);
      await g.reduceScatter(gen(r, p * m, 3), out, op);
      same(out, reduceAll(p, p * m, 3, op).subarray(r * m, (r + 1) * m), `${tag} reduceScatter ${op} m=${m}`);
    }
  }
  done.push('reduceScatter');

  for (const m of [0, 3, round + 11]) {
    const out = new Float32Array(p * m);
    await g.allGather(gen(r, m, 4), out);
    for (let q = 0; q < p; q++) same(out.subarray(q * m, (q + 1) * m), gen(q, m, 4), `${tag} allGather m=${m} row ${q}`);
  }
  done.push('allGather');

  for (const m of [0, 2, Math.floor(round / p) + 7]) {
    const recv = new Float32Array(p * m);
    await g.allToAll(gen(r, p * m, 5), recv);
    for (let q = 0; q < p; q++) {
      same(recv.subarray(q * m, (q + 1) * m), gen(q, p * m, 5).subarray(r * m, (r + 1) * m), `${tag} allToAll m=${m} from ${q}`);
    }
  }
  done.push('allToAll equal');

  for (const bigCount of [0, round]) {
    const sc = Array.from({ length: p }, (_, j) => a2aCount(r, j, 6, bigCount));
    const rc = Array.from({ length: p }, (_, q) => a2aCount(q, r, 6, bigCount));
    const recv = new Float32Array(sumCounts(rc));
    await g.allToAll(gen(r, sumCounts(sc), 6), recv, sc, Int32Array.from(rc));
    const rd = displacements(rc);
    for (let q = 0; q < p; q++) {
      const qsc = Array.from({ length: p }, (_, j) => a2aCount(q, j, 6, bigCount));
      const from = displacements(qsc)[r] ?? 0;
      const n = rc[q] ?? 0;
      same(recv.subarray(rd[q] ?? 0, (rd[q] ?? 0) + n), gen(q, sumCounts(qsc), 6).subarray(from, from + n),
        `${tag} allToAll variable (big ${bigCount}) from ${q}`);
    }
  }
  done.push('allToAll variable');

  for (let root = 0; root < p; root++) {
    const x = r === root ? gen(root, big, 7) : new Float32Array(big);
    await g.broadcast(x, root);
    same(x, gen(root, big, 7), `${tag} broadcast root ${root}`);
  }
  done.push('broadcast');

  // Ranks arrive at different times; nobody may leave before the last one arrived.
  // Times are measured from rank 0's clock reading (ranks share the machine's clock).
  const now = Date.now();
  const epoch = new Float32Array([Math.floor(now / 1e6), now % 1e6]);
  await g.broadcast(epoch, 0);
  const t0 = (epoch[0] ?? 0) * 1e6 + (epoch[1] ?? 0);
  await new Promise((res) => setTimeout(res, 15 * r));
  const arrive = Date.now() - t0;
  await g.barrier();
  const leave = Date.now() - t0;
  const times = new Float32Array(2 * p);
  await g.allGather(new Float32Array([arrive, leave]), times);
  let lastArrival = 0;
  for (let q = 0; q < p; q++) lastArrival = Math.max(lastArrival, times[2 * q] ?? 0);
  assert.ok(leave >= lastArrival - 3, `${tag} barrier: rank ${r} left at ${leave} ms before the last arrival at ${lastArrival} ms`);
  done.push('barrier');

  if (p > 1) {
    // A ring, even ranks sending first so that large (chunked, blocking) messages cannot deadlock.
    const next = (r + 1) % p;
    const prev = (r + p - 1) % p;
    for (const [n, t] of [[5, 0], [3, 7], [(full ? groupLayout(p).chanFloats : round) + 13, 2]] as const) {
      const got = new Float32Array(n);
      if (r % 2 === 0) {
        await g.send(gen(r, n, t), next, t);
        await g.recv(got, prev, t);
      } else {
        await g.recv(got, prev, t);
        await g.send(gen(r, n, t), next, t);
      }
      same(got, gen(prev, n, t), `${tag} send/recv n=${n} tag=${t}`);
    }
    done.push('send/recv');
  }
  return done;
}

/** Entry for `launch`: the whole suite on the world, on two sub-group layouts, and nested.
 * `light` skips the multi-round sizes on the world too (for suites that wrap a group). */
export async function main(world: ProcessGroup, args?: { light?: boolean } | null): Promise<string[]> {
  const done = (await collectives(world, 'world', args?.light !== true)).map((s) => `world ${s}`);

  // Fresh groups whose first operation is a barrier: the second one's region lies beyond what
  // ranks other than its allocator have mapped so far.
  const fresh = await world.split(1);
  const fresher = await world.split(1);
  await fresher.barrier();
  await fresh.barrier();

  // Halves by parity, ordered in reverse by key.
  const sub = await world.split(world.rank % 2, -world.rank);
  const members = [...Array(world.size).keys()].filter((q) => q % 2 === world.rank % 2).reverse();
  assert.equal(sub.size, members.length, 'split size');
  assert.equal(sub.rank, members.indexOf(world.rank), 'split rank');
  assert.equal(sub.worldRank, world.rank, 'split worldRank');
  const x = gen(world.rank, 33, 8);
  await sub.allReduce(x);
  const expect = new Float32Array(33);
  for (const q of members) gen(q, 33, 8).forEach((v, i) => { expect[i] = (expect[i] ?? 0) + v; });
  same(x, expect, 'split parity allReduce');
  done.push(...(await collectives(sub, `parity${world.rank % 2}`, false)).map((s) => `parity ${s}`));

  // Nested: split the sub-group again into singletons, and a world-wide copy.
  const single = await sub.split(sub.rank);
  assert.equal(single.size, 1, 'singleton size');
  done.push(...(await collectives(single, 'single', false)).map((s) => `single ${s}`));
  const copy = await world.split(0);
  assert.equal(copy.rank, world.rank, 'copy rank');
  const y = gen(world.rank, 10, 2);
  await copy.allReduce(y);
  same(y, reduceAll(world.size, 10, 2, 'sum'), 'copy allReduce');
  done.push('copy allReduce');
  return done;
}
