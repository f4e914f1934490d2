// The WebAssembly JS-API types the kernel backends need (lib "ES2022" declares none), typed at one boundary.

/** A shared WebAssembly.Memory: its buffer is a SharedArrayBuffer; views stay valid across grow. */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  /** Grows by `pages` of 64 KiB; returns the old size in pages; throws RangeError past the maximum. */
  grow(pages: number): number;
}

/** A compiled module: opaque, cloneable to worker threads. */
export interface WasmModule { readonly __wasmModule?: never }

interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: true }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}

export const wasm: WasmApi = Reflect.get(globalThis, 'WebAssembly') as WasmApi;
