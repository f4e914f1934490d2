#!/usr/bin/env node
// The `furnace` command: dispatches to one module per subcommand under src/cli/commands/.
import { InputError, CheckError } from '../util/errors.js';
import { type Command } from './util.js';

const commands: Record<string, string> = {
  train: 'train a (MoE) language model on a corpus',
  eval: 'bits per byte of a text under a trained model',
  generate: 'sample text from a trained model',
  bench: 'measure kernels, communication, checkpoints or data throughput',
  doctor: 'which kernel and communication backends are available here',
  plan: 'search hybrid-parallel plans for a model on a cluster',
  data: 'clean, deduplicate and tokenize corpora',
  tokenizer: 'train a byte-level BPE tokenizer',
  ckpt: 'verify, inspect and export sharded checkpoints',
  discover: 'discover a PDE from data by sparse regression',
  pinn: 'train a physics-informed network',
  dashboard: 'serve the local web dashboard',
  cluster: 'emulate a multi-node cluster on this machine (network namespaces) for MPI runs',
};

function usage(): string {
  const w = Math.max(...Object.keys(commands).map((k) => k.length));
  return ['usage: furnace <command> [options]   (every command takes --json)', '',
    ...Object.entries(commands).map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (!(name in commands)) throw new InputError(`unknown command '${name}'\n${usage()}`);
  let mod: { run?: Command };
  try {
    mod = (await import(`./commands/${name}.js`)) as { run?: Command };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(e).includes(`commands/${name}.js`)) {
      throw new CheckError(`command '${name}' is not available in this build`);
    }
    throw e;
  }
  if (typeof mod.run !== 'function') throw new CheckError(`command '${name}' has no entry point`);
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    if (e instanceof InputError) {
      process.stderr.write(`furnace: ${e.message}\n`);
      process.exitCode = 2;
    } else if (e instanceof CheckError) {
      process.stderr.write(`furnace: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      const err = e as Error;
      process.stderr.write(`furnace: internal error: ${err?.message ?? String(e)}\n`);
      if (process.env['FURNACE_DEBUG']) process.stderr.write(`${err?.stack ?? ''}\n`);
      process.exitCode = 1;
    }
  },
);
