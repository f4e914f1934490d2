// Builds the dashboard's web app (web/) with Vite into dist/web, if the app exists.
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (existsSync(join(root, 'web', 'index.html'))) {
  const { build } = await import('vite');
  await build({ root: join(root, 'web'), configFile: existsSync(join(root, 'web', 'vite.config.ts')) ? join(root, 'web', 'vite.config.ts') : false,
    logLevel: 'warn', build: { outDir: join(root, 'dist', 'web'), emptyOutDir: true } });
}
