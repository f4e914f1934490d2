// The dashboard server as a user and an attacker meet it: loopback by default, tokens enforced, no traversal,
// /api/runs over real run folders, live metrics by server-sent events, checkpoints with verify status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveCheckpoint, soloCoordinator } from '../checkpoint/index.js';
import { appendRecords, CLI, cleanTiny, furnace, microTrain, record, writeRun } from './testing/fixtures.js';
import { startDashboard, type Dashboard } from './server.js';
import type { CheckpointInfo, RunDetail, RunInfo } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'furnace-dash-'));
const runs = join(dir, 'runs');
mkdirSync(runs);
writeFileSync(join(dir, 'secret.txt'), 'outside the runs folder');

interface Reply { status: number; body: string; headers: Record<string, string | string[] | undefined> }

/** A raw GET: the path goes on the wire exactly as written (no client-side normalization of '..'). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => ok({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', fail);
    req.end();
  });
}

async function withServer(opts: Partial<Parameters<typeof startDashboard>[0]>, f: (d: Dashboard) => Promise<void>): Promise<void> {
  const d = await startDashboard({ runs, port: 0, pollMs: 50, ...opts });
  try {
    await f(d);
  } finally {
    await d.close();
  }
}

test('the default bind address is loopback', async () => {
  await withServer({}, async (d) => {
    assert.equal(d.host, '127.0.0.1');
    assert.equal((await get(d.port, '/api/runs')).status, 200);
  });
});

test('the CLI binds loopback by default and prints its URL', async () => {
  const child = spawn(process.execPath, [CLI, 'dashboard', '--runs', runs, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise<string>((ok, fail) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => { out += c.toString(); if (out.includes('\n')) ok(out.split('\n')[0]!); });
      child.on('exit', (code) => fail(new Error(`exited ${code}`)));
    });
    const r = JSON.parse(line) as { host: string; port: number; url: string; token: boolean };
    assert.equal(r.host, '127.0.0.1');
    assert.equal(r.token, false);
    assert.equal((await get(r.port, '/api/runs')).status, 200);
  } finally {
    child.kill('SIGTERM');
  }
});

test('a non-loopback bind without a token refuses to start (exit 2, one line)', () => {
  const r = furnace(['dashboard', '--runs', runs, '--host', '0.0.0.0', '--port', '0'], { FURNACE_DASHBOARD_TOKEN: '' });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--host 0\.0\.0\.0: .*needs --token/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('bad flags are usage errors', () => {
  assert.equal(furnace(['dashboard', '--runs', join(dir, 'nope')]).code, 2);
  assert.equal(furnace(['dashboard', '--runs', runs, '--port', '70000']).code, 2);
});

test('with a token every request must carry it: header, query (which sets a cookie) or cookie', async () => {
  await withServer({ host: '0.0.0.0', token: 's3cret' }, async (d) => {
    for (const path of ['/', '/api/runs', '/files/x', '/index.html']) {
      const r = await get(d.port, path);
      assert.equal(r.status, 401, path);
      assert.doesNotMatch(r.body, /s3cret/);
    }
    assert.equal((await get(d.port, '/api/runs', { Authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await get(d.port, '/api/runs?token=s3cre')).status, 401);
    assert.equal((await get(d.port, '/api/runs', { Authorization: 'Bearer s3cret' })).status, 200);
    assert.equal((await get(d.port, '/api/runs', { 'X-Furnace-Token': 's3cret' })).status, 200);
    const q = await get(d.port, '/api/runs?token=s3cret');
    assert.equal(q.status, 200);
    const cookie = String(q.headers['set-cookie']).split(';')[0]!;
    assert.match(String(q.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
    assert.match(cookie, new RegExp(`^furnace_token_${d.port}=`));
    assert.equal((await get(d.port, '/api/runs', { Cookie: cookie })).status, 200);
    assert.equal((await get(d.port, '/api/runs', { Cookie: `furnace_token_${d.port}=%zz` })).status, 401);
  });
});

test('without a token, requests naming a non-loopback host are refused (DNS rebinding)', async () => {
  await withServer({}, async (d) => {
    assert.equal((await get(d.port, '/api/runs', { Host: 'attacker.example:80' })).status, 403);
    assert.equal((await get(d.port, '/api/runs', { Host: `localhost:${d.port}` })).status, 200);
  });
});

test('files are served only from the runs folder and the app: traversal attempts get 404', async () => {
  writeRun(join(runs, 'files-run'), 2, true);
  symlinkSync(join(dir, 'secret.txt'), join(runs, 'files-run', 'link.txt'));
  await withServer({}, async (d) => {
    const inside = await get(d.port, '/files/files-run/summary.json');
    assert.equal(inside.status, 200);
    assert.equal(inside.body, readFileSync(join(runs, 'files-run', 'summary.json'), 'utf8'));
    assert.match(String(inside.headers['content-security-policy']), /sandbox/);
    assert.doesNotMatch(String((await get(d.port, '/')).headers['content-security-policy']), /sandbox/);
    for (const path of ['/files/../secret.txt', '/files/files-run/../../secret.txt', '/files/..%2fsecret.txt', '/files/%2e%2e/secret.txt',
      '/files/%2e%2e%2fsecret.txt', '/files/files-run/link.txt', '/..%2f..%2fsecret.txt', '/files/%00', '/files/%zz', '/api/runs/..%2f..',
      '/api/data/..%2fruns', '/files//etc/passwd', '/../../../../etc/passwd']) {
      const r = await get(d.port, path);
      assert.equal(r.status, 404, `${path} -> ${r.status}`);
      assert.doesNotMatch(r.body, /outside the runs folder|root:/);
    }
  });
});

test('GET /api/runs lists real and in-progress runs with steps, last loss and status', async () => {
  microTrain(dir, join(runs, 'micro'));
  writeRun(join(runs, 'live'), 7, false);
  writeRun(join(runs, 'crashed'), 4, false);
  const old = Date.now() / 1000 - 3600;
  utimesSync(join(runs, 'crashed', 'metrics.jsonl'), old, old);
  mkdirSync(join(runs, 'not-a-run'));
  await withServer({}, async (d) => {
    const list = JSON.parse((await get(d.port, '/api/runs')).body) as RunInfo[];
    const by = new Map(list.map((r) => [r.name, r]));
    assert.ok(!by.has('not-a-run'));
    const micro = by.get('micro')!;
    const lines = readFileSync(join(runs, 'micro', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });
    assert.deepEqual([micro.steps, micro.records, micro.status, micro.last_loss], [3, 3, 'done', lines[2]!.loss]);
    assert.deepEqual([by.get('live')!.steps, by.get('live')!.status, by.get('live')!.last_loss], [7, 'running', record(6).loss]);
    assert.equal(by.get('live')!.last_val_loss, record(4).val_loss);
    assert.equal(by.get('crashed')!.status, 'stopped');
    const detail = JSON.parse((await get(d.port, '/api/runs/micro')).body) as RunDetail;
    assert.equal(detail.metrics.length, 3);
    assert.equal((detail.config as { model: { d_model: number } }).model.d_model, 16);
    assert.equal(detail.summary?.['steps'], 3);
    assert.equal((await get(d.port, '/api/runs/none')).status, 404);
  });
});

/** Reads server-sent events until `until` says stop; returns them. */
function events(port: number, path: string, until: (ev: { event: string; data: string }[]) => boolean, during?: () => void): Promise<{ event: string; data: string; id?: string }[]> {
  return new Promise((ok, fail) => {
    const got: { event: string; data: string; id?: string }[] = [];
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let at;
        while ((at = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, at);
          buf = buf.slice(at + 2);
          const f = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          if (f['event'] !== undefined) got.push({ event: f['event'], data: f['data'] ?? '', ...(f['id'] !== undefined ? { id: f['id'] } : {}) });
          if (got.length === 1) during?.();
          if (until(got)) { req.destroy(); ok(got); }
        }
      });
    });
    req.on('error', (e) => { if (!req.destroyed) fail(e); });
    req.end();
  });
}

