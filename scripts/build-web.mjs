// Builds the dashboard's web app (web/) with Vite into dist/web, then inlines its script and style so that
// dist/web/index.html is one self-contained file: it works from file:// (the plans page offline) and the
// static reports (src/dashboard/report.ts) embed it as it is.
import { existsSync, readFileSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
if (existsSync(join(web, 'index.html'))) {
  // Type-check the app (the root tsconfig covers src/ only).
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(web, 'tsconfig.json')], { stdio: 'inherit' });
  const { build } = await import('vite');
  const outDir = join(root, 'dist', 'web');
  await build({ root: web, configFile: join(web, 'vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  let html = readFileSync(join(outDir, 'index.html'), 'utf8');
  const asset = (ref) => readFileSync(join(outDir, ref.replace(/^\.\//, '')), 'utf8');
  // A '</script' or '<!--' inside inlined code would end the element early; '<\/' means the same in JS.
  html = html.replace(/<script type="module" crossorigin src="([^"]+)"><\/script>/g,
    (_, src) => `<script type="module">${asset(src).replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--')}</script>`);
  html = html.replace(/<link rel="stylesheet" crossorigin href="([^"]+)">/g, (_, href) => `<style>${asset(href)}</style>`);
  if (/<script[^>]+src=|<link[^>]+stylesheet/.test(html)) throw new Error('build-web: an asset was left outside index.html');
  writeFileSync(join(outDir, 'index.html'), html);
  if (existsSync(join(outDir, 'assets'))) {
    for (const f of readdirSync(join(outDir, 'assets'))) rmSync(join(outDir, 'assets', f));
    rmSync(join(outDir, 'assets'), { recursive: true });
  }
}
