// A small x86-64 assembler: the instructions furnace's generated GEMM kernels use, encoded to bytes.
//
// Encodings from the Intel SDM vol. 2 (ch. 2.1 REX/ModRM/SIB, 2.3 VEX, 2.7 EVEX). Memory operands
// always use a 32-bit displacement when the displacement is not 0 (no EVEX disp8*N compression:
// one rule for every instruction, at a few bytes per instruction). Registers are numbers:
// general-purpose 0..15 (rax rcx rdx rbx rsp rbp rsi rdi r8..r15), zmm/ymm 0..31, opmask k0..k7.

export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
export const R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;

/** [base + index * scale + disp]. */
export interface Mem { base: number; index?: number; scale?: 1 | 2 | 4 | 8; disp?: number }
export const mem = (base: number, disp = 0, index?: number, scale: 1 | 2 | 4 | 8 = 1): Mem =>
  index === undefined ? { base, disp } : { base, disp, index, scale };

/** Vector length of a VEX/EVEX instruction: 256 (ymm, AVX2) or 512 (zmm, AVX-512). */
export type VecBits = 256 | 512;

interface Operand { reg: number } // a register in the ModRM.rm slot

/** Opcode map (0F, 0F38), mandatory prefix (none, 66, F3, F2) and W bit of a vector instruction. */
interface VecOp { map: 1 | 2; pp: 0 | 1 | 2 | 3; opcode: number; w?: 1 }
const VMOVUPS_LOAD: VecOp = { map: 1, pp: 0, opcode: 0x10 };
const VMOVUPS_STORE: VecOp = { map: 1, pp: 0, opcode: 0x11 };
const VMULPS: VecOp = { map: 1, pp: 0, opcode: 0x59 };
const VBROADCASTSS: VecOp = { map: 2, pp: 1, opcode: 0x18 };
const VFMADD231PS: VecOp = { map: 2, pp: 1, opcode: 0xb8 };
const VPXORD: VecOp = { map: 1, pp: 1, opcode: 0xef }; // EVEX: vpxord; VEX: vpxor
// AVX512_BF16 (EVEX only): dot products of bf16 pairs into float32, and float32 -> bf16 with round to nearest even.
const VDPBF16PS: VecOp = { map: 2, pp: 2, opcode: 0x52 };
const VCVTNE2PS2BF16: VecOp = { map: 2, pp: 3, opcode: 0x72 };
// AVX (VEX only): loads and stores of the lanes whose mask lane has its sign bit set; other lanes load as 0, store nothing.
const VMASKMOVPS_LOAD: VecOp = { map: 2, pp: 1, opcode: 0x2c };
const VMASKMOVPS_STORE: VecOp = { map: 2, pp: 1, opcode: 0x2e };
// AVX512BW: word permute.
const VPERMW: VecOp = { map: 2, pp: 1, opcode: 0x8d, w: 1 };
// Element-wise float32 arithmetic (the native element-wise kernels; EVEX forms used with zmm).
const ARITH = {
  add: { map: 1, pp: 0, opcode: 0x58 }, sub: { map: 1, pp: 0, opcode: 0x5c }, mul: { map: 1, pp: 0, opcode: 0x59 },
  div: { map: 1, pp: 0, opcode: 0x5e }, min: { map: 1, pp: 0, opcode: 0x5d }, max: { map: 1, pp: 0, opcode: 0x5f },
  // AVX-512F: a * 2^floor(b) (exact, overflow to inf, underflow to 0 or subnormal).
  scalef: { map: 2, pp: 1, opcode: 0x2c },
  // dst = dst * a + b, one rounding.
  fmadd213: { map: 2, pp: 1, opcode: 0xa8 },
} as const satisfies Record<string, VecOp>;
export type ArithOp = keyof typeof ARITH;
const VMOVAPS: VecOp = { map: 1, pp: 0, opcode: 0x28 };
// AVX-512F gather of float32 by 32-bit indices (VSIB: the SIB index names a zmm register).
const VGATHERDPS: VecOp = { map: 2, pp: 1, opcode: 0x92 };