test('server-sent events deliver records appended while watching; torn lines wait for their end', async () => {
  const run = join(runs, 'tail');
  writeRun(run, 3, false);
  await withServer({}, async (d) => {
    const steps = (evs: { event: string; data: string }[]) => evs.filter((e) => e.event === 'metrics').flatMap((e) => (JSON.parse(e.data) as { step: number }[]).map((r) => r.step));
    const got = await events(d.port, '/api/runs/tail/events?from=1', (evs) => steps(evs).length >= 4 && evs.some((e) => e.event === 'status' && e.data.includes('done')), () => {
      // A line written in two parts: the first half alone must not be delivered.
      const line = JSON.stringify(record(3)) + '\n';
      writeFileSync(join(run, 'metrics.jsonl'), readFileSync(join(run, 'metrics.jsonl'), 'utf8') + line.slice(0, 20));
      setTimeout(() => {
        writeFileSync(join(run, 'metrics.jsonl'), readFileSync(join(run, 'metrics.jsonl'), 'utf8') + line.slice(20));
        appendRecords(run, 4, 5);
        setTimeout(() => writeFileSync(join(run, 'summary.json'), '{}'), 200);
      }, 200);
    });
    assert.deepEqual(steps(got), [1, 2, 3, 4]);
    assert.equal(got.filter((e) => e.event === 'metrics').pop()!.id, '5');
  });
});

