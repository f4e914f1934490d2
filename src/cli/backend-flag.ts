// `--backend NAME`: selects the kernel backend for this process before any tensor is made.
import { BACKEND_NAMES, type Backend, type BackendName } from '../backends/backend.js';
import { JsBackend } from '../backends/js.js';
import { setBackend } from '../tensor/engine.js';
import { UsageError, RuntimeError } from './util.js';

export async function useBackend(flag: string | undefined): Promise<Backend> {
  const name = flag ?? 'auto';
  if (name !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`--backend: unknown backend '${name}' (choose auto, ${BACKEND_NAMES.join(', ')})`);
  }
  let b: Backend;
  if (name === 'js') {
    b = new JsBackend();
  } else {
    const path = '../backends/index.js';
    type Factory = { createBackend?: (n: BackendName | 'auto') => Promise<Backend> };
    const mod: Factory | null = await import(path).then((m: Factory) => m, () => null);
    if (mod === null || mod.createBackend === undefined) {
      if (name !== 'auto') throw new RuntimeError(`--backend: '${name}' is not available in this build`);
      b = new JsBackend();
    } else {
      b = await mod.createBackend(name as BackendName | 'auto');
    }
  }
  setBackend(b);
  return b;
}
