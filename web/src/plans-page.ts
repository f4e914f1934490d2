// The plans page: model and cluster presets or pasted JSON, searched in the page with furnace's planner.
import { parseCluster, withDevices, type ClusterSpec } from '../../src/planner/cluster.js';
import { parseModel } from '../../src/planner/model.js';
import { CLUSTER_PRESETS, MODEL_PRESETS, defaultTraining } from '../../src/planner/presets.js';
import { parseTraining } from '../../src/planner/training.js';
import { planProblem } from '../../src/dashboard/plan-report.js';
import { h } from './dom.js';
import { renderPlanReport } from './plan-view.js';

const CUSTOM = 'custom (JSON below)';

function clusterPreset(name: string): ClusterSpec {
  const c = CLUSTER_PRESETS[name]!;
  return typeof c === 'function' ? c() : c;
}

function select(id: string, names: string[], chosen: string): HTMLSelectElement {
  const s = h('select', { id });
  for (const n of [...names, CUSTOM]) s.append(h('option', n === chosen ? { value: n, selected: '' } : { value: n }, n));
  return s;
}

export function renderPlansPage(root: HTMLElement, params: URLSearchParams): void {
  const model = select('model', Object.keys(MODEL_PRESETS), params.get('model') ?? 'gpt3-175b');
  const cluster = select('cluster', Object.keys(CLUSTER_PRESETS), params.get('cluster') ?? 'a100-selene');
  const devices = h('input', { id: 'devices', type: 'number', min: '1', placeholder: 'all', value: params.get('devices') ?? (params.get('model') === null ? '1024' : '') });
  const top = h('input', { id: 'top', type: 'number', min: '1', max: '50', value: params.get('top') ?? '5' });
  const modelJson = h('textarea', { id: 'model-json', rows: '6', placeholder: '{"name": ..., "layers": ..., "hidden": ...}' });
  const clusterJson = h('textarea', { id: 'cluster-json', rows: '6', placeholder: '{"name": ..., "devices": ..., "device": ..., "tiers": [...]}' });
  const trainJson = h('textarea', { id: 'train-json', rows: '3', placeholder: 'default: the preset\'s batch; e.g. {"global_batch_tokens": 4194304, "dtype": "bf16", "optimizer": "adam"}' });
  const go = h('button', { id: 'plan-button' }, 'Plan');
  const status = h('p', { class: 'note', id: 'plan-status' });
  const out = h('div', { id: 'plan-result' });
  const fill = (sel: HTMLSelectElement, area: HTMLTextAreaElement, get: (n: string) => unknown) => {
    if (sel.value !== CUSTOM) area.value = JSON.stringify(get(sel.value), null, 1);
  };
  model.addEventListener('change', () => fill(model, modelJson, (n) => MODEL_PRESETS[n]));
  cluster.addEventListener('change', () => fill(cluster, clusterJson, clusterPreset));
  fill(model, modelJson, (n) => MODEL_PRESETS[n]);
  fill(cluster, clusterJson, clusterPreset);
  for (const a of [modelJson, clusterJson]) a.addEventListener('input', () => { (a === modelJson ? model : cluster).value = CUSTOM; });

  const plan = () => {
    status.textContent = 'planning...';
    out.replaceChildren();
    setTimeout(() => {
      try {
        const m = model.value === CUSTOM ? parseModel(JSON.parse(modelJson.value), 'model') : MODEL_PRESETS[model.value]!;
        let c = cluster.value === CUSTOM ? parseCluster(JSON.parse(clusterJson.value), 'cluster') : clusterPreset(cluster.value);
        if (devices.value.trim() !== '') c = withDevices(c, Number(devices.value));
        const t = trainJson.value.trim() === '' ? defaultTraining(m, c.devices) : parseTraining(JSON.parse(trainJson.value), 'training');
        const t0 = performance.now();
        const r = planProblem(m, c, t, Math.max(1, Number(top.value) || 5));
        status.textContent = `planned in the browser in ${((performance.now() - t0) / 1000).toFixed(2)} s`;
        renderPlanReport(out, r);
      } catch (e) {
        status.textContent = '';
        out.replaceChildren(h('p', { class: 'error', id: 'plan-error' }, (e as Error).message));
      }
    }, 0);
  };
  go.addEventListener('click', () => {
    // Preset problems go into the address, so that the page can be bookmarked and shared.
    if (model.value === CUSTOM || cluster.value === CUSTOM || trainJson.value.trim() !== '') return plan();
    const q = new URLSearchParams({ model: model.value, cluster: cluster.value, devices: devices.value, top: top.value, run: '1' });
    const hash = `#/plans?${q.toString()}`;
    if (location.hash === hash) plan();
    else location.hash = hash;
  });
  root.replaceChildren(
    h('h2', {}, 'Plans'),
    h('p', { class: 'note' }, 'The planner runs in this page (no server): choose presets or paste JSON in the forms furnace plan reads.'),
    h('div', { class: 'form' },
      h('label', {}, 'model ', model), h('label', {}, 'cluster ', cluster), h('label', {}, 'devices ', devices), h('label', {}, 'top ', top), go),
    h('details', {}, h('summary', {}, 'JSON: model, cluster, training'), h('div', { class: 'json-inputs' }, modelJson, clusterJson, trainJson)),
    status, out);
  if (params.get('run') !== null) plan();
}
