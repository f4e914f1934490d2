// The few WebAssembly JS-API types comm needs (lib "ES2022" has none), typed at one boundary.

/** A shared WebAssembly.Memory: its buffer is a SharedArrayBuffer that grows in 64 KiB pages. */
export interface SharedMemory {
  readonly buffer: SharedArrayBuffer;
  /** Grows by `pages`; returns the old size in pages. Views of shared memory stay valid. */
  grow(pages: number): number;
}

interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: true }) => SharedMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}

export const wasm: WasmApi = Reflect.get(globalThis, 'WebAssembly') as WasmApi;

export const PAGE = 65536;

/** A new shared memory of `bytes` (rounded up to pages), growable to 4 GiB. */
export function sharedMemory(bytes: number): SharedMemory {
  return new wasm.Memory({ initial: Math.ceil(bytes / PAGE), maximum: 65536, shared: true });
}
