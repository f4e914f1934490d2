// The assembler's bytes against GNU as (`as` with {disp32}/{vex3}, the same encoding choices), instruction by instruction.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Assembler, mem, RAX, RBP, RBX, RCX, RDI, RSI, RSP, R8, R9, R10, R11, R12, R13, R14 } from './x86-asm.js';

const hex = (f: (a: Assembler) => void): string => {
  const a = new Assembler();
  f(a);
  return Buffer.from(a.bytes()).toString('hex');
};

const CASES: [string, string, (a: Assembler) => void][] = [
  ['push r12', '4154', (a) => a.push(R12)],
  ['pop rbx', '5b', (a) => a.pop(RBX)],
  ['mov r14, rsi', '4989f6', (a) => a.movRR(R14, RSI)],
  ['mov r8, [rcx+8]', '4c8b8108000000', (a) => a.load(R8, mem(RCX, 8))],
  ['mov r13, [r13]', '4d8bad00000000', (a) => a.load(R13, mem(R13))],
  ['mov rax, [r12+16]', '498b842410000000', (a) => a.load(RAX, mem(R12, 16))],
  ['mov rax, [rbp]', '488b8500000000', (a) => a.load(RAX, mem(RBP))],
  ['mov rax, [rsp+8]', '488b842408000000', (a) => a.load(RAX, mem(RSP, 8))],
  ['lea r10, [r8+r8*2]', '4f8d1440', (a) => a.lea(R10, mem(R8, 0, R8, 2))],
  ['add r9, r12', '4d01e1', (a) => a.addRR(R9, R12)],
  ['add rdi, [rcx+80]', '4803b950000000', (a) => a.addRM(RDI, mem(RCX, 80))],
  ['add r11, 256', '4981c300010000', (a) => a.addRI(R11, 256)],
  ['dec r13', '49ffcd', (a) => a.dec(R13)],
  ['test rax, rax', '4885c0', (a) => a.test(RAX, RAX)],
  ['kmovw k4, [r9+78]', 'c4c17890a14e000000', (a) => a.kmovwLoad(4, mem(R9, 78))],
  ['vmovups zmm27, [r11+192]', '62417c48109bc0000000', (a) => a.vmovupsLoad(512, 27, mem(R11, 192))],
  ['vmovups zmm3{k2}{z}, [r9+64]', '62d17cca109940000000', (a) => a.vmovupsLoad(512, 3, mem(R9, 64), 2)],
  ['vmovups [rax+128]{k3}, zmm17', '62e17c4b118880000000', (a) => a.vmovupsStore(512, mem(RAX, 128), 17, 3)],
  ['vbroadcastss zmm28, [r9+r8*2]', '62027d48182441', (a) => a.vbroadcastss(512, 28, mem(R9, 0, R8, 2))],
  ['vbroadcastss zmm30, [rcx+56]', '62627d4818b138000000', (a) => a.vbroadcastss(512, 30, mem(RCX, 56))],
  ['vfmadd231ps zmm23, zmm27, zmm29', '62822540b8fd', (a) => a.vfmadd231ps(512, 23, 27, 29)],
  ['vfmadd231ps zmm0, zmm12, zmm13 (as in the FMA probe)', '62d21d48b8c5', (a) => a.vfmadd231ps(512, 0, 12, 13)],
  ['vfmadd231ps zmm5, zmm24, [r9+r8*1]{1to16}', '62923d50b82c01', (a) => a.vfmadd231ps(512, 5, 24, mem(R9, 0, R8, 1), true)],
  ['vmulps zmm17, zmm17, zmm30', '6281744059ce', (a) => a.vmulps(512, 17, 17, 30)],
  ['vpxord zmm21, zmm21, zmm21', '62a15540efed', (a) => a.vzero(512, 21)],
  ['vaddps zmm2, zmm2, zmm31', '62916c4858d7', (a) => a.arith('add', 2, 2, 31)],
  ['vsubps zmm7, zmm31, zmm4', '62f104405cfc', (a) => a.arith('sub', 7, 31, 4)],
  ['vdivps zmm4, zmm31, zmm4', '62f104405ee4', (a) => a.arith('div', 4, 31, 4)],
  ['vminps zmm2, zmm2, zmm18', '62b16c485dd2', (a) => a.arith('min', 2, 2, 18)],
  ['vmaxps zmm2, zmm2, zmm19', '62b16c485fd3', (a) => a.arith('max', 2, 2, 19)],
  ['vmovaps zmm4, zmm25', '62917c4828e1', (a) => a.vmovaps(4, 25)],
  ['vfmadd213ps zmm4, zmm2, zmm26', '62926d48a8e2', (a) => a.arith('fmadd213', 4, 2, 26)],
  ['vscalefps zmm4, zmm4, zmm3', '62f25d482ce3', (a) => a.arith('scalef', 4, 4, 3)],
  ['vmulps zmm0, zmm7, zmm8', '62d1444859c0', (a) => a.arith('mul', 0, 7, 8)],
  ['vgatherdps zmm1{k1}, [r9+zmm8*4]', '62927d49920c81', (a) => a.vgatherdps(1, mem(R9, 0, 8, 4), 1)],
  ['vgatherdps zmm3{k4}, [rdi+zmm11*4]', '62b27d4c921c9f', (a) => a.vgatherdps(3, mem(RDI, 0, 11, 4), 4)],
  ['vmovups ymm12, [r11+32]', 'c4417c10a320000000', (a) => a.vmovupsLoad(256, 12, mem(R11, 32))],
  ['vbroadcastss ymm15, [r10+r8*2]', 'c4027d183c42', (a) => a.vbroadcastss(256, 15, mem(R10, 0, R8, 2))],
  ['vfmadd231ps ymm11, ymm12, ymm15', 'c4421db8df', (a) => a.vfmadd231ps(256, 11, 12, 15)],
  ['vpxor ymm10, ymm10, ymm10', 'c4412defd2', (a) => a.vzero(256, 10)],
  ['vzeroupper', 'c5f877', (a) => a.vzeroupper()],
  ['vdpbf16ps zmm5, zmm24, zmm28', '62923e4052ec', (a) => a.vdpbf16ps(5, 24, 28)],
  ['vdpbf16ps zmm0, zmm12, zmm13', '62d21e4852c5', (a) => a.vdpbf16ps(0, 12, 13)],
  ['vdpbf16ps zmm5, zmm24, [r9+r8*1]{1to16}', '62923e50522c01', (a) => a.vdpbf16ps(5, 24, mem(R9, 0, R8, 1), true)],
  ['vcvtne2ps2bf16 zmm20, zmm17, zmm9', '62c2774072e1', (a) => a.vcvtne2ps2bf16(20, 17, 9)],
  ['vmaskmovps ymm12, ymm13, [rax+32]', 'c462152ca020000000', (a) => a.vmaskmovpsLoad(12, 13, mem(RAX, 32))],
  ['vmaskmovps [rax+32], ymm13, ymm3', 'c4e2152e9820000000', (a) => a.vmaskmovpsStore(mem(RAX, 32), 13, 3)],
  ['vmaskmovps [r10], ymm13, ymm11', 'c442152e1a', (a) => a.vmaskmovpsStore(mem(R10), 13, 11)],
  ['vpermw zmm4, zmm31, zmm4', '62f285408de4', (a) => a.vpermw(4, 31, 4)],
  ['vpermw zmm20, zmm30, zmm12', '62c28d408de4', (a) => a.vpermw(20, 30, 12)],
];

describe('x86-64 assembler', () => {
  for (const [src, want, f] of CASES) {
    it(src, () => assert.equal(hex(f), want));
  }

  it('resolves jumps backwards and forwards (rel32 from the end of the instruction)', () => {
    // top: dec rdi; jnz top; jz end; ret; end:  -> jnz rel32 = -(3 + 6), jz rel32 = +1 (the ret)
    assert.equal(hex((a) => { a.label('top'); a.dec(RDI); a.jnz('top'); a.jz('end'); a.ret(); a.label('end'); }),
      '48ffcf' + '0f85f7ffffff' + '0f8401000000' + 'c3');
  });

  it('refuses what it cannot encode', () => {
    assert.throws(() => hex((a) => a.jnz('nowhere')), /label 'nowhere' never placed/);
    assert.throws(() => hex((a) => a.vfmadd231ps(256, 16, 0, 1)), /VEX reaches registers 0\.\.15/);
    assert.throws(() => hex((a) => a.vmovupsLoad(256, 1, mem(R10), 1)), /need EVEX/);
    assert.throws(() => hex((a) => a.load(RAX, mem(RAX, 0, RSP, 2))), /rsp cannot be an index/);
  });
});
