// The pipeline schedules: 1F1B and interleaved 1F1B orders as published, every program deadlock-free
// under blocking sends (checked by running it with rendezvous semantics), and on every
// communication backend each stage receives exactly what its neighbours sent, also with messages
// larger than one channel slot (threads) or the eager limit (MPI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from '../comm/launch.js';
import { findMpirun } from '../comm/mpi-group.js';
import { groupLayout } from '../comm/threads-shared.js';
import { bubbleFraction, checkSchedule, simulateSchedule, stagePrograms, unitOrder, warmupUnits, type Op, type Schedule } from './pipeline.js';

const schedule = new URL('./testing/pipeline.case.js', import.meta.url);
const noMpi = findMpirun() === undefined ? 'Open MPI is not installed (mpirun not found)' : false;

/** 1F1B order of stage s of p over m micro-batches: w = min(p - s - 1, m) forwards, then F/B pairs, then the last w backwards. */
function expected1F1B(s: number, p: number, m: number): string[] {
  const w = Math.min(p - s - 1, m), out: string[] = [];
  for (let i = 0; i < w; i++) out.push(`F${i}.0`);
  for (let i = 0; i < m - w; i++) out.push(`F${w + i}.0`, `B${i}.0`);
  for (let i = m - w; i < m; i++) out.push(`B${i}.0`);
  return out;
}

const names = (s: Schedule, r: number) => unitOrder(s, r).map((u) => `${u.kind}${u.micro}.${u.chunk}`);

/**
 * Runs every rank's program with sends that block until received (the strictest transport): each
 * round, every rank runs its computations up to its next meeting; a meeting completes when both
 * sides stand at it. Returns the most units whose activations one rank holds at once.
 */
function rendezvous(programs: Op[][]): number[] {
  const pc = programs.map(() => 0), alive = programs.map(() => 0), most = programs.map(() => 0);
  const key = (o: Op & { op: 'send' | 'recv' }, from: number) => `${o.op === 'send' ? from : o.peer}>${o.op === 'send' ? o.peer : from}:${o.tag}`;
  for (;;) {
    programs.forEach((prog, r) => {
      for (let o = prog[pc[r]!]; o?.op === 'compute'; o = prog[++pc[r]!]) {
        alive[r]! += o.unit.kind === 'F' ? 1 : -1;
        most[r] = Math.max(most[r]!, alive[r]!);
      }
    });
    if (programs.every((prog, r) => pc[r] === prog.length)) return most;
    let moved = false;
    programs.forEach((prog, r) => {
      const o = prog[pc[r]!];
      if (o === undefined || o.op !== 'send') return;
      const q = programs[o.peer]![pc[o.peer]!];
      if (q === undefined || q.op !== 'recv' || q.peer !== r || key(q, o.peer) !== key(o, r)) return;
      pc[r]!++;
      pc[o.peer]!++;
      moved = true;
    });
    assert.ok(moved, `deadlock at ${pc.join(',')}`);
  }
}

test('interleaved 1F1B: Megatron-LM\'s unit order, every unit once, deadlock-free with blocking sends, w + 1 units alive at most', () => {
  // p 2, v 2, m 4 by hand: rank 0 warms up with 2 (p - 1) + (v - 1) p = 4 forwards, micro-batches in groups of p.
  const s: Schedule = { stages: 2, virtual: 2, micro: 4 };
  assert.deepEqual(names(s, 0), ['F0.0', 'F1.0', 'F0.1', 'F1.1', 'F2.0', 'B0.1', 'F3.0', 'B1.1', 'F2.1', 'B0.0', 'F3.1', 'B1.0', 'B2.1', 'B3.1', 'B2.0', 'B3.0']);
  assert.deepEqual(names(s, 1).slice(0, 4), ['F0.0', 'F1.0', 'F0.1', 'B0.1']);
  for (const p of [2, 3, 4]) {
    for (const v of [1, 2, 3, 4]) {
      for (const m of v === 1 ? [1, 2, 3, p, 2 * p, 3 * p + 1] : [p, 2 * p, 3 * p]) {
        const sch = { stages: p, virtual: v, micro: m }, what = `p ${p} v ${v} m ${m}`;
        for (let r = 0; r < p; r++) {
          const all = names(sch, r);
          assert.equal(new Set(all).size, 2 * m * v, what);
          if (v === 1) assert.deepEqual(all, expected1F1B(r, p, m), what);
        }
        const most = rendezvous(stagePrograms(sch));
        most.forEach((n, r) => assert.ok(n <= warmupUnits(sch, r) + 1, `${what}: rank ${r} holds ${n} units`));
      }
    }
  }
  assert.throws(() => checkSchedule({ stages: 2, virtual: 2, micro: 3 }), /groups of pp: 3 is not a multiple of 2/);
});

test('the schedules, simulated with equal stages, idle every rank (p - 1) / (v m + p - 1) of the step, the published bubble', () => {
  for (const p of [2, 3, 4]) {
    for (const v of [1, 2, 4]) {
      for (const m of v === 1 ? [1, 4, 8] : [p, 2 * p, 4 * p]) {
        const { idle } = simulateSchedule({ stages: p, virtual: v, micro: m });
        idle.forEach((x, r) => assert.ok(Math.abs(x - bubbleFraction(p, m, v)) < 1e-12, `p ${p} v ${v} m ${m} rank ${r}: ${x}`));
      }
    }
  }
  // A last stage 1.5x as slow: the others wait for it, whatever the schedule.
  const { idle } = simulateSchedule({ stages: 2, virtual: 1, micro: 8 }, [1, 1.5]);
  assert.ok(idle[0]! > 0.3 && idle[1]! < bubbleFraction(2, 8), `${idle}`);
  assert.equal(bubbleFraction(4, 8), 3 / 11);
  assert.equal(bubbleFraction(4, 8, 2), 3 / 19);
  assert.equal(bubbleFraction(1, 8), 0);
});

for (const p of [2, 3, 4]) {
  test(`threads: 1F1B and interleaved 1F1B on ${p} stages deliver every activation and gradient, in order`, { timeout: 60_000 }, async () => {
    for (const [micro, floats, virtual] of [[1, 5, 1], [3, 5, 1], [2 * p, groupLayout(p).chanFloats + 13, 1], [p, 5, 2], [2 * p, groupLayout(p).chanFloats + 13, 2]] as const) {
      const got = await launch<string[]>(schedule, { ranks: p, args: { micro, floats, virtual }, timeoutS: 50, commTimeoutS: 20 });
      const sch = { stages: p, virtual, micro };
      got.forEach((order, r) => assert.deepEqual(order, names(sch, r), `stage ${r}, ${micro} micro-batches of ${floats}, v ${virtual}`));
    }
  });
}

for (const p of [2, 3]) {
  test(`mpi: 1F1B and interleaved 1F1B on ${p} stages with messages past the eager limit`, { skip: noMpi, timeout: 90_000 }, async () => {
    for (const virtual of [1, 2]) {
      const got = await launch<string[]>(schedule, { ranks: p, backend: 'mpi', args: { micro: 2 * p, floats: 300_000, virtual }, timeoutS: 80 });
      const sch = { stages: p, virtual, micro: 2 * p };
      got.forEach((order, r) => assert.deepEqual(order, names(sch, r), `stage ${r}, v ${virtual}`));
    }
  });
}
