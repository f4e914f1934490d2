import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { CheckpointReader } from './load.js';
import { resolveCheckpoint } from './manifest.js';
import { crashState, globalArray, saveRanks, tmpRoot } from './testing/fixtures.js';

const child = fileURLToPath(new URL('./testing/crash-child.js', import.meta.url));

function runChild(root: string, mode: string, crashAfter: number): Promise<{ signal: string | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [child, root, mode], { env: { ...process.env, FURNACE_CKPT_CRASH_AFTER: String(crashAfter) } },
      (err, stdout) => resolve({ signal: (err as { signal?: string } | null)?.signal ?? null, stdout }));
  });
}

/** The checkpoint `latest` names must load whole, verify clean, and hold exactly one step's state. */
async function latestIsValid(root: string): Promise<number> {
  const r = await CheckpointReader.open(await resolveCheckpoint('latest', root));
  try {
    const { problems } = await r.verifyAll();
    assert.deepEqual(problems.map((p) => p.message), []);
    assert.deepEqual(await r.read('w'), globalArray([8, 24], r.step));
    assert.deepEqual(await r.read('b'), globalArray([40], r.step + 100));
    return r.step;
  } finally {
    await r.close();
  }
}

for (const mode of ['sync', 'async']) {
  test(`${mode} save killed by SIGKILL after each of its durable steps never leaves a bad latest`, async () => {
    const base = await tmpRoot();
    const seed = join(base, 'seed');
    await saveRanks(seed, 1, [0, 1].map((r) => crashState(1, r)), {}, { keep: 1 });
    const clean = await runChild(join(base, 'clean'), mode, 0);
    const total = (JSON.parse(clean.stdout) as { steps: number }).steps;
    assert.ok(total >= 20, `only ${total} crash points`);
    const seen = new Set<number>();
    const points = Array.from({ length: total }, (_, i) => i + 1);
    const one = async (n: number) => {
      const root = join(base, `crash-${n}`);
      await cp(seed, root, { recursive: true });
      const run = await runChild(root, mode, n);
      assert.equal(run.signal, 'SIGKILL', `crash point ${n} of ${total} did not kill the child`);
      seen.add(await latestIsValid(root));
      // The next save cleans up after the crash and commits (checked at every third point, for time).
      if (n % 3 === 0) {
        await saveRanks(root, 3, [0, 1].map((r) => crashState(3, r)), {}, { keep: 1 });
        assert.equal(await latestIsValid(root), 3);
      }
      await rm(root, { recursive: true });
    };
    for (let i = 0; i < points.length; i += 4) await Promise.all(points.slice(i, i + 4).map(one));
    // Crashes before the pointer moved leave step 1, later ones step 2: both outcomes occur.
    assert.deepEqual([...seen].sort(), [1, 2]);
    await rm(base, { recursive: true });
  });
}
