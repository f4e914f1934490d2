// `furnace bench pipeline`: its usage on --help, and bad flags exit 2 naming the flag before any run starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const furnace = (...args: string[]) => spawnSync(process.execPath, [main, 'bench', 'pipeline', ...args], { encoding: 'utf8' });

test('furnace bench pipeline --help prints its usage; bad flags exit 2 with one line naming the flag', () => {
  const help = furnace('--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: furnace bench pipeline \[--preset tiny\|small/);
  for (const [args, re] of [
    [['--preset', 'huge'], /--preset: 'tiny' or 'small', got 'huge'/],
    [['--micro', '4,3'], /--micro: expected a comma-separated list, got '4,3'/],
    [['--virtual', '1'], /--virtual/],
    [['--rounds', 'x'], /--rounds: expected an integer, got 'x'/],
  ] as const) {
    const r = furnace(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
