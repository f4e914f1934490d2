// The final model of a parallel run, streamed tensor by tensor, is the file the whole-model path
// wrote, byte for byte, and the model loader reads it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from '../comm/launch.js';
import { readSafetensors } from '../nn/safetensors.js';
import { loadModel } from './model-dir.js';

const exportCase = new URL('./testing/export.case.js', import.meta.url);

test('threads dp2 with ep2: the streamed model.safetensors equals the whole-model one and loads', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-export-'));
  await launch(exportCase, { ranks: 2, args: { dir }, timeoutS: 50, commTimeoutS: 20 });
  const whole = readFileSync(join(dir, 'whole.safetensors')), streamed = readFileSync(join(dir, 'streamed', 'model.safetensors'));
  assert.ok(whole.length > 10_000, `whole.safetensors has ${whole.length} bytes`);
  assert.ok(whole.equals(streamed), 'the streamed file differs from the whole-model file');
  assert.deepEqual(readdirSync(join(dir, 'streamed')).sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);
  const { model } = await loadModel(join(dir, 'streamed'));
  const expected = readSafetensors(join(dir, 'whole.safetensors'));
  for (const [name, p] of model.namedParameters()) assert.deepEqual(p.data, expected.get(name)?.data, name);
});
