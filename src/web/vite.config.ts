// Build of the dashboard (`vite build src/web`, run by scripts/ensure-deps.mjs) into src/web/dist, served by the
// coordinator at `/`. Everything is bundled (no CDN, no external fonts). The entry holds React, the shell and the
// operator's fleet page; the other pages and uPlot are chunks loaded with import() when first shown. index.html
// gets the inline script that starts the first API calls while the bundle loads (prefetch.ts).
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { prefetchScript } from './prefetch.ts';

function prefetch(): Plugin {
  return {
    name: 'hearth-prefetch',
    // At the marker (before the stylesheet: a classic script waits for the stylesheets above it).
    transformIndexHtml: (html) => html.replace('<!--hearth-prefetch-->', `<script>${prefetchScript()}</script>`),
  };
}

export default defineConfig({
  plugins: [react(), prefetch()],
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1024 },
});
