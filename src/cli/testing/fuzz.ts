// A seeded, reproducible fuzzer of the command line: it mutates valid command lines into bad ones
// (a flag's value, a path, a config field, a missing or unknown argument) and checks the exit-code
// contract on each: exit 2 (or 1 for a failed check), one line on stderr, no trace, no hang.
//   node dist/cli/testing/fuzz.js --seed 1 --cases 300 [--in-process] [--timeout 30] [--keep] [--verbose]
// --in-process is fast but cannot stop a case that hangs; without it each case is a process with a timeout.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../../tensor/random.js';
import { runCli } from '../run.js';
import { BAD_INTS, BAD_NUMS, makeFixtures, type Fixtures } from './bad-inputs.js';

interface Template { argv: string[]; ints: string[]; nums: string[]; outs: string[]; ins: string[] }

function templates(fx: Fixtures): Template[] {
  const o = (n: string): string => join(fx.outDir, n);
  return [
    { argv: ['train', '--preset', 'tiny', '--steps', '2', '--corpus', fx.corpus, '--out', o('run')], ints: ['steps', 'seed', 'log-every', 'batch-size', 'sample-tokens', 'dp', 'tp', 'ep', 'ckpt-every', 'ckpt-keep'], nums: [], outs: ['--out', '--report'], ins: ['--corpus', '--config', '--plan', '--topology', '--resume'] },
    { argv: ['eval', '--ckpt', fx.emptyFolder, '--text', fx.corpus], ints: [], nums: [], outs: [], ins: ['--ckpt', '--text'] },
    { argv: ['generate', '--ckpt', fx.emptyFolder], ints: ['tokens', 'top-k', 'seed'], nums: ['temperature'], outs: [], ins: ['--ckpt'] },
    { argv: ['plan', '--model', 'preset:gpt3-175b', '--cluster', 'preset:a100-selene', '--devices', '1024'], ints: ['devices', 'top'], nums: [], outs: ['--out', '--report'], ins: ['--model', '--cluster', '--machine'] },
    { argv: ['data', 'clean', fx.corpus, '--out', o('clean')], ints: ['bands', 'rows', 'ngram-en', 'ngram-zh', 'max-doc-bytes', 'samples'], nums: ['threshold'], outs: ['--out'], ins: ['--quality-config'] },
    { argv: ['data', 'tokenize', fx.corpus, '--tokenizer', fx.tokenizer, '--out', o('shards')], ints: ['shard-tokens'], nums: [], outs: ['--out'], ins: ['--tokenizer'] },
    { argv: ['tokenizer', 'train', fx.corpus, '--vocab', '260', '--out', o('tok.json')], ints: ['vocab', 'min-frequency'], nums: [], outs: ['--out'], ins: [] },
    { argv: ['tokenizer', 'encode', '--tokenizer', fx.tokenizer, '--text', 'hello'], ints: [], nums: [], outs: [], ins: ['--tokenizer'] },
    { argv: ['ckpt', 'verify', fx.emptyFolder], ints: [], nums: [], outs: [], ins: [] },
    { argv: ['ckpt', 'info', fx.emptyFolder], ints: [], nums: [], outs: [], ins: [] },
    { argv: ['ckpt', 'export', fx.emptyFolder, '--out', o('m.safetensors')], ints: [], nums: [], outs: ['--out'], ins: [] },
    { argv: ['discover', '--problem', 'burgers', '--no-plots', '--bags', '2'], ints: ['max-order', 'max-power', 'bags', 'seed', 'fit-steps'], nums: ['threshold', 'l0', 'lambda', 'noise', 'fit-time'], outs: ['--save'], ins: ['--data'] },
    { argv: ['pinn', '--problem', 'burgers', '--no-plots', '--adam-steps', '1', '--lbfgs-steps', '0', '--collocation', '100'], ints: ['adam-steps', 'lbfgs-steps', 'collocation', 'batch', 'seed'], nums: ['noise', 'time-limit', 'adam-time'], outs: ['--out'], ins: ['--config'] },
    { argv: ['dashboard', '--runs', fx.outDir, '--port', '0', '--host', '0.0.0.0'], ints: ['port'], nums: [], outs: [], ins: ['--runs'] },
  ];
}

