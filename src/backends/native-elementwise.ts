// GELU and its gradient as generated AVX-512 loops (16 lanes): the element-wise kernels a training step spends most time in after GEMM.
//
// The same math as the wasm kernels (assembly/simd-math.ts): GELU's tanh form as x sigmoid(2u),
// u = sqrt(2/pi) (x + 0.044715 x^3), with e^w by Cody-Waite reduction w = n ln2 + r, the Cephes expf
// polynomial for e^r, and 2^n applied exactly by vscalefps. w is clamped to [-86.5, 89]: e^89 overflows
// to inf (sigmoid 0), and e^-86.5 is still a normal float, so no subnormal is ever formed.
import { Assembler, mem, RAX, RCX, RDI, RDX, RSI } from './x86-asm.js';

const SQRT_2_OVER_PI = 0.7978845608028654, GELU_C = 0.044715;

/** Constants (float32 at these byte offsets of the parameter block), each broadcast into its register once. */
const CONSTS = {
  one: [64, 1], negA: [68, -2 * SQRT_2_OVER_PI * GELU_C], negB: [72, -2 * SQRT_2_OVER_PI], hi: [76, 89], lo: [80, -86.5],
  log2e: [84, Math.LOG2E], magic: [88, 12582912], negLn2Hi: [92, -0.693359375], negLn2Lo: [96, 2.12194440e-4],
  c0: [100, 1.9875691500e-4], c1: [104, 1.3981999507e-3], c2: [108, 8.3334519073e-3], c3: [112, 4.1665795894e-2],
  c4: [116, 1.6666665459e-1], c5: [120, 5.0000001201e-1], dzA: [124, 6 * SQRT_2_OVER_PI * GELU_C], dzB: [128, 2 * SQRT_2_OVER_PI],
} as const;
type Const = keyof typeof CONSTS;
const REG: Record<Const, number> = { one: 31, negA: 16, negB: 17, hi: 18, lo: 19, log2e: 20, magic: 21, negLn2Hi: 22, negLn2Lo: 23,
  c0: 24, c1: 25, c2: 26, c3: 27, c4: 28, c5: 29, dzA: 30, dzB: 15 };

/**
 * Parameter block: int64 count of full 16-float vectors at 0, the last partial vector's opmask (uint16)
 * at 8, whether there is one (int64) at 16, and the constants. 132 bytes.
 */
export const E = { vectors: 0, tailMask: 8, hasTail: 16, bytes: 132 } as const;

/** Writes the constants into a parameter block (once per block). */
export function writeConsts(block: ArrayBuffer): void {
  const f = new Float32Array(block);
  for (const [at, v] of Object.values(CONSTS)) f[at / 4] = v;
}

/**
 * void kernel(const float *x, const float *dy, float *out, const int64_t *p), System V ABI:
 * out = gelu(x) (dy unused), or with `grad` out = dy gelu'(x), over p.vectors vectors of 16 and a
 * masked last one. gelu'(x) = s + x s (1 - s) dz/dx with s = sigmoid(z), z = 2u.
 */
export function geluKernel(grad: boolean): Uint8Array {
  const a = new Assembler();
  for (const c of Object.keys(CONSTS) as Const[]) a.vbroadcastss(512, REG[c], mem(RCX, CONSTS[c][0]));
  a.kmovwLoad(1, mem(RCX, E.tailMask));
  a.countedLoop(RAX, mem(RCX, E.vectors), 'loop', () => {
    a.vmovupsLoad(512, 0, mem(RDI));
    if (grad) a.vmovupsLoad(512, 8, mem(RSI));
    body(a, grad);
    a.vmovupsStore(512, mem(RDX), 0);
    a.addRI(RDI, 64);
    a.addRI(RSI, 64);
    a.addRI(RDX, 64);
  });
  a.load(RAX, mem(RCX, E.hasTail));
  a.test(RAX, RAX);
  a.jz('done');
  a.vmovupsLoad(512, 0, mem(RDI), 1);
  if (grad) a.vmovupsLoad(512, 8, mem(RSI), 1);
  body(a, grad);
  a.vmovupsStore(512, mem(RDX), 0, 1);
  a.label('done');
  a.vzeroupper();
  a.ret();
  return a.bytes();
}

/** zmm0 = gelu(zmm0), or with grad zmm0 = zmm8 gelu'(zmm0); zmm1..7 scratch. */
function body(a: Assembler, grad: boolean): void {
  const r = REG, X = 0, X2 = 1, W = 2, N = 3, P = 4, R2 = 5, DZ = 6, G = 7, DY = 8;
  a.arith('mul', X2, X, X);
  a.vmovaps(W, r.negB);
  a.vfmadd231ps(512, W, X2, r.negA); // -2 sqrt(2/pi) (1 + 0.044715 x^2)
  a.arith('mul', W, W, X); // w = -z
  a.arith('min', W, r.hi, W); // the input as the second operand: NaN passes
  a.arith('max', W, r.lo, W);
  a.arith('mul', N, W, r.log2e);
  a.arith('add', N, N, r.magic); // rounds to an integer
  a.arith('sub', N, N, r.magic);
  a.vfmadd231ps(512, W, N, r.negLn2Hi); // r = w - n ln2, in two parts
  a.vfmadd231ps(512, W, N, r.negLn2Lo);
  a.vmovaps(P, r.c1);
  a.vfmadd231ps(512, P, W, r.c0);
  for (const c of [r.c2, r.c3, r.c4, r.c5]) a.arith('fmadd213', P, W, c);
  a.arith('mul', R2, W, W);
  a.arith('add', W, W, r.one);
  a.arith('fmadd213', P, R2, W); // e^r = p r^2 + r + 1
  a.arith('scalef', P, P, N); // e^w = e^-z
  a.arith('add', P, P, r.one);
  a.arith('div', P, r.one, P); // s = sigmoid(z)
  if (!grad) {
    a.arith('mul', X, X, P);
    return;
  }
  a.vmovaps(DZ, r.dzB);
  a.vfmadd231ps(512, DZ, X2, r.dzA); // dz/dx
  a.arith('sub', G, r.one, P);
  a.arith('mul', G, G, P);
  a.arith('mul', G, G, X);
  a.arith('fmadd213', G, DZ, P);
  a.arith('mul', X, G, DY);
}
