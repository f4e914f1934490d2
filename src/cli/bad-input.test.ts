// The exit-code contract over a table of bad inputs spanning every command and subcommand: each
// gives exit 2 (1 where a check ran and failed), exactly one line on stderr naming the problem (at
// most followed by the see --help line), no stack trace, no internal error, in bounded time.
// Run in this process through runCli; the cases that need a real process are in exit-codes.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run.js';
import { badCases, makeFixtures, COMMAND_LINES } from './testing/bad-inputs.js';

const dir = mkdtempSync(join(tmpdir(), 'furnace-bad-input-'));
process.env['FURNACE_CACHE'] = join(dir, 'cache');
process.env['CI'] = '1';
const fx = makeFixtures(dir);
const cases = badCases(fx);
const SECONDS = 20; // far above what any case takes: a case that starts real work is the failure

/**
 * runCli captures process.stdout while a command runs; the test runner reports the previous test
 * on the same stream a moment after it ends, so each test first lets that report out.
 */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
}

/** The error lines of stderr without the see --help pointer. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !/^see `furnace[ a-z-]* --help`$/.test(l));
}

test(`the table holds at least 300 bad inputs (${cases.length})`, () => {
  assert.ok(cases.length >= 300, `${cases.length} cases`);
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique');
});

test('every bad input: its exit code, one line naming the problem, no trace, in bounded time', async () => {
  await settle();
  const failures: string[] = [];
  for (const c of cases) {
    const t0 = performance.now();
    const r = await runCli(c.argv);
    const seconds = (performance.now() - t0) / 1000;
    const lines = errorLines(r.stderr);
    const why: string[] = [];
    if (r.code !== (c.code ?? 2)) why.push(`exit ${r.code}, expected ${c.code ?? 2}`);
    if (lines.length !== 1) why.push(`${lines.length} error lines`);
    if (!lines[0]?.startsWith('furnace: ')) why.push('no "furnace: " line');
    if (/internal error/.test(r.stderr)) why.push('internal error');
    if (/\n\s+at /.test(r.stderr)) why.push('stack trace');
    if (c.names !== undefined && !c.names.test(r.stderr)) why.push(`does not name ${c.names}`);
    if (seconds > SECONDS) why.push(`took ${seconds.toFixed(1)} s`);
    if (why.length > 0) failures.push(`${c.name}: ${why.join('; ')}\n    ${r.stderr.trim().split('\n').join('\n    ')}`);
  }
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases broke the contract:\n${failures.join('\n')}`);
});

test('nothing half-written: the failed commands left no file under the output folder', () => {
  // Every output path above was refused before work started, so out/ holds nothing a later command would read.
  assert.deepEqual(readdirSync(fx.outDir), []);
});

test('--help on every command and subcommand prints its usage on stdout and exits 0', async () => {
  await settle();
  for (const argv of COMMAND_LINES.filter((a) => a.length > 0)) {
    const r = await runCli([...argv, '--help']);
    assert.equal(r.code, 0, `${argv.join(' ')} --help: ${r.stderr}`);
    assert.match(r.stdout, /^usage: furnace/, `${argv.join(' ')} --help`);
    assert.equal(r.stderr, '', `${argv.join(' ')} --help wrote to stderr`);
  }
  const top = await runCli(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /usage: furnace <command>/);
});

test('a usage error is one line and a pointer to the right --help, never the usage text', async () => {
  await settle();
  const r = await runCli(['ckpt', 'verify']);
  assert.equal(r.code, 2);
  assert.deepEqual(r.stderr.trim().split('\n'), ['furnace: ckpt: expected one DIR, got 0', 'see `furnace ckpt verify --help`']);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