/** Config fields of `furnace train` and values none of them should accept. */
const TRAIN_FIELDS = ['model.vocab_size', 'model.seq_len', 'model.d_model', 'model.n_layers', 'model.n_heads', 'model.d_ff', 'model.n_experts',
  'model.top_k', 'model.moe_every', 'model.capacity_factor', 'model.expert_d_ff', 'model.aux_loss_coef', 'model.gate', 'model.position',
  'train.batch_size', 'train.steps', 'train.lr', 'train.min_lr', 'train.warmup_steps', 'train.beta1', 'train.beta2', 'train.eval_batches',
  'train.log_every', 'train.seed', 'train.weight_decay', 'train.grad_clip'];
const BAD_VALUES: unknown[] = [-1, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308, 1.5e14, 'x', '', null, [], {}, true, -0.5, 1e6];
const PINN_FIELDS = ['collocation', 'boundary', 'dataPoints', 'noise', 'widths', 'adamSteps', 'adamLr', 'lbfgsSteps', 'weighting', 'seed', 'batch', 'annealAlpha'];

export interface FuzzCase { id: number; argv: string[]; mutation: string }

/** The cases of a seed: each a template with one or two mutations. */
export function generate(fx: Fixtures, seed: number, n: number): FuzzCase[] {
  const rng = new Rng(seed); // the engine's seeded generator: a seed names the same cases everywhere
  const r = (): number => rng.uniform();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const ts = templates(fx);
  const badPaths = ['/proc/furnace', '/sys/furnace', '', fx.underFile, fx.longName, '/dev/null', fx.file, fx.outDir, join(fx.dir, 'missing'), fx.fifo ?? '/dev/zero', fx.badJson, fx.binary];
  const cases: FuzzCase[] = [];
  for (let id = 0; id < n; id++) {
    const t = pick(ts);
    let argv = [...t.argv];
    const kinds = ['int', 'num', 'out', 'in', 'unknown', 'drop', 'field', 'junk'].filter((k) =>
      (k !== 'int' || t.ints.length > 0) && (k !== 'num' || t.nums.length > 0) && (k !== 'out' || t.outs.length > 0) && (k !== 'in' || t.ins.length > 0)
      && (k !== 'field' || argv[0] === 'train' || argv[0] === 'pinn'));
    const kind = pick(kinds);
    let mutation = kind;
    const set = (flag: string, value: string): void => {
      const i = argv.indexOf(flag);
      if (i >= 0 && i + 1 < argv.length) argv.splice(i, 2);
      argv.push(`${flag}=${value}`);
    };
    if (kind === 'int') { const f = pick(t.ints), v = pick([...BAD_INTS, '-1', String(2 ** 53 + 1)]); set(`--${f}`, v); mutation = `--${f}=${v}`; }
    if (kind === 'num') { const f = pick(t.nums), v = pick([...BAD_NUMS, '-1', '1e308', '-1e308']); set(`--${f}`, v); mutation = `--${f}=${v}`; }
    if (kind === 'out') {
      // A missing path or an existing regular file is a fine output (made, or replaced); a folder is fine where a folder is wanted.
      const f = pick(t.outs);
      const fileOut = f === '--report' || f === '--save' || ['plan', 'tokenizer', 'ckpt'].includes(argv[0]!);
      const v = pick(badPaths.filter((p) => p !== join(fx.dir, 'missing') && ![fx.file, fx.badJson, fx.binary].includes(p) && (p !== fx.outDir || fileOut)));
      set(f, v); mutation = `${f}=${v}`;
    }
    if (kind === 'in') { const f = pick(t.ins), v = pick(badPaths); set(f, v); mutation = `${f}=${v}`; }
    if (kind === 'unknown') { const f = `--${pick(['stepz', 'outt', 'x', 'help-me', 'jsonn'])}`; argv.push(f); mutation = `unknown ${f}`; }
    if (kind === 'drop') {
      // Drop the first positional or required value after the subcommand.
      const start = ['data', 'tokenizer', 'ckpt'].includes(argv[0]!) ? 2 : 1;
      const i = start + Math.floor(r() * Math.max(1, argv.length - start));
      mutation = `drop '${argv[i] ?? ''}'`;
      argv = argv.filter((_, j) => j !== i);
      // Where every argument has a default the rest of the line may be valid: keep the case bad.
      if (['dashboard', 'train', 'discover', 'pinn', 'plan'].includes(argv[0]!) || argv[1] === 'train') argv.push('--bogus-after-drop');
    }
    if (kind === 'field') {
      const value = pick(BAD_VALUES);
      const path = join(fx.dir, `fuzz-${seed}-${id}.json`);
      if (argv[0] === 'train') {
        const key = pick(TRAIN_FIELDS);
        const [a, b] = key.split('.') as [string, string];
        writeFileSync(path, JSON.stringify({ [a]: { [b]: value } }));
        mutation = `config ${key}=${JSON.stringify(value)}`;
      } else {
        const key = pick(PINN_FIELDS);
        writeFileSync(path, JSON.stringify({ problem: 'burgers', [key]: value }));
        mutation = `pinn config ${key}=${JSON.stringify(value)}`;
        // The template's flags would override the field under test.
        const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
        argv = argv.filter((x, j) => x !== '--problem' && x !== 'burgers' && x !== flag && argv[j - 1] !== flag);
      }
      set('--config', path);
    }
    if (kind === 'junk') { const v = pick(['\u0000', '\u202e', 'x'.repeat(5000), '--', '-', '-h-', '=']); argv.splice(1 + Math.floor(r() * (argv.length - 1)), 0, v); mutation = `junk argument ${JSON.stringify(v.slice(0, 8))}`; }
    cases.push({ id, argv, mutation });
  }
  return cases;
}

