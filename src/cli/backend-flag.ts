// `--backend NAME`: selects the kernel backend for this process (or rank) before any tensor is made.
import { BACKEND_NAMES, type Backend, type BackendName } from '../backends/backend.js';
import { createBackend, defaultThreads } from '../backends/index.js';
import { setBackend } from '../tensor/engine.js';
import { InputError, CheckError } from '../util/errors.js';

export function checkBackendName(flag: string | undefined): BackendName | 'auto' {
  const name = flag ?? 'auto';
  if (name !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new InputError(`--backend: unknown backend '${name}' (choose auto, ${BACKEND_NAMES.join(', ')})`);
  }
  return name as BackendName | 'auto';
}

/** Creates and installs the backend; ranksOnThisMachine sets the GEMM threads per rank. */
export async function useBackend(flag: string | undefined, ranksOnThisMachine = 1): Promise<Backend> {
  const name = checkBackendName(flag);
  let b: Backend;
  try {
    b = await createBackend(name, { threads: defaultThreads(ranksOnThisMachine) });
  } catch (e) {
    throw new CheckError(`--backend: ${(e as Error).message}`);
  }
  setBackend(b);
  return b;
}
