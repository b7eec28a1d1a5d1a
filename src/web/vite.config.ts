// Build of the dashboard (`vite build src/web`, run by scripts/ensure-deps.mjs): one bundle in src/web/dist that
// the coordinator serves at `/`. Everything is bundled (no CDN, no external fonts).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1024 },
});
