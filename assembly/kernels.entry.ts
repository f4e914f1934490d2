// The wasm kernel module: every export the wasm and blas backends call (src/backends/wasm.ts).
export { gemm, gemmScratchFloats } from './gemm';
export { unary, biasActivation, binary, affine, powScalar, fill } from './elementwise';
export { reduce, sumSquares, softmax, logSoftmax, softmaxBackward, logSoftmaxBackward,
  causalSoftmax, causalSoftmaxBackward, rope,
  crossEntropyForward, crossEntropyBackward, rmsnormForward, rmsnormBackward } from './rows';
export { gatherRows, scatterAddRows, permute } from './layout';
export { adamw } from './optim';

/** First byte after the module's static data: the host allocator starts here. */
export function heapBase(): usize {
  return __heap_base;
}
