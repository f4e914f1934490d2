// SIMD reduction kernels (dst = a + b, dst = max(a, b) over f32) on a shared WebAssembly.Memory.
//
// The module is assembled here from its instructions (about 300 bytes) rather than compiled by
// the build, so that it imports *shared* memory without depending on compiler feature flags and
// loads the same way in worker threads and MPI ranks. Each function reads and writes byte
// offsets into the imported memory; 16 floats per iteration (four 128-bit vectors), then a
// scalar tail. f32x4.max and f32.max propagate NaN, as the JS reference does.

import { wasm, type SharedMemory } from './wasm.js';

const op = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b, void: 0x40,
  localGet: 0x20, localSet: 0x21, i32Const: 0x41,
  i32Add: 0x6a, i32And: 0x71, i32Shl: 0x74, i32GeU: 0x4f,
  f32Load: 0x2a, f32Store: 0x38, f32Add: 0x92, f32Max: 0x97,
  simd: 0xfd, v128Load: 0x00, v128Store: 0x0b, f32x4Add: 228, f32x4Max: 233,
} as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

/** Body of f(dst, a, b, n) with locals i (4), end16 (5), end (6), all in bytes. */
function body(vectorOp: number, scalarOp: number): number[] {
  const get = (l: number) => [op.localGet, l];
  const set = (l: number) => [op.localSet, l];
  const addr = (p: number) => [...get(p), ...get(4), op.i32Add];
  const lane = (k: number) => [
    ...addr(0),
    ...addr(1), op.simd, op.v128Load, 4, ...uleb(16 * k),
    ...addr(2), op.simd, op.v128Load, 4, ...uleb(16 * k),
    op.simd, ...uleb(vectorOp),
    op.simd, op.v128Store, 4, ...uleb(16 * k),
  ];
  const code = [
    ...get(3), op.i32Const, ...sleb(-16), op.i32And, op.i32Const, 2, op.i32Shl, ...set(5),
    ...get(3), op.i32Const, 2, op.i32Shl, ...set(6),
    op.block, op.void, op.loop, op.void,
    ...get(4), ...get(5), op.i32GeU, op.brIf, 1,
    ...lane(0), ...lane(1), ...lane(2), ...lane(3),
    ...get(4), op.i32Const, ...sleb(64), op.i32Add, ...set(4),
    op.br, 0, op.end, op.end,
    op.block, op.void, op.loop, op.void,
    ...get(4), ...get(6), op.i32GeU, op.brIf, 1,
    ...addr(0),
    ...addr(1), op.f32Load, 2, 0,
    ...addr(2), op.f32Load, 2, 0,
    scalarOp,
    op.f32Store, 2, 0,
    ...get(4), op.i32Const, 4, op.i32Add, ...set(4),
    op.br, 0, op.end, op.end,
    op.end,
  ];
  const locals = [1, 3, 0x7f]; // one group of three i32 locals
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

/** The module's bytes: imports env.memory (shared, up to 4 GiB), exports add_f32 and max_f32. */
export function reduceModuleBytes(): Uint8Array {
  const i32 = 0x7f;
  const type = [0x60, ...vec([[i32], [i32], [i32], [i32]]), 0];
  const memImport = [...str('env'), ...str('memory'), 0x02, 0x03, ...uleb(1), ...uleb(65536)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([type])),
    ...section(2, vec([memImport])),
    ...section(3, vec([[0], [0]])),
    ...section(7, vec([[...str('add_f32'), 0x00, 0], [...str('max_f32'), 0x00, 1]])),
    ...section(10, vec([body(op.f32x4Add, op.f32Add), body(op.f32x4Max, op.f32Max)])),
  ];
  return new Uint8Array(bytes);
}

export interface ReduceKernels {
  /** dst = a (op) b over n floats; all arguments are byte offsets into the memory, except n. */
  add(dst: number, a: number, b: number, n: number): void;
  max(dst: number, a: number, b: number, n: number): void;
}

let compiled: object | undefined;

type Kernel = (dst: number, a: number, b: number, n: number) => void;

/** Instantiates the kernels over `memory` (must be shared, maximum at most 65536 pages). */
export function reduceKernels(memory: SharedMemory): ReduceKernels {
  compiled ??= new wasm.Module(reduceModuleBytes());
  const inst = new wasm.Instance(compiled, { env: { memory } });
  const add = inst.exports['add_f32'];
  const max = inst.exports['max_f32'];
  if (typeof add !== 'function' || typeof max !== 'function') throw new Error('reduce kernels: missing exports');
  return { add: add as Kernel, max: max as Kernel };
}