test('a run restarted into the same folder sends reset, then the new records from the start', async () => {
  const run = join(runs, 'restart');
  writeRun(run, 4, false);
  await withServer({}, async (d) => {
    // The client holds the 4 records; after the stream's first look, the run starts over with 2.
    const restart = setTimeout(() => writeRun(run, 2, false), 300);
    const got = await events(d.port, '/api/runs/restart/events?from=4', (evs) => evs.some((e) => e.event === 'metrics'));
    clearTimeout(restart);
    assert.deepEqual(got.map((e) => e.event), ['reset', 'metrics']);
    assert.deepEqual((JSON.parse(got[1]!.data) as { step: number }[]).map((r) => r.step), [0, 1]);
  });
});

test('checkpoints are listed with their verify status: a flipped byte is caught', async () => {
  const run = join(runs, 'ckpt-run');
  writeRun(run, 2, true);
  for (const step of [1, 2]) {
    const data = new Float32Array(256).map((_, i) => i * step);
    await saveCheckpoint({ root: join(run, 'ckpt'), coordinator: soloCoordinator, keep: 0, hashBlockBytes: 256 }, step,
      [{ key: 'w', dtype: 'f32', globalShape: [16, 16], offset: [0, 0], localShape: [16, 16], replicaId: 0, replicas: 1, data }]);
  }
  const shard = join(run, 'ckpt', 'step-00000001', 'shard-00000.safetensors');
  const bytes = readFileSync(shard);
  bytes[bytes.length - 3]! ^= 0x55;
  writeFileSync(shard, bytes);
  await withServer({}, async (d) => {
    const list = JSON.parse((await get(d.port, '/api/runs/ckpt-run/checkpoints')).body) as CheckpointInfo[];
    assert.deepEqual(list.map((c) => [c.name, c.status, c.latest]), [['step-00000001', 'corrupt', false], ['step-00000002', 'ok', true]]);
    assert.match(list[0]!.problems.join(), /sha256 mismatch/);
    assert.equal(list[1]!.bytes, 1024);
  });
});

test('GET /api/data lists cleaning reports written by furnace data clean', async () => {
  cleanTiny(dir, join(runs, 'cleaned'));
  await withServer({}, async (d) => {
    const list = JSON.parse((await get(d.port, '/api/data')).body) as { name: string; docs_in: number; docs_out: number }[];
    assert.deepEqual(list.map((x) => [x.name, x.docs_in]), [['cleaned', 4]]);
    const report = JSON.parse((await get(d.port, '/api/data/cleaned')).body) as { stages: { name: string; removed: Record<string, number> }[] };
    assert.equal(report.stages.find((s) => s.name === 'exact_dedup')!.removed['exact_duplicate'], 1);
  });
});
