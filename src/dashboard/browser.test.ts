// End to end in a real headless browser (Debian's chromium via playwright-core): charts have one point per
// record, a live run updates without reload, the plans page finds the CLI's best plan, pages are not blank.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { appendRecords, cleanTiny, furnace, microTrain, writeRun } from './testing/fixtures.js';
import { appHtmlPath } from './report.js';
import { startDashboard, type Dashboard } from './server.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (Debian package chromium; .ci/run installs it)`;
const dir = mkdtempSync(join(tmpdir(), 'furnace-browser-'));
const runs = join(dir, 'runs');
/** Screenshots land here (FURNACE_SCREENSHOTS, or a temporary folder) for people to look at. */
const shots = process.env['FURNACE_SCREENSHOTS'] ?? join(dir, 'screenshots');
let browser: BrowserContext | undefined;
let dash: Dashboard | undefined;

before(async () => {
  if (skip !== false) return;
  mkdirSync(runs, { recursive: true });
  mkdirSync(shots, { recursive: true });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'furnace-chromium-')), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  dash = await startDashboard({ runs, port: 0, pollMs: 100 });
});

after(async () => {
  await browser?.close();
  await dash?.close();
});

const pageErrors = new WeakMap<Page, string[]>();

async function open(url: string): Promise<Page> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  pageErrors.set(page, errors);
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  return page;
}

/** Closes a page opened by `open`; no script error may have happened in it. */
async function done(page: Page): Promise<void> {
  await page.close();
  assert.deepEqual(pageErrors.get(page), [], 'errors in the page');
}

const attr = (page: Page, sel: string, name: string) => page.getAttribute(sel, name, { timeout: 20000 });

/** Fraction of pixels that differ from the most common colour, and the number of distinct colours, of a
 * PNG, decoded by the browser itself. (Page code is passed as text: this project's types have no DOM.) */
async function inked(png: Buffer): Promise<{ ink: number; colours: number }> {
  const p = await browser!.newPage();
  await p.setContent(`<img id="s" src="data:image/png;base64,${png.toString('base64')}">`);
  await p.waitForFunction('document.getElementById("s").complete');
  const r = await p.evaluate<{ ink: number; colours: number }>(`(() => {
    const img = document.getElementById('s');
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const counts = new Map();
    for (let i = 0; i < d.length; i += 4) { const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2]; counts.set(k, (counts.get(k) ?? 0) + 1); }
    const top = Math.max(...counts.values());
    return { ink: 1 - top / (d.length / 4), colours: counts.size };
  })()`);
  await p.close();
  return r;
}

test('a tiny real run: every chart has one point per logged step, one heatmap per MoE layer', { skip }, async () => {
  microTrain(dir, join(runs, 'micro'));
  writeRun(join(runs, 'synthetic'), 23, true);
  const page = await open(`${dash!.url}#/runs/micro`);
  for (const title of ['loss', 'tokens/s', 'learning rate', 'time split per step (s)']) {
    assert.equal(await attr(page, `.chart[data-title="${title}"][data-points="3"]`, 'data-points'), '3', title);
  }
  assert.equal(await page.locator('.heatmap').count(), 1);
  assert.equal(await attr(page, '.heatmap[data-layer="0"]', 'data-points'), '3');
  assert.equal(await attr(page, '.heatmap[data-layer="0"]', 'data-experts'), '2');
  // The micro run balances without the auxiliary loss: the last step's router bias is shown.
  const lastBias = (JSON.parse(readFileSync(join(runs, 'micro', 'metrics.jsonl'), 'utf8').trim().split('\n').pop()!) as { router_bias: number[][] }).router_bias[0]!;
  assert.equal(await attr(page, '.heatmap[data-layer="0"]', 'data-bias'), lastBias.map((b) => b.toFixed(4)).join(' '));
  assert.match((await page.locator('.heatmap[data-layer="0"] .bias').textContent()) ?? '', /router bias/);
  assert.equal(await page.locator('.chart .uplot canvas').count(), 5);
  // The plotted line ends at the last logged loss: hover the right edge and read uPlot's legend.
  const lastLoss = (JSON.parse(readFileSync(join(runs, 'micro', 'metrics.jsonl'), 'utf8').trim().split('\n').pop()!) as { loss: number }).loss;
  const over = page.locator('.chart[data-title="loss"] .u-over');
  const box = (await over.boundingBox())!;
  await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
  const shown = await page.locator('.chart[data-title="loss"] .u-legend .u-series').nth(1).locator('.u-value').textContent();
  assert.ok(Math.abs(Number(shown) - lastLoss) < 1e-3 * lastLoss, `legend shows ${shown}, last loss ${lastLoss}`);
  await page.goto(`${dash!.url}#/runs/synthetic`);
  // 23 steps; validation every 5th step (4 points); MFU recorded on every step.
  assert.equal(await attr(page, '.chart[data-title="loss"][data-points="23"]', 'data-series-points'), '23,4');
  assert.equal(await attr(page, '.chart[data-title="MFU"][data-points="23"]', 'data-series-points'), '23');
  assert.equal(await page.locator('.heatmap[data-points="23"]').count(), 2);
  // Two runs ticked on the runs page: one line each on the union of their steps.
  await page.goto(`${dash!.url}#/runs`);
  await page.check('input[data-run="micro"]', { timeout: 20000 });
  await page.check('input[data-run="synthetic"]');
  await page.click('#compare');
  assert.equal(await attr(page, '.chart[data-title="loss by run"][data-points="23"]', 'data-series-points'), '3,23');
  assert.equal(await attr(page, '.chart[data-title="validation loss by run"]', 'data-series-points'), '1,4');
  await done(page);
});

