// Runs after tsc: compiles the AssemblyScript kernels (if any) and marks the CLI executable.
import { chmodSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist/cli/main.js');
if (existsSync(bin)) chmodSync(bin, 0o755);

// Each assembly/<name>.ts entry becomes dist/wasm/<name>.wasm.
const asmDir = join(root, 'assembly');
if (existsSync(asmDir)) {
  const entries = readdirSync(asmDir).filter((f) => f.endsWith('.entry.ts'));
  if (entries.length > 0) {
    mkdirSync(join(root, 'dist/wasm'), { recursive: true });
    const asc = join(root, 'node_modules/assemblyscript/bin/asc.js');
    for (const f of entries) {
      const name = f.replace(/\.entry\.ts$/, '');
      execFileSync(process.execPath, [asc, join(asmDir, f), '-o', join(root, `dist/wasm/${name}.wasm`),
        '-O3', '--runtime', 'stub', '--enable', 'simd', '--enable', 'relaxed-simd', '--importMemory',
        '--sharedMemory', '--initialMemory', '16', '--maximumMemory', '65536', '--noAssert'], { stdio: 'inherit' });
    }
  }
}
