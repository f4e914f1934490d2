// Machine code furnace writes itself, made callable: a private mapping written READ|WRITE, then switched to READ|EXEC.
//
// No page is ever writable and executable at once (W^X): the bytes are copied in while the mapping is
// READ|WRITE, and mprotect turns it READ|EXEC before the first call. x86-64 Linux only.
import { createRequire } from 'node:module';

export type Koffi = typeof import('koffi');

// Linux x86-64 values (asm-generic/mman-common.h).
const PROT_READ = 0x1, PROT_WRITE = 0x2, PROT_EXEC = 0x4, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20;
const MAP_FAILED = (1n << 64n) - 1n;
const PAGE = 4096;

/** koffi, or the reason it does not load. */
export function loadKoffi(): Koffi | string {
  try {
    return createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    return `koffi FFI not loadable: ${(e as Error).message.split('\n')[0]}`;
  }
}

interface Libc {
  mmap: (...args: unknown[]) => unknown;
  mprotect: (...args: unknown[]) => unknown;
  munmap: (...args: unknown[]) => unknown;
}

let libc: Libc | undefined;

function loadLibc(koffi: Koffi): Libc {
  if (libc !== undefined) return libc;
  for (const name of ['libc.so.6', 'libc.so']) {
    let lib: ReturnType<Koffi['load']>;
    try {
      lib = koffi.load(name);
    } catch {
      continue; // try the next name
    }
    return (libc = {
      mmap: lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
      mprotect: lib.func('int mprotect(void *addr, size_t length, int prot)'),
      munmap: lib.func('int munmap(void *addr, size_t length)'),
    });
  }
  throw new Error('libc not loadable (tried libc.so.6, libc.so)');
}

/** One block of machine code in its own READ|EXEC mapping; `release` unmaps it (no call may follow). */
export class ExecutableCode {
  /** The mapping's start, as koffi's pointer value (what koffi.call takes). */
  readonly pointer: unknown;
  /** The mapping's start address and length in bytes (whole pages). */
  readonly address: bigint;
  readonly bytes: number;
  private released = false;

  constructor(private readonly koffi: Koffi, code: ArrayLike<number>) {
    const c = loadLibc(koffi);
    this.bytes = Math.max(1, Math.ceil(code.length / PAGE)) * PAGE;
    const mem = c.mmap(null, this.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem === null || koffi.address(mem) === MAP_FAILED) throw new Error(`mmap refused (errno ${koffi.errno()})`);
    try {
      new Uint8Array(koffi.view(mem, code.length)).set(code);
      if (c.mprotect(mem, this.bytes, PROT_READ | PROT_EXEC) !== 0) {
        throw new Error(`mprotect(READ|EXEC) refused (errno ${koffi.errno()})`);
      }
    } catch (e) {
      c.munmap(mem, this.bytes);
      throw e;
    }
    this.pointer = mem;
    this.address = koffi.address(mem);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    loadLibc(this.koffi).munmap(this.pointer, this.bytes);
  }
}