test('a run in progress updates without a reload, and shows done when summary.json appears', { skip }, async () => {
  const run = join(runs, 'live');
  writeRun(run, 3, false);
  const page = await open(`${dash!.url}#/runs/live`);
  await attr(page, '.chart[data-title="loss"][data-points="3"]', 'data-points');
  assert.equal(await page.textContent('#run-status'), 'running');
  await page.evaluate('window.marker = "same page"');
  appendRecords(run, 3, 8);
  assert.equal(await attr(page, '.chart[data-title="loss"][data-points="8"]', 'data-series-points'), '8,1');
  assert.equal(await attr(page, '.chart[data-title="tokens/s"][data-points="8"]', 'data-points'), '8');
  assert.equal(await attr(page, '.heatmap[data-layer="1"][data-points="8"]', 'data-points'), '8');
  writeFileSync(join(run, 'summary.json'), JSON.stringify({ steps: 8 }));
  await page.waitForSelector('#run-status.done', { timeout: 20000 });
  assert.equal(await page.evaluate<string>('window.marker'), 'same page');
  await done(page);
});

test('with a token, the page opened at the printed URL works, live updates included; without it nothing loads', { skip }, async () => {
  const run = join(runs, 'guarded');
  writeRun(run, 2, false);
  const guarded = await startDashboard({ runs, port: 0, pollMs: 100, token: 'tok en/+' });
  try {
    const page = await open(`${guarded.url}?token=${encodeURIComponent('tok en/+')}#/runs/guarded`);
    await attr(page, '.chart[data-title="loss"][data-points="2"]', 'data-points');
    appendRecords(run, 2, 4);
    await attr(page, '.chart[data-title="loss"][data-points="4"]', 'data-points');
    await done(page);
    const bare = await browser!.newPage();
    await bare.context().clearCookies();
    const r = await bare.goto(`${guarded.url}#/runs/guarded`);
    assert.equal(r?.status(), 401);
    await bare.close();
  } finally {
    await guarded.close();
  }
});

const PRESET = ['bagualu-14.5t', 'sunway-oceanlight', '4096'] as const;

interface CliPlan { plans: Record<string, unknown>[]; searched: number; explanation: string[] }
let cached: CliPlan | undefined;

/** What `furnace plan --json` prints for PRESET. */
function cli(): CliPlan {
  if (cached !== undefined) return cached;
  const r = furnace(['plan', '--model', `preset:${PRESET[0]}`, '--cluster', `preset:${PRESET[1]}`, '--devices', PRESET[2], '--json']);
  assert.equal(r.code, 0, r.stderr);
  return cached = JSON.parse(r.stdout.trim().split('\n').pop()!) as CliPlan;
}

/** The CLI's best plan in its JSON form (the planner's own fields). */
function cliBest(): Record<string, unknown> {
  const { dp, tp, pp, ep, zero, micro_batch, recompute, placement, pp_layers, virtual_stages } = cli().plans[0]!;
  return { dp, tp, pp, ep, zero, micro_batch, recompute, placement,
    ...(pp_layers !== undefined ? { pp_layers } : {}), ...(virtual_stages !== undefined ? { virtual_stages } : {}) };
}

