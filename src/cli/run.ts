// One run of the `furnace` command line, and the exit-code contract in one place:
// 0 success; 1 a check that ran and failed (CheckError) or an internal error; 2 bad input or usage
// (InputError). Errors print one line; a stack trace only with FURNACE_DEBUG=1.
import { CheckError, InputError, UsageError, errnoCode, errorMessage } from '../util/errors.js';
import { HelpRequest, type Command } from './util.js';

export const COMMANDS: Record<string, string> = {
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

/** Commands whose first argument is a subcommand: `see furnace CMD SUB --help` names both. */
const WITH_SUBCOMMANDS = new Set(['bench', 'data', 'tokenizer', 'ckpt']);

export function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return ['usage: furnace <command> [options]   (every command takes --json; every command and subcommand takes --help)', '',
    ...Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n');
}

async function dispatch(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stdout.write(usage() + '\n');
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') throw new HelpRequest(usage());
  if (!Object.hasOwn(COMMANDS, name)) throw new UsageError(`unknown command '${name}' (choose ${Object.keys(COMMANDS).join(', ')})`);
  let mod: { run?: Command };
  try {
    mod = (await import(`./commands/${name}.js`)) as { run?: Command };
  } catch (e) {
    if (errnoCode(e) === 'ERR_MODULE_NOT_FOUND' && String(e).includes(`commands/${name}.js`)) {
      throw new CheckError(`command '${name}' is not available in this build`);
    }
    throw e;
  }
  if (typeof mod.run !== 'function') throw new CheckError(`command '${name}' has no entry point`);
  return mod.run(rest);
}

/** The `furnace ... --help` that an error's see-line points at. */
function helpCommand(argv: readonly string[]): string {
  const [name, sub] = argv;
  if (name === undefined || !Object.hasOwn(COMMANDS, name)) return 'furnace --help';
  if (WITH_SUBCOMMANDS.has(name) && sub !== undefined && /^[a-z][a-z-]*$/.test(sub)) return `furnace ${name} ${sub} --help`;
  return `furnace ${name} --help`;
}

/** What an error prints and the exit code it maps to: the contract, by base class. */
export function reportError(e: unknown, argv: readonly string[]): { code: number; text: string } {
  const debug = process.env['FURNACE_DEBUG'] === '1' && e instanceof Error ? `${e.stack ?? ''}\n` : '';
  // A message is one line; anything after the first line (a usage text) is left to --help.
  const line = (errorMessage(e).split('\n')[0] ?? '').trim();
  if (e instanceof InputError) {
    const see = e instanceof UsageError ? `see \`${helpCommand(argv)}\`\n` : '';
    return { code: 2, text: `furnace: ${line}\n${see}${debug}` };
  }
  if (e instanceof CheckError) return { code: 1, text: `furnace: ${line}\n${debug}` };
  return { code: 1, text: `furnace: internal error: ${line}\n${debug}` };
}

/** Runs the command line in this process: the exit code (never throws). */
export async function runCommand(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (e) {
    if (e instanceof HelpRequest) {
      const firstFlag = argv.findIndex((a) => a.startsWith('-'));
      const words = (firstFlag < 0 ? argv : argv.slice(0, firstFlag)).slice(0, 2); // e.g. 'bench kernels'
      process.stdout.write((e.generated ? `usage: furnace ${words.join(' ')} ${e.usage}` : e.usage).trimEnd() + '\n');
      return 0;
    }
    const r = reportError(e, argv);
    process.stderr.write(r.text);
    return r.code;
  }
}

export interface CliResult { code: number; stdout: string; stderr: string }

/**
 * Runs the command line in this process with stdout and stderr captured (for tests and the
 * fuzzer). One at a time: the capture replaces process.stdout/stderr.write while it runs.
 */
export async function runCli(argv: string[]): Promise<CliResult> {
  let stdout = '', stderr = '';
  const out = process.stdout.write, err = process.stderr.write;
  const capture = (append: (s: string) => void) => ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const cb = rest.find((r): r is () => void => typeof r === 'function');
    if (cb !== undefined) queueMicrotask(cb);
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = capture((s) => { stdout += s; });
  process.stderr.write = capture((s) => { stderr += s; });
  try {
    const code = await runCommand(argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
