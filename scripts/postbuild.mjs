// Runs after tsc: compiles the AssemblyScript kernels and marks the CLI executable.
import { chmodSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist/cli/main.js');
if (existsSync(bin)) chmodSync(bin, 0o755);

// Each assembly/<name>.entry.ts becomes two modules over one imported shared memory:
//   dist/wasm/<name>.wasm          plain SIMD (runs on any Node 20)
//   dist/wasm/<name>.relaxed.wasm  relaxed SIMD as well (ASC_FEATURE_RELAXED_SIMD: f32x4.relaxed_madd is an FMA)
// The loader picks the relaxed build only when the runtime validates relaxed SIMD.
const asmDir = join(root, 'assembly');
if (existsSync(asmDir)) {
  const entries = readdirSync(asmDir).filter((f) => f.endsWith('.entry.ts'));
  if (entries.length > 0) {
    mkdirSync(join(root, 'dist/wasm'), { recursive: true });
    const asc = join(root, 'node_modules/assemblyscript/bin/asc.js');
    const common = ['-O3', '--runtime', 'stub', '--enable', 'simd', '--enable', 'threads', '--importMemory',
      '--sharedMemory', '--initialMemory', '16', '--maximumMemory', '65536', '--noAssert'];
    for (const f of entries) {
      const name = f.replace(/\.entry\.ts$/, '');
      const variants = [[`${name}.wasm`, []], [`${name}.relaxed.wasm`, ['--enable', 'relaxed-simd']]];
      for (const [out, extra] of variants) {
        execFileSync(process.execPath, [asc, join(asmDir, f), '-o', join(root, 'dist/wasm', out), ...common, ...extra],
          { stdio: 'inherit' });
      }
    }
  }
}
