// Bad inputs across every command and subcommand, for the table test (../bad-input.test.ts) and the
// fuzzer (./fuzz.ts): files on disk that are wrong in each way a user meets, and argv that use them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpeTokenizer } from '../../data/tokenizer.js';

export interface Fixtures {
  dir: string;
  /** A writable output folder, a regular file, a path under that file, a name too long. */
  outDir: string; file: string; underFile: string; longName: string;
  corpus: string; emptyCorpus: string; emptyFolder: string; fifo: string | undefined;
  tokenizer: string; badJson: string; jsonArray: string; binary: string;
  /** A folder with a checkpoint manifest that does not parse (a failed check: exit 1). */
  damagedCkpt: string;
}

export function makeFixtures(dir: string): Fixtures {
  const p = (name: string): string => join(dir, name);
  const write = (name: string, content: string | Uint8Array): string => { writeFileSync(p(name), content); return p(name); };
  mkdirSync(p('out'), { recursive: true });
  mkdirSync(p('empty'), { recursive: true });
  mkdirSync(p('damaged'), { recursive: true });
  writeFileSync(join(p('damaged'), 'manifest.json'), '{"format": "furnace-ckpt", "version": ');
  const corpus = write('corpus.txt', 'Call me Ishmael. Some years ago, never mind how long precisely. '.repeat(40));
  const tok = BpeTokenizer.train('Call me Ishmael. Some years ago. '.repeat(20), { vocabSize: 260 });
  const tokenizer = p('tokenizer.json');
  tok.save(tokenizer);
  let fifo: string | undefined = p('fifo');
  try {
    execFileSync('mkfifo', [fifo]);
  } catch {
    fifo = undefined; // no mkfifo here: those cases are left out
  }
  return {
    dir, outDir: p('out'), file: write('file.txt', 'a file, not a folder\n'), underFile: join(p('file.txt'), 'sub', 'x'),
    longName: p('n'.repeat(300)), corpus, emptyCorpus: write('empty.txt', '  \n'), emptyFolder: p('empty'), fifo,
    tokenizer, badJson: write('bad.json', '{ nope'), jsonArray: write('array.json', '[1, 2, 3]'),
    binary: write('binary.bin', new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3])), damagedCkpt: p('damaged'),
  };
}

export interface BadCase {
  name: string;
  argv: string[];
  /** 2 bad input (the default); 1 a check that ran and failed. */
  code?: 1 | 2;
  /** What the one error line must name (a flag, a field, a path). */
  names?: RegExp;
}

/** Values an integer flag must refuse, whatever its bounds (-1 and 0 are left to the bounds cases). */
export const BAD_INTS = ['abc', '1.5', '9007199254740993', '1e999', '', ' ', '0x10', 'NaN', '99999999999999999999', '-99999999999', '2e3', '5 5'];
/** Values a number flag must refuse. */
export const BAD_NUMS = ['abc', 'Infinity', '-Infinity', 'NaN', '', '1e999', '1,5', '--'];

/** A config file over the tiny preset with one field replaced. */
function config(fx: Fixtures, name: string, obj: unknown): string {
  const path = join(fx.dir, `cfg-${name}.json`);
  writeFileSync(path, JSON.stringify(obj));
  return path;
}

