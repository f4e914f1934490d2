// Vite build of the dashboard app: relative asset paths and no preload helper, so that
// scripts/build-web.mjs can inline everything into one index.html that also works from file://.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  build: { modulePreload: false, cssCodeSplit: false, assetsInlineLimit: 1 << 20, target: 'es2022', chunkSizeWarningLimit: 2000 },
});
