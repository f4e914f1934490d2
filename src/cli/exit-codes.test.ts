// The exit-code contract end to end, in real processes: a closed stdout ends every command quietly
// (exit 0, no trace, as `| head` expects), bad input exits 2, a failed check exits 1, and a stack
// trace appears only with FURNACE_DEBUG=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMAND_LINES, makeFixtures } from './testing/bad-inputs.js';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'furnace-exit-'));
const fx = makeFixtures(dir);

interface Run { code: number | null; signal: string | null; stdout: string; stderr: string }

/** Runs furnace; closeStdout: the reader goes away after `keep` bytes (0: before anything is written). */
function furnace(args: string[], o: { closeStdout?: boolean; keep?: number; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, CI: '1', FURNACE_CACHE: join(dir, 'cache'), ...o.env } });
    let stdout = '', stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    if (o.closeStdout === true && (o.keep ?? 0) === 0) child.stdout.destroy();
    else child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (o.closeStdout === true && stdout.length >= (o.keep ?? 0)) child.stdout.destroy();
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** Runs `n` at a time: a few processes in parallel, not one per core each. */
async function pool<T, R>(items: T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await f(items[i]!);
  }));
  return out;
}

test('a closed stdout ends every command and subcommand quietly: exit 0, no trace', async () => {
  const lines = [...COMMAND_LINES.filter((a) => a.length > 0 && !(a.length === 1 && a[0] === 'bench')).map((a) => [...a, '--help']), ['--help']];
  const runs = await pool(lines, 4, (a) => furnace(a, { closeStdout: true }));
  runs.forEach((r, i) => {
    const what = lines[i]!.join(' ');
    assert.equal(r.code, 0, `${what}: exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at |internal error/, `${what}: ${r.stderr}`);
  });
});

test('`furnace plan ... | head -1`: the reader leaves after the first line, the command exits 0 without a trace', async () => {
  const r = await furnace(['plan', '--model', 'preset:gpt3-175b', '--cluster', 'preset:a100-selene', '--devices', '1024'], { closeStdout: true, keep: 1 });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /);
  const tok = await furnace(['tokenizer', 'encode', '--tokenizer', fx.tokenizer, '--text', 'Call me Ishmael. '.repeat(2000)], { closeStdout: true });
  assert.equal(tok.code, 0, tok.stderr);
});

test('exit codes end to end: 2 for bad input, 1 for a failed check, a trace only with FURNACE_DEBUG=1', async () => {
  const [bad, damaged, debug, none] = await pool([
    [['train', '--steps', '9007199254740993'], {}],
    [['ckpt', 'verify', fx.damagedCkpt], {}],
    [['ckpt', 'verify', fx.damagedCkpt], { FURNACE_DEBUG: '1' }],
    [[], {}],
  ] as [string[], Record<string, string>][], 4, ([a, env]) => furnace(a, { env }));
  assert.equal(bad!.code, 2);
  assert.equal(bad!.stderr, 'furnace: --steps: must be an integer in [1, 1000000000], got 9007199254740993\n');
  assert.equal(damaged!.code, 1);
  assert.match(damaged!.stderr, /^furnace: .*manifest\.json: unreadable manifest[^\n]*\n$/);
  assert.equal(debug!.code, 1);
  assert.match(debug!.stderr, /\n\s+at /, 'FURNACE_DEBUG=1 shows the stack');
  assert.equal(none!.code, 2, 'no command: the usage, exit 2');
  assert.match(none!.stdout, /^usage: furnace/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
