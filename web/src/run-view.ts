// One run: loss, tokens/s, MFU and learning-rate charts, expert-load heatmaps, time split, checkpoints; live by SSE.
import type { CheckpointInfo, MetricsRecord, RunDetail } from '../../src/dashboard/types.js';
import { api } from './api.js';
import { PALETTE, stackedBar } from './bars.js';
import { Heatmap, LineChart } from './charts.js';
import { bytes, fmt, h, pct, seconds, svg } from './dom.js';

const TIME_PARTS = [['compute', 'compute'], ['allreduce', 'all-reduce'], ['alltoall', 'all-to-all'], ['ckpt', 'checkpoint']] as const;

const num = (v: number | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Renders `run` into `root`; with `live`, follows new metrics until the page changes. Returns a stop function. */
export function renderRun(root: HTMLElement, run: RunDetail, checkpoints: Promise<CheckpointInfo[]> | CheckpointInfo[], live: boolean): () => void {
  const metrics: MetricsRecord[] = [...run.metrics];
  const status = h('span', { class: `status ${run.status}`, id: 'run-status' }, run.status);
  const facts = h('div', { class: 'facts' });
  const loss = new LineChart('loss', [{ label: 'train loss', colour: PALETTE[0]! }, { label: 'validation loss', colour: PALETTE[1]! }]);
  const tput = new LineChart('tokens/s', [{ label: 'tokens/s', colour: PALETTE[2]! }]);
  const mfu = new LineChart('MFU', [{ label: 'MFU', colour: PALETTE[3]! }]);
  const lr = new LineChart('learning rate', [{ label: 'lr', colour: PALETTE[4]! }]);
  const time = new LineChart('time split per step (s)', TIME_PARTS.map(([, label], i) => ({ label, colour: PALETTE[i]! })));
  const mfuNote = h('p', { class: 'note' });
  const timeBar = h('div', { class: 'time-bar' });
  const heatmaps = h('div', { class: 'heatmaps' });
  const maps: Heatmap[] = [];
  const ckpt = h('div', { class: 'checkpoints' }, h('p', { class: 'note' }, 'verifying checkpoints...'));

  root.replaceChildren(
    h('h2', {}, `run ${run.name} `, status),
    facts,
    h('div', { class: 'grid' }, loss.el, tput.el, h('div', {}, mfu.el, mfuNote), lr.el),
    h('h3', {}, 'Time split'), timeBar, time.el,
    h('h3', {}, 'Expert load'), heatmaps,
    h('h3', {}, 'Checkpoints'), ckpt,
    h('details', {}, h('summary', {}, 'config.json and summary.json'), h('pre', {}, JSON.stringify({ config: run.config, summary: run.summary }, null, 2))),
  );
  if (live) root.append(h('p', { class: 'note' }, 'raw: ', h('a', { href: `files/${encodeURIComponent(run.name)}/metrics.jsonl` }, 'metrics.jsonl')));

  const draw = () => {
    const steps = metrics.map((r) => r.step);
    const last = metrics[metrics.length - 1];
    loss.update(steps, [metrics.map((r) => num(r.loss)), metrics.map((r) => num(r.val_loss))]);
    tput.update(steps, [metrics.map((r) => num(r.tokens_per_s))]);
    const hasMfu = metrics.some((r) => typeof r.mfu === 'number');
    mfu.update(steps, [metrics.map((r) => num(r.mfu))]);
    mfuNote.textContent = hasMfu ? `last MFU ${pct(last?.mfu ?? NaN)}${typeof last?.model_flops_per_s === 'number' ? `, ${fmt(last.model_flops_per_s)} model FLOP/s` : ''}`
      : 'no mfu field in the metrics of this run';
    lr.update(steps, [metrics.map((r) => num(r.lr))]);
    time.update(steps, TIME_PARTS.map(([k]) => metrics.map((r) => num(r.time?.[k]))));
    const totals = TIME_PARTS.map(([k, label], i) => ({ label, value: metrics.reduce((s, r) => s + (r.time?.[k] ?? 0), 0), colour: PALETTE[i]! }));
    timeBar.replaceChildren(svg(stackedBar(totals, seconds), 'time-split'));
    const layers = Math.max(0, ...metrics.map((r) => r.expert_load?.length ?? 0));
    while (maps.length < layers) { const m = new Heatmap(maps.length); maps.push(m); heatmaps.append(m.el); }
    if (layers === 0) heatmaps.replaceChildren(h('p', { class: 'note' }, 'no MoE layers in this run'));
    maps.forEach((m, l) => {
      const rows = metrics.filter((r) => r.expert_load?.[l] !== undefined);
      m.update(rows.map((r) => r.step), rows.map((r) => r.expert_load![l]!), rows[rows.length - 1]?.router_bias?.[l]);
    });
    const s = run.summary ?? {};
    const fact = (k: string, v: string) => h('div', {}, h('b', {}, k), ' ', v);
    facts.replaceChildren(
      fact('steps', String(last === undefined ? 0 : last.step + 1)), fact('records', String(metrics.length)),
      fact('loss', fmt(last?.loss)), fact('val loss', fmt([...metrics].reverse().find((r) => typeof r.val_loss === 'number')?.val_loss)),
      fact('tokens/s', fmt(last?.tokens_per_s)),
      ...(typeof s['val_bits_per_byte'] === 'number' ? [fact('val bits/byte', fmt(s['val_bits_per_byte']))] : []),
      ...(typeof s['params'] === 'number' ? [fact('params', fmt(s['params'])), fact('active', fmt(Number(s['active_params'])))] : []),
      ...(typeof s['model_flops_per_s'] === 'number' ? [fact('model FLOP/s', fmt(s['model_flops_per_s']))] : []),
      ...(typeof s['seconds'] === 'number' ? [fact('time', seconds(s['seconds']))] : []),
    );
  };
  draw();
  for (const c of [loss, tput, mfu, lr, time]) c.mount();
  Promise.resolve(checkpoints).then((list) => ckpt.replaceChildren(checkpointTable(list)),
    (e: unknown) => ckpt.replaceChildren(h('p', { class: 'error' }, `checkpoints: ${(e as Error).message}`)));

  if (!live) return () => {};
  const es = api.events(run.name, metrics.length);
  es.addEventListener('metrics', (ev) => {
    const fresh = JSON.parse((ev as MessageEvent<string>).data) as MetricsRecord[];
    metrics.push(...fresh);
    draw();
    // A step that spent time checkpointing wrote a checkpoint: list and verify it.
    if (fresh.some((r) => (r.time?.ckpt ?? 0) > 0)) api.checkpoints(run.name).then((list) => ckpt.replaceChildren(checkpointTable(list)), () => {});
  });
  es.addEventListener('reset', () => { metrics.length = 0; draw(); });
  es.addEventListener('status', (ev) => {
    const st = (JSON.parse((ev as MessageEvent<string>).data) as { status: string }).status;
    status.textContent = st;
    status.className = `status ${st}`;
    if (st === 'done') {
      api.run(run.name).then((d) => { run.summary = d.summary; draw(); }, () => {});
      api.checkpoints(run.name).then((list) => ckpt.replaceChildren(checkpointTable(list)), () => {});
    }
  });
  return () => es.close();
}

function checkpointTable(list: CheckpointInfo[]): HTMLElement {
  if (list.length === 0) return h('p', { class: 'note' }, 'no checkpoints under ckpt/');
  return h('table', { class: 'ckpt' },
    h('tr', {}, h('th', {}, 'checkpoint'), h('th', {}, 'step'), h('th', {}, 'verify'), h('th', {}, 'shard files'), h('th', {}, 'bytes verified'), h('th', {}, 'problems')),
    ...list.map((c) => h('tr', { 'data-status': c.status },
      h('td', {}, c.name, c.latest ? ' (latest)' : ''), h('td', {}, String(c.step)),
      h('td', { class: `verify ${c.status}` }, c.status === 'ok' ? 'ok: every block matches its sha256' : c.status),
      h('td', {}, String(c.files)), h('td', {}, bytes(c.bytes)), h('td', {}, c.problems.join('; ')))));
}
