// Export: one standard .safetensors file with every tensor assembled whole (sharded experts merged).
import { open, rename, rm } from 'node:fs/promises';
import { CheckpointReader, type ReadOptions } from './load.js';
import { volume } from './box.js';
import { layoutSafetensors } from './safetensors.js';
import { writeAll } from '../util/durable.js';

export interface ExportResult {
  tensors: number;
  /** Bytes of the written file. */
  bytes: number;
}

/**
 * Writes `out` (atomically, via `out.tmp`) holding each tensor of the checkpoint under its key
 * with its global shape; the step and `meta` go into `__metadata__` as JSON strings. Memory: one
 * whole tensor at a time.
 */
export async function exportSafetensors(dir: string, out: string, opts: ReadOptions = {}): Promise<ExportResult> {
  const reader = await CheckpointReader.open(dir, opts);
  const tmp = `${out}.tmp`;
  try {
    const tensors = reader.manifest.tensors;
    const layout = layoutSafetensors(tensors.map((t) => ({ name: t.key, shape: t.globalShape, bytes: 4 * volume(t.globalShape) })),
      { format: 'pt', furnace_step: String(reader.step), furnace_meta: JSON.stringify(reader.meta) });
    const fh = await open(tmp, 'w');
    try {
      await writeAll(fh, layout.header, 0, layout.header.length, 0);
      for (let i = 0; i < tensors.length; i++) {
        const data = await reader.read(tensors[i]!.key);
        await writeAll(fh, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 0, data.byteLength, layout.ranges[i]![0]);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, out);
    return { tensors: tensors.length, bytes: layout.fileBytes };
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    await reader.close();
  }
}