export class Assembler {
  private readonly out: number[] = [];
  /** Label name -> byte offset, and the rel32 fields waiting for a label. */
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string }[] = [];

  get length(): number {
    return this.out.length;
  }

  /** The finished code; throws when a jump names a label that was never placed. */
  bytes(): Uint8Array {
    for (const f of this.fixups) {
      const target = this.labels.get(f.label);
      if (target === undefined) throw new Error(`x86 assembler: label '${f.label}' never placed`);
      this.write32(f.at, target - (f.at + 4));
    }
    return Uint8Array.from(this.out);
  }

  /**
   * `for (reg = [count]; reg != 0; reg--) body()`, skipped when the count is 0: the counted loop of
   * every generated kernel. Places the labels `name` (the top) and `name.end`.
   */
  countedLoop(reg: number, count: Mem, name: string, body: () => void): void {
    this.load(reg, count);
    this.test(reg, reg);
    this.jz(`${name}.end`);
    this.label(name);
    body();
    this.dec(reg);
    this.jnz(name);
    this.label(`${name}.end`);
  }

  label(name: string): void {
    if (this.labels.has(name)) throw new Error(`x86 assembler: label '${name}' placed twice`);
    this.labels.set(name, this.out.length);
  }

  private write32(at: number, v: number): void {
    for (let i = 0; i < 4; i++) this.out[at + i] = (v >>> (8 * i)) & 0xff;
  }

  private emit(...b: number[]): void {
    this.out.push(...b);
  }

  /** ModRM (+ SIB + displacement) for `reg` (low 3 bits used) and an operand. */
  private modrm(reg: number, rm: Mem | Operand): void {
    if ('reg' in rm) {
      this.emit(0xc0 | ((reg & 7) << 3) | (rm.reg & 7));
      return;
    }
    const disp = rm.disp ?? 0;
    if (rm.index !== undefined && (rm.index & 15) === RSP) throw new Error('x86 assembler: rsp cannot be an index');
    const sib = rm.index !== undefined || (rm.base & 7) === RSP;
    // mod 00 with base rbp/r13 means rip-relative / no base: those bases always take a displacement.
    const mod = disp === 0 && (rm.base & 7) !== RBP ? 0 : 2;
    this.emit((mod << 6) | ((reg & 7) << 3) | (sib ? 4 : rm.base & 7));
    if (sib) {
      const ss = { 1: 0, 2: 1, 4: 2, 8: 3 }[rm.scale ?? 1];
      this.emit((ss << 6) | (((rm.index ?? RSP) & 7) << 3) | (rm.base & 7));
    }
    if (mod === 2) {
      this.emit(0, 0, 0, 0);
      this.write32(this.out.length - 4, disp);
    }
  }

  /** Bit 3 of the index (X) and of the base or rm register (B), for REX/VEX/EVEX. */
  private static xb(rm: Mem | Operand): [number, number] {
    if ('reg' in rm) return [(rm.reg >> 4) & 1, (rm.reg >> 3) & 1];
    return [((rm.index ?? 0) >> 3) & 1, (rm.base >> 3) & 1];
  }

  /** REX.W instruction: opcode bytes, ModRM.reg = `reg` (a register or an opcode extension). */
  private rexW(opcode: number[], reg: number, rm: Mem | Operand): void {
    const [x, b] = 'reg' in rm ? [0, (rm.reg >> 3) & 1] : Assembler.xb(rm);
    this.emit(0x48 | (((reg >> 3) & 1) << 2) | (x << 1) | b, ...opcode);
    this.modrm(reg, rm);
  }

  /**
   * EVEX.512 (or .256) instruction (SDM 2.7.1): 62, P0 = R X B R' 0 0 m m (inverted R X B R'),
   * P1 = W vvvv 1 pp (vvvv inverted), P2 = z L'L b V' aaa (V' inverted).
   */
  private evex(op: VecOp, bits: VecBits, reg: number, v: number, rm: Mem | Operand, o: { k?: number; z?: boolean; bcst?: boolean } = {}): void {
    const [x, b] = Assembler.xb(rm);
    const p0 = ((~reg >> 3) & 1) << 7 | ((~x & 1) << 6) | ((~b & 1) << 5) | (((~reg >> 4) & 1) << 4) | op.map;
    const p1 = ((op.w ?? 0) << 7) | (((~v) & 15) << 3) | 4 | op.pp;
    const p2 = ((o.z === true ? 1 : 0) << 7) | ((bits === 512 ? 2 : 1) << 5) | ((o.bcst === true ? 1 : 0) << 4) |
      (((~v >> 4) & 1) << 3) | (o.k ?? 0);
    this.emit(0x62, p0, p1, p2, op.opcode);
    this.modrm(reg, rm);
  }

  /** Three-byte VEX instruction (SDM 2.3.5): C4, R X B m-mmmm (inverted R X B), W vvvv L pp (vvvv inverted). */
  private vex(op: VecOp, l: 0 | 1, reg: number, v: number, rm: Mem | Operand): void {
    if (reg > 15 || v > 15 || ('reg' in rm && rm.reg > 15)) throw new Error('x86 assembler: VEX reaches registers 0..15 only');
    const [x, b] = Assembler.xb(rm);
    this.emit(0xc4, (((~reg >> 3) & 1) << 7) | ((~x & 1) << 6) | ((~b & 1) << 5) | op.map, (((~v) & 15) << 3) | (l << 2) | op.pp,
      op.opcode);
    this.modrm(reg, rm);
  }

  /** AVX-512 encodes with EVEX; 256-bit (AVX2) with VEX, which has no masks, broadcast operands or registers above 15. */
  private vec(op: VecOp, bits: VecBits, reg: number, v: number, rm: Mem | Operand, o: { k?: number; z?: boolean; bcst?: boolean } = {}): void {
    if (bits === 512) this.evex(op, bits, reg, v, rm, o);
    else {
      if (o.k !== undefined || o.bcst === true) throw new Error('x86 assembler: masks and broadcast operands need EVEX (512)');
      this.vex(op, 1, reg, v, rm);
    }
  }

  // --- general-purpose ---
  push(r: number): void { if (r > 7) this.emit(0x41); this.emit(0x50 + (r & 7)); }
  pop(r: number): void { if (r > 7) this.emit(0x41); this.emit(0x58 + (r & 7)); }
  ret(): void { this.emit(0xc3); }
  /** mov dst, src (64-bit registers). */
  movRR(dst: number, src: number): void { this.rexW([0x89], src, { reg: dst }); }
  /** mov dst, qword [m]. */
  load(dst: number, m: Mem): void { this.rexW([0x8b], dst, m); }
  /** lea dst, [m]. */
  lea(dst: number, m: Mem): void { this.rexW([0x8d], dst, m); }
  /** add dst, src. */
  addRR(dst: number, src: number): void { this.rexW([0x01], src, { reg: dst }); }
  /** add dst, qword [m]. */
  addRM(dst: number, m: Mem): void { this.rexW([0x03], dst, m); }
  /** add dst, imm32 (sign-extended). */
  addRI(dst: number, imm: number): void {
    this.rexW([0x81], 0, { reg: dst });
    this.emit(0, 0, 0, 0);
    this.write32(this.out.length - 4, imm);
  }
  dec(r: number): void { this.rexW([0xff], 1, { reg: r }); }
  test(a: number, b: number): void { this.rexW([0x85], b, { reg: a }); }
  /** jnz / jz / jmp to a label (rel32, resolved in bytes()). */
  jnz(label: string): void { this.jump([0x0f, 0x85], label); }
  jz(label: string): void { this.jump([0x0f, 0x84], label); }
  jmp(label: string): void { this.jump([0xe9], label); }
  /** jg: jump when the last result was greater than zero, signed (after dec: the counter was above 1). */
  jg(label: string): void { this.jump([0x0f, 0x8f], label); }
  private jump(opcode: number[], label: string): void {
    this.emit(...opcode, 0, 0, 0, 0);
    this.fixups.push({ at: this.out.length - 4, label });
  }

  // --- opmask ---
  /** kmovw k, word [m] (VEX.L0.0F.W0 90 /r). */
  kmovwLoad(k: number, m: Mem): void { this.vex({ map: 1, pp: 0, opcode: 0x90 }, 0, k, 0, m); }

  // --- vector ---
  /** vmovups reg, [m] (optionally under mask k, zeroing the masked-off lanes). */
  vmovupsLoad(bits: VecBits, reg: number, m: Mem, k?: number): void {
    this.vec(VMOVUPS_LOAD, bits, reg, 0, m, k === undefined ? {} : { k, z: true });
  }
  /** vmovups [m], reg (optionally under mask k: masked-off lanes of memory are left as they are). */
  vmovupsStore(bits: VecBits, m: Mem, reg: number, k?: number): void {
    this.vec(VMOVUPS_STORE, bits, reg, 0, m, k === undefined ? {} : { k });
  }
  /** vbroadcastss reg, dword [m]. */
  vbroadcastss(bits: VecBits, reg: number, m: Mem): void { this.vec(VBROADCASTSS, bits, reg, 0, m); }
  /** vfmadd231ps dst, a, b: dst += a * b; b a register or memory (with `bcst`, one float broadcast: {1to16}). */
  vfmadd231ps(bits: VecBits, dst: number, a: number, b: number | Mem, bcst = false): void {
    this.vec(VFMADD231PS, bits, dst, a, typeof b === 'number' ? { reg: b } : b, { bcst });
  }
  /** vmulps dst, a, b. */
  vmulps(bits: VecBits, dst: number, a: number, b: number): void { this.vec(VMULPS, bits, dst, a, { reg: b }); }
  /**
   * v{add,sub,mul,div,min,max,scalef}ps dst, a, b: dst = a op b per lane (zmm registers); fmadd213:
   * dst = dst * a + b. min/max return b when either is NaN (the SDM's rule): clamp with the input as b to keep NaN.
   */
  arith(op: ArithOp, dst: number, a: number, b: number): void { this.evex(ARITH[op], 512, dst, a, { reg: b }); }
  /** vmovaps dst, src (zmm registers). */
  vmovaps(dst: number, src: number): void { this.evex(VMOVAPS, 512, dst, 0, { reg: src }); }
  /** dst = 0 (vpxord dst, dst, dst; vpxor with VEX). */
  vzero(bits: VecBits, dst: number): void { this.vec(VPXORD, bits, dst, dst, { reg: dst }); }
  vzeroupper(): void { this.emit(0xc5, 0xf8, 0x77); }
  /** vmaskmovps ymm dst, ymm mask, [m] (AVX): lanes whose mask sign bit is clear load as 0 and are not read (no fault). */
  vmaskmovpsLoad(dst: number, mask: number, m: Mem): void { this.vex(VMASKMOVPS_LOAD, 1, dst, mask, m); }
  /** vmaskmovps [m], ymm mask, ymm src (AVX): only lanes whose mask sign bit is set are written. */
  vmaskmovpsStore(m: Mem, mask: number, src: number): void { this.vex(VMASKMOVPS_STORE, 1, src, mask, m); }

  /**
   * vgatherdps zmm dst{k}, [base + zmm index * scale + disp]: lane i loads from base + index.i32[i] * scale
   * where mask k has bit i set, and the instruction clears k as it goes (reload it before the next
   * gather); masked-off lanes keep dst and are not read. index is zmm 0..15 (EVEX.V' stays 1) and not
   * zmm4 (the SIB index 100 means none), dst differs from it, k is 1..7.
   */
  vgatherdps(dst: number, m: Mem, k: number): void {
    if (m.index === undefined || m.index > 15 || m.index === dst || k < 1 || k > 7) throw new Error('x86 assembler: vgatherdps needs an index zmm 0..15 other than dst, and a mask k1..k7');
    this.evex(VGATHERDPS, 512, dst, 0, m, { k });
  }

  // --- AVX-512 bf16 (EVEX only) ---
  /**
   * vdpbf16ps dst, a, b (zmm): dst.f32[i] += a.bf16[2i] b.bf16[2i] + a.bf16[2i+1] b.bf16[2i+1], the
   * products exact and the sum in float32 (Intel SDM, VDPBF16PS; denormal inputs and outputs are zero).
   */
  vdpbf16ps(dst: number, a: number, b: number | Mem, bcst = false): void {
    this.evex(VDPBF16PS, 512, dst, a, typeof b === 'number' ? { reg: b } : b, { bcst });
  }
  /** vcvtne2ps2bf16 dst, hi, lo (zmm): dst.bf16[0..15] = bf16(lo.f32[0..15]), dst.bf16[16..31] = bf16(hi.f32[0..15]). */
  vcvtne2ps2bf16(dst: number, hi: number, lo: number): void { this.evex(VCVTNE2PS2BF16, 512, dst, hi, { reg: lo }); }
  /** vpermw dst, index, src (zmm): dst.u16[i] = src.u16[index.u16[i] & 31]. */
  vpermw(dst: number, index: number, src: number): void { this.evex(VPERMW, 512, dst, index, { reg: src }); }
}