test('the plans page, planning in the browser, gives the CLI\'s best plan for a preset', { skip }, async () => {
  const want = cliBest();
  const page = await open(`${dash!.url}#/plans?model=${PRESET[0]}&cluster=${PRESET[1]}&devices=${PRESET[2]}&run=1`);
  const best = JSON.parse((await attr(page, '#plans', 'data-best'))!) as Record<string, unknown>;
  assert.deepEqual(best, want);
  assert.match((await page.textContent('.facts-line')) ?? '', new RegExp(`searched ${cli().searched} candidate plans`));
  assert.deepEqual(await page.locator('.explanation li').allTextContents(), cli().explanation);
  assert.ok((await page.locator('svg.topology .device').count()) >= 8);
  assert.ok((await page.locator('svg.bar .part').count()) >= 2);
  // Pasted JSON goes through the planner's validation: a wrong field is named.
  await page.click('details summary');
  await page.fill('#cluster-json', JSON.stringify({ name: 'x', devices: 8, device: { flops: { fp32: 1, bf16: 1 }, memory_bytes: 1, memory_bandwidth: 1 }, tiers: [], typo: 1 }));
  await page.fill('#devices', '');
  await page.click('#plan-button');
  assert.match((await page.textContent('#plan-error', { timeout: 20000 })) ?? '', /cluster\.typo: unknown key/);
  await done(page);
});

test('screenshots of the run and plans pages are not blank', { skip }, async () => {
  for (const [name, url, ready] of [
    ['run', `${dash!.url}#/runs/synthetic`, '.chart[data-title="loss"][data-points="23"] canvas'],
    ['plans', `${dash!.url}#/plans?model=${PRESET[0]}&cluster=${PRESET[1]}&devices=${PRESET[2]}&run=1`, 'svg.topology'],
  ] as const) {
    const page = await open(url);
    await page.waitForSelector(ready, { timeout: 20000 });
    const png = await page.screenshot({ fullPage: true, path: join(shots, `${name}.png`) });
    const { ink, colours } = await inked(png);
    assert.ok(ink > 0.05 && colours > 50, `${name}: ${(100 * ink).toFixed(1)}% inked, ${colours} colours`);
    await done(page);
  }
});

test('the data page shows documents per stage and the removed duplicate with its sample', { skip }, async () => {
  cleanTiny(dir, join(runs, 'cleaned'));
  const page = await open(`${dash!.url}#/data`);
  await page.click('a[href="#/data/cleaned"]', { timeout: 20000 });
  await page.waitForSelector('details[data-reason="exact_duplicate"]', { timeout: 20000 }); // the report arrives by fetch
  assert.equal(await page.locator('#stages tr[data-stage]').count(), 6);
  assert.deepEqual(await page.locator('#stages tr[data-stage="exact_dedup"] td').allTextContents().then((t) => t.slice(1, 4)), ['4', '3', '1']);
  assert.match((await page.textContent('details[data-reason="exact_duplicate"]')) ?? '', /copy .*duplicate of d0/);
  await page.screenshot({ fullPage: true, path: join(shots, 'data.png') });
  await done(page);
});

test('offline: the built app from file:// plans in the page, and a plan report renders its best plan', { skip }, async () => {
  const page = await open(`${pathToFileURL(appHtmlPath()).href}#/plans?model=${PRESET[0]}&cluster=${PRESET[1]}&devices=${PRESET[2]}&run=1`);
  assert.deepEqual(JSON.parse((await attr(page, '#plans', 'data-best'))!), cliBest());
  const file = join(dir, 'plan-report.html');
  const r = furnace(['plan', '--model', `preset:${PRESET[0]}`, '--cluster', `preset:${PRESET[1]}`, '--devices', PRESET[2], '--report', file]);
  assert.equal(r.code, 0, r.stderr);
  await page.goto(pathToFileURL(file).href);
  assert.deepEqual(JSON.parse((await attr(page, '#plans', 'data-best'))!), cliBest());
  assert.equal(await page.locator('#nav').count(), 0);
  await page.screenshot({ fullPage: true, path: join(shots, 'plan-report.png') });
  await done(page);
});