/** Every command's bad inputs: flags, configs, paths, corpora, checkpoints, planner inputs, data files. */
export function badCases(fx: Fixtures): BadCase[] {
  const cases: BadCase[] = [];
  const add = (name: string, argv: string[], names?: RegExp, code?: 1 | 2): void => {
    cases.push({ name, argv, ...(names !== undefined ? { names } : {}), ...(code !== undefined ? { code } : {}) });
  };
  const out = join(fx.outDir, 'run');
  const ints = (cmd: string[], flags: string[], rest: string[] = []): void => {
    for (const f of flags) for (const v of BAD_INTS) add(`${cmd.join(' ')} --${f} '${v}'`, [...cmd, `--${f}=${v}`, ...rest], new RegExp(`--${f}`));
  };
  const nums = (cmd: string[], flags: string[], rest: string[] = []): void => {
    for (const f of flags) for (const v of BAD_NUMS) add(`${cmd.join(' ')} --${f} '${v}'`, [...cmd, `--${f}=${v}`, ...rest], new RegExp(`--${f}`));
  };
  const outPaths = (cmd: string[], flag: string, rest: string[], kind: 'dir' | 'file'): void => {
    const flagRe = new RegExp(flag.replace(/-/g, '\\-'));
    add(`${cmd.join(' ')} ${flag} under /proc`, [...cmd, flag, '/proc/furnace-out', ...rest], flagRe);
    add(`${cmd.join(' ')} ${flag} under /sys`, [...cmd, flag, '/sys/furnace-out', ...rest], flagRe);
    add(`${cmd.join(' ')} ${flag} empty`, [...cmd, `${flag}=`, ...rest], flagRe);
    add(`${cmd.join(' ')} ${flag} under a file`, [...cmd, flag, fx.underFile, ...rest], flagRe);
    add(`${cmd.join(' ')} ${flag} name too long`, [...cmd, flag, fx.longName, ...rest], flagRe);
    add(`${cmd.join(' ')} ${flag} ${kind === 'dir' ? 'is a file' : 'is a folder'}`, [...cmd, flag, kind === 'dir' ? fx.file : fx.outDir, ...rest], flagRe);
  };
  const inPaths = (cmd: string[], flag: string | null, rest: string[]): void => {
    const at = (v: string): string[] => (flag === null ? [...cmd, v, ...rest] : [...cmd, flag, v, ...rest]);
    const re = flag === null ? undefined : new RegExp(flag.replace(/-/g, '\\-'));
    add(`${cmd.join(' ')} ${flag ?? 'INPUT'} missing`, at(join(fx.dir, 'missing.txt')), re);
    add(`${cmd.join(' ')} ${flag ?? 'INPUT'} /dev/null`, at('/dev/null'), re);
    if (fx.fifo !== undefined) add(`${cmd.join(' ')} ${flag ?? 'INPUT'} a fifo`, at(fx.fifo), re);
    add(`${cmd.join(' ')} ${flag ?? 'INPUT'} under a file`, at(fx.underFile), re);
    add(`${cmd.join(' ')} ${flag ?? 'INPUT'} name too long`, at(fx.longName), re);
  };

  // train
  const train = ['train'];
  const trainRest = ['--out', out, '--corpus', fx.corpus, '--preset', 'tiny'];
  ints(train, ['steps', 'seed', 'log-every', 'batch-size', 'sample-tokens', 'dp', 'tp', 'ep', 'ckpt-every', 'ckpt-keep'], trainRest);
  for (const [f, v] of [['steps', '0'], ['steps', '-1'], ['steps', '1000000001'], ['batch-size', '0'], ['dp', '0'], ['tp', '5000'],
    ['seed', '-1'], ['seed', '4294967296'], ['ckpt-keep', '0'], ['sample-tokens', '1000001']] as const) {
    add(`train --${f} ${v}`, [...train, `--${f}=${v}`, ...trainRest], new RegExp(`--${f}`));
  }
  add('train --preset huge', [...train, '--preset', 'huge', '--out', out], /--preset/);
  add('train --backend cuda', [...train, '--backend', 'cuda', ...trainRest], /--backend/);
  add('train --comm tcp', [...train, '--comm', 'tcp', ...trainRest], /--comm/);
  add('train --precision fp16', [...train, '--precision', 'fp16', ...trainRest], /--precision: unknown precision 'fp16'/);
  add('train --precision bf16 on wasm', [...train, '--precision', 'bf16', '--backend', 'wasm', ...trainRest], /--precision: bf16 needs --backend native/);
  add('train --comm mpi outside mpirun', [...train, '--comm', 'mpi', ...trainRest], /--comm mpi/);
  add('train --ep not dividing --dp', [...train, '--dp', '2', '--ep', '3', ...trainRest], /--ep/);
  add('train --tp not dividing heads', [...train, '--tp', '3', ...trainRest], /--tp/);
  add('train unknown flag', [...train, '--stepz', '3'], /stepz/);
  add('train positional', [...train, 'extra'], /extra|argument/);
  outPaths(train, '--out', ['--corpus', fx.corpus], 'dir');
  outPaths(train, '--report', trainRest, 'file');
  inPaths(train, '--corpus', ['--out', out]);
  add('train --corpus empty file', [...train, '--corpus', fx.emptyCorpus, '--out', out], /no text/);
  add('train --corpus empty folder', [...train, '--corpus', fx.emptyFolder, '--out', out], /holds no/);
  add('train --corpus binary', [...train, '--corpus', fx.binary, '--out', out], /binary\.bin/);
  inPaths(train, '--config', ['--out', out]);
  add('train --config a folder', [...train, '--config', fx.outDir, '--out', out], /--config/);
  add('train --config bad JSON', [...train, '--config', fx.badJson, '--out', out], /not valid JSON/);
  add('train --config an array', [...train, '--config', fx.jsonArray, '--out', out], /array\.json/);
  inPaths(train, '--plan', trainRest);
  add('train --plan bad JSON', [...train, '--plan', fx.badJson, ...trainRest], /--plan/);
  inPaths(train, '--topology', trainRest);
  add('train --topology bad JSON', [...train, '--topology', fx.badJson, ...trainRest], /--topology/);
  add('train --topology an array', [...train, '--topology', fx.jsonArray, ...trainRest], /--topology/);
  add('train --topology wrong fields', [...train, '--topology', config(fx, 'topo', { tiers: [{ name: 'x', size: -1 }] }), ...trainRest], /--topology/);
  add('train --resume missing', [...train, '--resume', join(fx.dir, 'nope'), ...trainRest, '--dp', '2'], /--resume/);
  const fields: [string, unknown, RegExp][] = [
    ['model.n_layers', 2 ** 31, /n_layers/], ['model.d_model', 2 ** 31, /d_model/], ['model.expert_d_ff', 1.28e14, /expert_d_ff/],
    ['model.capacity_factor', 1e6, /capacity_factor/], ['model.capacity_factor', 1e308, /capacity_factor/],
    ['model.capacity_factor', -1, /capacity_factor/], ['model.seq_len', 0, /seq_len/], ['model.seq_len', 1e9, /seq_len/],
    ['model.vocab_size', 10, /vocab_size/], ['model.vocab_size', 1e9, /vocab_size/], ['model.n_heads', 0, /n_heads/],
    ['model.n_heads', 3, /n_heads/], ['model.n_experts', 1, /n_experts/], ['model.n_experts', 1e6, /n_experts/],
    ['model.top_k', 0, /top_k/], ['model.top_k', 9, /top_k/], ['model.d_ff', -5, /d_ff/], ['model.d_ff', 1.5, /d_ff/],
    ['model.gate', 'magic', /gate/], ['model.position', 'alibi', /position/], ['model.moe_every', 0, /moe_every/],
    ['model.aux_loss_coef', -1, /aux_loss_coef/], ['model.router_z_loss_coef', 1e9, /router_z_loss_coef/], ['model.d_modle', 8, /d_modle/],
    ['train.steps', 2 ** 53, /steps/], ['train.steps', 0, /steps/], ['train.steps', 'ten', /steps/], ['train.steps', 1e10, /steps/],
    ['train.batch_size', 0, /batch_size/], ['train.batch_size', 1e12, /batch_size/], ['train.lr', -1, /lr/], ['train.lr', 1e9, /lr/],
    ['train.min_lr', 1, /min_lr/], ['train.beta1', 1, /beta1/], ['train.beta2', -0.5, /beta2/], ['train.warmup_steps', -1, /warmup_steps/],
    ['train.eval_batches', 0, /eval_batches/], ['train.log_every', 0, /log_every/], ['train.seed', -1, /seed/], ['train.seed', 2 ** 40, /seed/],
    ['train.grad_clip', -1, /grad_clip/], ['train.weight_decay', null, /weight_decay/], ['train.nope', 1, /nope/], ['preset', 'huge', /preset/],
    ['train.precision', 'fp16', /train\.precision/],
  ];
  fields.forEach(([key, value, re], i) => {
    const [a, b] = key.split('.') as [string, string | undefined];
    const obj = b === undefined ? { [a]: value } : { [a]: { [b]: value } };
    add(`train config ${key} = ${String(value)}`, [...train, '--config', config(fx, `f${i}`, obj), '--out', out, '--corpus', fx.corpus], re);
  });
  // Within the bounds but far beyond memory: refused by the preflight with the estimate and the limit.
  add('train config too big for memory', [...train, '--config', config(fx, 'huge', { model: { d_model: 65536, n_heads: 64, n_layers: 1024, d_ff: 1 << 20 } }),
    '--out', out, '--corpus', fx.corpus], /needs about .* GiB/);
  add('train config batch too big for memory', [...train, '--config', config(fx, 'batch', { model: { seq_len: 65536 }, train: { batch_size: 1 << 20 } }),
    '--out', out, '--corpus', fx.corpus], /needs about .* GiB/);

  // eval / generate
  for (const cmd of ['eval', 'generate']) {
    const text = cmd === 'eval' ? ['--text', fx.corpus] : [];
    add(`${cmd} without --ckpt`, [cmd, ...text], /--ckpt/);
    add(`${cmd} --ckpt missing`, [cmd, '--ckpt', join(fx.dir, 'nope'), ...text], /nope/);
    add(`${cmd} --ckpt a file`, [cmd, '--ckpt', fx.file, ...text], /file\.txt/);
    add(`${cmd} --ckpt an empty folder`, [cmd, '--ckpt', fx.emptyFolder, ...text], /empty/);
    add(`${cmd} --ckpt damaged checkpoint`, [cmd, '--ckpt', fx.damagedCkpt, ...text], /damaged/, 1);
    add(`${cmd} --backend cuda`, [cmd, '--ckpt', fx.emptyFolder, '--backend', 'cuda', ...text], /--backend/);
    add(`${cmd} unknown flag`, [cmd, '--bogus'], /bogus/);
  }
  add('eval without --text', ['eval', '--ckpt', fx.emptyFolder], /--text/);
  inPaths(['eval'], '--text', ['--ckpt', fx.emptyFolder]);
  add('eval --text a folder', ['eval', '--text', fx.outDir, '--ckpt', fx.emptyFolder], /--text/);
  add('eval --text empty', ['eval', '--text', fx.emptyCorpus.replace('empty.txt', 'zero.txt'), '--ckpt', fx.emptyFolder], /--text/);
  ints(['generate'], ['tokens', 'top-k', 'seed'], ['--ckpt', fx.emptyFolder]);
  nums(['generate'], ['temperature'], ['--ckpt', fx.emptyFolder]);
  add('generate --tokens 0', ['generate', '--tokens=0', '--ckpt', fx.emptyFolder], /--tokens/);
  add('generate --temperature -1', ['generate', '--temperature=-1', '--ckpt', fx.emptyFolder], /--temperature/);
  add('generate --temperature 101', ['generate', '--temperature=101', '--ckpt', fx.emptyFolder], /--temperature/);

  // plan
  const plan = ['plan', '--model', 'preset:gpt3-175b', '--cluster', 'preset:a100-selene'];
  ints(['plan'], ['devices', 'top'], plan.slice(1));
  add('plan --devices 0', ['plan', '--devices=0', ...plan.slice(1)], /--devices/);
  add('plan --top 0', ['plan', '--top=0', ...plan.slice(1)], /--top/);
  add('plan --top 1001', ['plan', '--top=1001', ...plan.slice(1)], /--top/);
  add('plan without --model', ['plan', '--cluster', 'preset:a100-selene'], /--model/);
  add('plan --model unknown preset', ['plan', '--model', 'preset:nope', '--cluster', 'preset:a100-selene'], /nope/);
  add('plan --cluster unknown preset', ['plan', '--model', 'preset:gpt3-175b', '--cluster', 'preset:nope'], /nope/);
  add('plan --model missing file', ['plan', '--model', join(fx.dir, 'nope.json'), '--cluster', 'preset:a100-selene'], /nope\.json/);
  add('plan --model bad JSON', ['plan', '--model', fx.badJson, '--cluster', 'preset:a100-selene'], /bad\.json/);
  add('plan --model an array', ['plan', '--model', fx.jsonArray, '--cluster', 'preset:a100-selene'], /array\.json/);
  add('plan --cluster bad JSON', ['plan', '--model', 'preset:gpt3-175b', '--cluster', fx.badJson], /bad\.json/);
  add('plan --cluster /dev/null', ['plan', '--model', 'preset:gpt3-175b', '--cluster', '/dev/null'], /dev\/null/);
  add('plan --train bad JSON', [...plan, '--train', '{ nope'], /train|JSON/);
  for (const fix of ['tp=x', 'tp=0', 'warp=2', 'order=tp/xx', 'tp', 'zero=9', 'recompute=sometimes']) add(`plan --fix ${fix}`, [...plan, '--fix', fix], /fix|tp|warp|order|zero|recompute/);
  outPaths(plan, '--out', [], 'file');
  outPaths(plan, '--report', [], 'file');
  add('plan positional without --calibrate', [...plan, 'extra'], /extra/);
  add('plan --calibrate without run dirs', ['plan', '--calibrate'], /run directory/);
  add('plan --calibrate missing run dir', ['plan', '--calibrate', join(fx.dir, 'nope')], /nope/);
  add('plan --calibrate --fit unknown', ['plan', '--calibrate', fx.outDir, '--fit', 'warp'], /warp|--fit|metrics/);
  add('plan --calibrate with --report', ['plan', '--calibrate', fx.outDir, '--report', join(fx.outDir, 'r.html')], /--report/);
  add('plan --machine missing', ['plan', '--model', 'preset:gpt3-175b', '--machine', join(fx.dir, 'nope.json')], /nope\.json/);

  // data clean / tokenize
  const clean = ['data', 'clean'];
  const cleanRest = [fx.corpus, '--out', join(fx.outDir, 'clean')];
  ints(clean, ['bands', 'rows', 'ngram-en', 'ngram-zh', 'max-doc-bytes', 'samples'], cleanRest);
  nums(clean, ['threshold'], cleanRest);
  add('data clean --threshold 2', [...clean, '--threshold=2', ...cleanRest], /--threshold/);
  add('data clean --bands 0', [...clean, '--bands=0', ...cleanRest], /--bands/);
  add('data clean --lang fr', [...clean, '--lang', 'fr', ...cleanRest], /--lang/);
  add('data clean --split words', [...clean, '--split', 'words', ...cleanRest], /--split/);
  add('data clean without INPUT', [...clean, '--out', join(fx.outDir, 'clean')], /INPUT/);
  add('data clean two INPUTs', [...clean, fx.corpus, fx.corpus, '--out', join(fx.outDir, 'clean')], /INPUT/);
  add('data clean without --out', [...clean, fx.corpus], /--out/);
  outPaths(clean, '--out', [fx.corpus], 'dir');
  inPaths(clean, null, ['--out', join(fx.outDir, 'clean')]);
  add('data clean INPUT empty folder', [...clean, fx.emptyFolder, '--out', join(fx.outDir, 'clean')], /holds no/);
  inPaths(clean, '--quality-config', cleanRest);
  add('data clean --quality-config bad JSON', [...clean, '--quality-config', fx.badJson, ...cleanRest], /--quality-config/);
  add('data clean --quality-config an array', [...clean, '--quality-config', fx.jsonArray, ...cleanRest], /--quality-config/);
  add('data clean --quality-config unknown key', [...clean, '--quality-config', config(fx, 'q', { warp: 1 }), ...cleanRest], /warp/);
  add('data clean unknown flag', [...clean, '--bogus', ...cleanRest], /bogus/);
  const tokenize = ['data', 'tokenize'];
  const tokRest = [fx.corpus, '--tokenizer', fx.tokenizer, '--out', join(fx.outDir, 'shards')];
  ints(tokenize, ['shard-tokens'], tokRest);
  add('data tokenize --shard-tokens 10', [...tokenize, '--shard-tokens=10', ...tokRest], /--shard-tokens/);
  add('data tokenize without --tokenizer', [...tokenize, fx.corpus, '--out', join(fx.outDir, 'shards')], /--tokenizer/);
  add('data tokenize without --out', [...tokenize, fx.corpus, '--tokenizer', fx.tokenizer], /--out/);
  add('data tokenize without INPUT', [...tokenize, '--tokenizer', fx.tokenizer, '--out', join(fx.outDir, 'shards')], /INPUT/);
  inPaths(tokenize, '--tokenizer', [fx.corpus, '--out', join(fx.outDir, 'shards')]);
  add('data tokenize --tokenizer bad JSON', [...tokenize, fx.corpus, '--tokenizer', fx.badJson, '--out', join(fx.outDir, 'shards')], /bad\.json/);
  add('data tokenize --tokenizer not a tokenizer', [...tokenize, fx.corpus, '--tokenizer', fx.jsonArray, '--out', join(fx.outDir, 'shards')], /array\.json/);
  outPaths(tokenize, '--out', [fx.corpus, '--tokenizer', fx.tokenizer], 'dir');
  inPaths(tokenize, null, ['--tokenizer', fx.tokenizer, '--out', join(fx.outDir, 'shards')]);
  add('data unknown subcommand', ['data', 'frobnicate'], /frobnicate/);
  add('data without subcommand', ['data'], /subcommand/);

  // tokenizer train / encode
  const ttrain = ['tokenizer', 'train', fx.corpus];
  ints(['tokenizer', 'train'], ['vocab'], [fx.corpus, '--out', join(fx.outDir, 'tok.json')]);
  ints(['tokenizer', 'train'], ['min-frequency'], [fx.corpus, '--vocab', '300', '--out', join(fx.outDir, 'tok.json')]);
  add('tokenizer train --vocab 100', [...ttrain, '--vocab=100', '--out', join(fx.outDir, 'tok.json')], /--vocab/);
  add('tokenizer train --vocab 3000000', [...ttrain, '--vocab=3000000', '--out', join(fx.outDir, 'tok.json')], /--vocab/);
  add('tokenizer train without --vocab', [...ttrain, '--out', join(fx.outDir, 'tok.json')], /--vocab/);
  add('tokenizer train without --out', [...ttrain, '--vocab', '300'], /--out/);
  add('tokenizer train --split bad', [...ttrain, '--vocab', '300', '--out', join(fx.outDir, 'tok.json'), '--split', 'x'], /--split/);
  add('tokenizer train two INPUTs', [...ttrain, fx.corpus, '--vocab', '300', '--out', join(fx.outDir, 'tok.json')], /INPUT/);
  outPaths(ttrain, '--out', ['--vocab', '300'], 'file');
  inPaths(['tokenizer', 'train'], null, ['--vocab', '300', '--out', join(fx.outDir, 'tok.json')]);
  add('tokenizer encode without --text', ['tokenizer', 'encode', '--tokenizer', fx.tokenizer], /--text/);
  inPaths(['tokenizer', 'encode'], '--tokenizer', ['--text', 'hi']);
  add('tokenizer encode --tokenizer bad JSON', ['tokenizer', 'encode', '--tokenizer', fx.badJson, '--text', 'hi'], /bad\.json/);
  add('tokenizer unknown subcommand', ['tokenizer', 'frobnicate'], /frobnicate/);
  add('tokenizer without subcommand', ['tokenizer'], /subcommand/);

  // ckpt
  for (const sub of ['verify', 'info', 'export']) {
    const rest = sub === 'export' ? ['--out', join(fx.outDir, 'm.safetensors')] : [];
    add(`ckpt ${sub} without DIR`, ['ckpt', sub, ...rest], /DIR/);
    add(`ckpt ${sub} two DIRs`, ['ckpt', sub, fx.outDir, fx.outDir, ...rest], /DIR/);
    add(`ckpt ${sub} missing`, ['ckpt', sub, join(fx.dir, 'nope'), ...rest], /nope/);
    add(`ckpt ${sub} a file`, ['ckpt', sub, fx.file, ...rest], /file\.txt/);
    add(`ckpt ${sub} not a checkpoint`, ['ckpt', sub, fx.emptyFolder, ...rest], /not a checkpoint/);
    add(`ckpt ${sub} /dev/null`, ['ckpt', sub, '/dev/null', ...rest], /dev\/null/);
    add(`ckpt ${sub} damaged manifest`, ['ckpt', sub, fx.damagedCkpt, ...rest], /manifest/, 1);
    add(`ckpt ${sub} unknown flag`, ['ckpt', sub, fx.emptyFolder, '--bogus', ...rest], /bogus/);
  }
  add('ckpt export without --out', ['ckpt', 'export', fx.damagedCkpt], /--out/);
  outPaths(['ckpt', 'export', fx.damagedCkpt], '--out', [], 'file');
  add('ckpt unknown subcommand', ['ckpt', 'frobnicate'], /frobnicate/);
  add('ckpt without subcommand', ['ckpt'], /subcommand/);

  // discover
  const disc = ['discover', '--problem', 'burgers', '--no-plots'];
  ints(['discover'], ['max-order', 'max-power', 'bags', 'seed', 'fit-steps'], disc.slice(1));
  nums(['discover'], ['threshold', 'l0', 'lambda', 'noise', 'fit-time'], disc.slice(1));
  add('discover --max-order 9', ['discover', '--max-order=9', ...disc.slice(1)], /--max-order/);
  add('discover --noise 11', ['discover', '--noise=11', ...disc.slice(1)], /--noise/);
  add('discover neither --data nor --problem', ['discover'], /--data|--problem/);
  add('discover both --data and --problem', ['discover', '--problem', 'burgers', '--data', fx.corpus], /--data|--problem/);
  add('discover --problem unknown', ['discover', '--problem', 'nope'], /nope/);
  add('discover --diff bad', [...disc, '--diff', 'magic'], /--diff/);
  add('discover --terms bad', [...disc, '--terms', 'u_q^^2'], /--terms/);
  inPaths(['discover'], '--data', ['--no-plots']);
  add('discover --data bad JSON', ['discover', '--data', fx.badJson, '--no-plots'], /bad\.json/);
  add('discover --data an array', ['discover', '--data', fx.jsonArray, '--no-plots'], /array\.json/);
  add('discover --data bad CSV', ['discover', '--data', config(fx, 'csv', 0).replace(/\.json$/, '.csv'), '--no-plots'], /csv/);
  add('discover --data a folder', ['discover', '--data', fx.outDir, '--no-plots'], /--data/);
  outPaths(['discover', '--problem', 'burgers'], '--out', [], 'dir');
  outPaths(disc, '--save', [], 'file');

  // pinn
  const pinn = ['pinn', '--problem', 'burgers', '--no-plots'];
  ints(['pinn'], ['adam-steps', 'lbfgs-steps', 'collocation', 'batch', 'seed'], pinn.slice(1));
  nums(['pinn'], ['noise', 'time-limit', 'adam-time'], pinn.slice(1));
  add('pinn --collocation 0', ['pinn', '--collocation=0', ...pinn.slice(1)], /--collocation|collocation/);
  add('pinn --collocation 2e9', ['pinn', '--collocation=2000000000', ...pinn.slice(1)], /collocation/);
  add('pinn --noise 11', ['pinn', '--noise=11', ...pinn.slice(1)], /--noise/);
  add('pinn --weighting bad', [...pinn, '--weighting', 'magic'], /weighting/);
  add('pinn --problem unknown', ['pinn', '--problem', 'heat'], /problem/);
  add('pinn neither --problem nor --config', ['pinn'], /--problem|--config/);
  add('pinn both --problem and --config', ['pinn', '--problem', 'burgers', '--config', fx.badJson], /--problem|--config/);
  inPaths(['pinn'], '--config', ['--no-plots']);
  add('pinn --config bad JSON', ['pinn', '--config', fx.badJson], /bad\.json/);
  add('pinn --config an array', ['pinn', '--config', fx.jsonArray], /array\.json/);
  const pinnFields: [string, unknown][] = [['widths', [2, 1]], ['widths', [3, 20, 1]], ['widths', [2, 1e9, 1]], ['collocation', -1], ['adamLr', 0],
    ['weighting', 'x'], ['warp', 1], ['constraints', [{ kind: 'wiggle' }]], ['constraints', [{ kind: 'bounds' }]], ['seed', 2 ** 40], ['evaluator', 'gpu'],
    ['widths', [2, ...Array.from({ length: 2000 }, () => 4096), 1]]];
  pinnFields.forEach(([k, v], i) => add(`pinn config ${k} = ${JSON.stringify(v).slice(0, 30)}`,
    ['pinn', '--config', config(fx, `p${i}`, { problem: 'burgers', [k]: v }), '--no-plots'], new RegExp(`${k}|needs about`)));
  outPaths(['pinn', '--problem', 'burgers'], '--out', [], 'dir');

  // dashboard
  inPaths(['dashboard'], '--runs', []);
  add('dashboard --runs a file', ['dashboard', '--runs', fx.file], /--runs/);
  ints(['dashboard'], ['port'], ['--runs', fx.outDir]);
  add('dashboard --port 70000', ['dashboard', '--port=70000', '--runs', fx.outDir], /--port/);
  add('dashboard --port -1', ['dashboard', '--port=-1', '--runs', fx.outDir], /--port/);
  add('dashboard public host without a token', ['dashboard', '--runs', fx.outDir, '--host', '0.0.0.0', '--port', '0'], /token/i);
  add('dashboard unknown flag', ['dashboard', '--bogus'], /bogus/);

  // doctor, bench, the dispatcher
  add('doctor unknown flag', ['doctor', '--bogus'], /bogus/);
  add('doctor positional', ['doctor', 'extra'], /extra|argument/);
  add('bench unknown', ['bench', 'warp'], /warp|bench/);
  add('bench without a benchmark', ['bench'], /bench/);
  for (const b of ['kernels', 'step', 'comm', 'ckpt', 'data', 'sciml', 'plan']) add(`bench ${b} unknown flag`, ['bench', b, '--bogus-flag'], /bogus-flag/);
  add('unknown command', ['frobnicate'], /frobnicate/);
  add('unknown command that looks like a flag', ['--bogus'], /bogus/);
  return cases;
}

/** Every command and subcommand, for --help and for a closed stdout. */
export const COMMAND_LINES: string[][] = [
  [], ['train'], ['eval'], ['generate'], ['bench'], ['bench', 'kernels'], ['bench', 'step'], ['bench', 'comm'], ['bench', 'ckpt'],
  ['bench', 'data'], ['bench', 'sciml'], ['bench', 'plan'], ['doctor'], ['plan'], ['data'], ['data', 'clean'], ['data', 'tokenize'],
  ['tokenizer'], ['tokenizer', 'train'], ['tokenizer', 'encode'], ['ckpt'], ['ckpt', 'verify'], ['ckpt', 'info'], ['ckpt', 'export'],
  ['discover'], ['pinn'], ['dashboard'],
];