interface Outcome { code: number | null; stderr: string; seconds: number }

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.js');

/** One case in its own process; a process cannot take a NUL byte in its arguments, so U+0001 stands in for it. */
function runProcess(argv: string[], env: NodeJS.ProcessEnv, timeoutS: number): Outcome {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [main, ...argv.map((a) => a.replace(/\u0000/g, '\u0001'))], { encoding: 'utf8', env, timeout: timeoutS * 1000, killSignal: 'SIGKILL' });
  return { code: r.status, stderr: r.stderr ?? '', seconds: (performance.now() - t0) / 1000 };
}

/** What breaks the contract in an outcome, or undefined when it holds. */
export function judge(o: Outcome, timeoutS: number): string | undefined {
  const lines = o.stderr.split('\n').filter((l) => l !== '' && !/^see `furnace[ a-z-]* --help`$/.test(l));
  if (o.code === null || o.seconds >= timeoutS) return `no exit within ${timeoutS} s`;
  if (o.code === 0) return 'accepted (exit 0)';
  if (/\n\s+at /.test(o.stderr)) return 'stack trace';
  if (/internal error/.test(o.stderr)) return `internal error: ${lines[0]}`;
  if (o.code !== 1 && o.code !== 2) return `exit ${o.code}`;
  if (lines.length !== 1) return `${lines.length} lines on stderr`;
  return undefined;
}

async function cli(): Promise<void> {
  const { values } = parseArgs({ options: { seed: { type: 'string', default: '1' }, cases: { type: 'string', default: '300' },
    'in-process': { type: 'boolean', default: false }, timeout: { type: 'string', default: '30' }, keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false } } });
  const seed = Number(values.seed), n = Number(values.cases), timeoutS = Number(values.timeout);
  const dir = mkdtempSync(join(tmpdir(), 'furnace-fuzz-'));
  const env = { ...process.env, CI: '1', FURNACE_CACHE: join(dir, 'cache') };
  process.env['CI'] = '1';
  process.env['FURNACE_CACHE'] = env.FURNACE_CACHE;
  const fx = makeFixtures(dir);
  const cases = generate(fx, seed, n);
  const failures: { c: FuzzCase; why: string; stderr: string }[] = [];
  for (const c of cases) {
    if (values.verbose) process.stderr.write(`#${c.id} [${c.mutation}] furnace ${c.argv.join(' ').slice(0, 200)}\n`);
    let o: Outcome;
    if (values['in-process']) {
      const t0 = performance.now();
      const r = await runCli(c.argv);
      o = { code: r.code, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
    } else o = runProcess(c.argv, env, timeoutS);
    const why = judge(o, timeoutS);
    if (why !== undefined) failures.push({ c, why, stderr: o.stderr.trim().split('\n')[0] ?? '' });
  }
  process.stdout.write(`seed ${seed}: ${cases.length} cases, ${cases.length - failures.length} pass, ${failures.length} fail\n`);
  for (const f of failures) {
    process.stdout.write(`  #${f.c.id} ${f.why}: furnace ${f.c.argv.map((a) => (a.length > 60 ? a.slice(0, 57) + '...' : a)).join(' ')}  [${f.c.mutation}]\n    ${f.stderr}\n`);
  }
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
  process.exitCode = failures.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await cli();
