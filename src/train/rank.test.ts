// One rank run in the calling process (a LocalGroup world, what `furnace train --dp 1` does) is the
// rank program a launched job runs: the same losses and the same model, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalGroup } from '../comm/local-group.js';
import { defaultCorpusPath } from '../data/corpus.js';
import { PRESETS, type TrainConfig } from './config.js';
import { launchRanks, main, type RankArgs } from './rank.js';

const dir = mkdtempSync(join(tmpdir(), 'furnace-rank-'));
process.env['FURNACE_CACHE'] = join(dir, 'cache');
const corpus = join(dir, 'corpus.txt');
writeFileSync(corpus, readFileSync(defaultCorpusPath(), 'utf8').slice(0, 40_000));

const cfg: TrainConfig = {
  model: { ...PRESETS.tiny.model, vocab_size: 300, seq_len: 16, d_model: 32, n_layers: 2, n_heads: 4, d_ff: 64, n_experts: 4, top_k: 2,
    moe_every: 1, expert_d_ff: 32, capacity_factor: 0, router_z_loss_coef: 0.01 },
  train: { ...PRESETS.tiny.train, batch_size: 4, steps: 4, warmup_steps: 1, eval_every: 0, eval_batches: 1, log_every: 1 },
};
const args = (out: string, comm: RankArgs['comm']): RankArgs => ({
  cfg, corpus, out: join(dir, out), dp: 1, tp: 1, ep: 1, pp: 1, ppLayers: [cfg.model.n_layers], micro: 1, zero: false, comm, topology: undefined, placement: 'topology', backend: 'js', json: true, tty: false,
  ckpt: undefined, order: undefined, ranksHere: 1,
});

test('one rank in-process (a world of size 1) equals the launched rank program bit for bit', { timeout: 120_000 }, async () => {
  const here = await main(new LocalGroup(), args('here', 'none'));
  const [there] = await launchRanks(1, args('there', 'threads'));
  assert.ok(here !== null && there !== undefined && there !== null);
  assert.equal(here.summary.losses.length, cfg.train.steps);
  assert.deepEqual(here.summary.losses, there.summary.losses);
  assert.ok(readFileSync(join(dir, 'here', 'model.safetensors')).equals(readFileSync(join(dir, 'there', 'model.safetensors'))), 'model files differ');
  // The checkpoint and the result record how the run was laid out.
  const plan = JSON.parse(readFileSync(join(dir, 'here', 'plan.json'), 'utf8')) as { dp: number; tp: number; ep: number };
  assert.deepEqual([plan.dp, plan.tp, plan.ep], [1, 1, 1]);
});
