// Who writes what: every rank's pieces merged, checked to tile each global tensor, and each
// replicated piece given to one writer so that bytes spread evenly over ranks and groups.
import { intersect, volume, type Box } from './box.js';
import type { DType, ShardedTensor } from './types.js';

/** What one rank holds, as exchanged through `plan-RRRRR.json` before a save. */
export interface RankPlan {
  step: number;
  rank: number;
  /** Topology group (e.g. supernode) of the rank. */
  group: number;
  pieces: ShardedTensor[];
  /** Set when this rank cannot take part; every rank then refuses the save. */
  error?: string;
}

/** One distinct piece of one tensor, with the ranks holding it and the one writing it. */
export interface PlannedPiece {
  key: string;
  dtype: DType;
  globalShape: number[];
  offset: number[];
  shape: number[];
  bytes: number;
  holders: number[];
  writer: number;
}

export function pieceId(key: string, offset: readonly number[]): string {
  return `${key}@${offset.join(',')}`;
}

/**
 * Merges all ranks' plans (indexed by rank) into the list of distinct pieces, in a deterministic
 * order, each with its writer. Every rank computes the same answer from the same files.
 *
 * Writers: pieces held by one rank are written by it. Replicated pieces are then handed out
 * largest first (LPT scheduling, Graham 1969) to the holder whose group carries the fewest bytes
 * per rank, then the holder with the fewest bytes: checkpoint bandwidth at scale needs writers
 * spread over I/O groups (BaGuaLu, SC'22: supernodes), not everything on replica 0.
 */
export function planWriters(plans: RankPlan[]): PlannedPiece[] {
  const byId = new Map<string, PlannedPiece & { replicas: number; replicaIds: Set<number> }>();
  const tensors = new Map<string, { dtype: DType; globalShape: number[]; ids: string[] }>();
  plans.forEach((plan, rank) => {
    if (plan.error !== undefined) throw new Error(`rank ${rank}: ${plan.error}`);
    for (const p of plan.pieces) {
      checkPiece(p, rank);
      let t = tensors.get(p.key);
      if (t === undefined) tensors.set(p.key, (t = { dtype: p.dtype, globalShape: p.globalShape, ids: [] }));
      else if (t.dtype !== p.dtype || t.globalShape.join(',') !== p.globalShape.join(',')) {
        throw new Error(`'${p.key}': rank ${rank} says ${p.dtype}[${p.globalShape}], another rank ${t.dtype}[${t.globalShape}]`);
      }
      const id = pieceId(p.key, p.offset);
      let e = byId.get(id);
      if (e === undefined) {
        e = { key: p.key, dtype: p.dtype, globalShape: p.globalShape, offset: p.offset, shape: p.localShape,
          bytes: 4 * volume(p.localShape), holders: [], writer: -1, replicas: p.replicas, replicaIds: new Set() };
        byId.set(id, e);
        t.ids.push(id);
      } else if (e.shape.join(',') !== p.localShape.join(',') || e.replicas !== p.replicas) {
        throw new Error(`'${id}': ranks disagree on the piece's shape or replica count`);
      }
      if (e.replicaIds.has(p.replicaId)) throw new Error(`'${id}': replica ${p.replicaId} is held twice (rank ${rank})`);
      e.replicaIds.add(p.replicaId);
      e.holders.push(rank);
    }
  });
  for (const [key, t] of tensors) {
    const pieces = t.ids.map((id) => byId.get(id)!);
    for (const p of pieces) {
      if (p.holders.length !== p.replicas) {
        throw new Error(`'${pieceId(key, p.offset)}': ${p.replicas} replicas declared, ${p.holders.length} held (ranks ${p.holders})`);
      }
    }
    checkTiling(key, t.globalShape, pieces.map((p) => ({ offset: p.offset, shape: p.shape })));
  }
  const all = [...byId.values()].sort((a, b) => b.bytes - a.bytes || cmp(a.key, b.key) || cmp(a.offset.join(','), b.offset.join(',')));
  const groupOf = plans.map((p) => p.group);
  const groupRanks = new Map<number, number>();
  for (const g of groupOf) groupRanks.set(g, (groupRanks.get(g) ?? 0) + 1);
  const rankLoad = plans.map(() => 0);
  const groupLoad = new Map<number, number>();
  const give = (p: PlannedPiece, r: number) => {
    p.writer = r;
    rankLoad[r]! += p.bytes;
    groupLoad.set(groupOf[r]!, (groupLoad.get(groupOf[r]!) ?? 0) + p.bytes);
  };
  for (const p of all) if (p.holders.length === 1) give(p, p.holders[0]!);
  for (const p of all) {
    if (p.holders.length === 1) continue;
    let best = -1;
    let bestKey: [number, number] = [Infinity, Infinity];
    for (const r of [...p.holders].sort((a, b) => a - b)) {
      const g = groupOf[r]!;
      const k: [number, number] = [(groupLoad.get(g) ?? 0) / groupRanks.get(g)!, rankLoad[r]!];
      if (k[0] < bestKey[0] || (k[0] === bestKey[0] && k[1] < bestKey[1])) {
        best = r;
        bestKey = k;
      }
    }
    give(p, best);
  }
  return all.map(({ replicas: _r, replicaIds: _i, ...p }) => p);
}

/** Refuses pieces that do not fit their global shape. */
function checkPiece(p: ShardedTensor, rank: number): void {
  const where = `'${p.key}' on rank ${rank}`;
  const n = p.globalShape.length;
  if (p.dtype !== 'f32') throw new Error(`${where}: dtype ${String(p.dtype)} is not supported (f32 only)`);
  if (p.offset.length !== n || p.localShape.length !== n) throw new Error(`${where}: offset and shape must have ${n} dims`);
  for (let d = 0; d < n; d++) {
    const [g, o, s] = [p.globalShape[d]!, p.offset[d]!, p.localShape[d]!];
    if (![g, o, s].every((x) => Number.isSafeInteger(x) && x >= 0) || o + s > g) {
      throw new Error(`${where}: piece [${p.offset}]+[${p.localShape}] outside global shape [${p.globalShape}]`);
    }
  }
  if (!Number.isSafeInteger(p.replicas) || p.replicas < 1 || !Number.isSafeInteger(p.replicaId) || p.replicaId < 0 || p.replicaId >= p.replicas) {
    throw new Error(`${where}: replicaId ${p.replicaId} of ${p.replicas} replicas`);
  }
}

/** Proves that `boxes` tile a global shape exactly: no overlap and total volume equal. */
export function checkTiling(key: string, globalShape: number[], boxes: Box[]): void {
  let total = 0;
  for (let i = 0; i < boxes.length; i++) {
    total += volume(boxes[i]!.shape);
    for (let j = 0; j < i; j++) {
      if (intersect(boxes[i]!, boxes[j]!) !== undefined) {
        throw new Error(`'${key}': pieces at [${boxes[j]!.offset}] and [${boxes[i]!.offset}] overlap`);
      }
    }
  }
  if (total !== volume(globalShape)) {
    throw new Error(`'${key}': pieces cover ${total} of ${volume(globalShape)} elements of [${globalShape}]`);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
