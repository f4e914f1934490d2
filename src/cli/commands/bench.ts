// `furnace bench <what>`: each benchmark lives beside the code it measures; this only dispatches.
import { InputError } from '../../util/errors.js';
import { type Command } from '../util.js';

const benches: Record<string, { module: string; summary: string }> = {
  kernels: { module: '../../backends/bench.js', summary: 'GEMM GFLOP/s and an MLP step per backend, beside tfjs-wasm and raw cblas' },
  step: { module: '../../train/bench-step.js', summary: 'one training step, kernel by kernel (GEMMs by shape), against the framework' },
  comm: { module: '../../comm/bench.js', summary: 'collective bandwidth per communication backend' },
  ckpt: { module: '../../checkpoint/bench.js', summary: 'checkpoint save/load bandwidth beside the disk' },
  data: { module: '../../data/bench.js', summary: 'cleaning and tokenizer throughput' },
  sciml: { module: '../../sciml/bench.js', summary: 'PDE data, discovery and PINN evaluation speed' },
  plan: { module: '../../planner/bench.js', summary: 'plan search time (GPT-3 on A100, BaGuaLu on Sunway)' },
};

export const run: Command = async (argv) => {
  const [what, ...rest] = argv;
  const entry = what === undefined ? undefined : benches[what];
  if (entry === undefined) {
    const list = Object.entries(benches).map(([k, v]) => `  ${k.padEnd(8)} ${v.summary}`).join('\n');
    throw new InputError(`bench: choose one of ${Object.keys(benches).join(', ')}\n${list}`);
  }
  const mod = (await import(entry.module)) as { run: Command };
  return mod.run(rest);
};
