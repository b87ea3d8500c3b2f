// Builds the dashboard into one script and one stylesheet with fixed names
// (dist/dashboard.js, dist/dashboard.css), which crates/usher-api/src/dashboard.rs
// embeds with include_bytes! and serves under names hashed from their content. Usher
// renders the HTML page itself, so there is no index.html here: the entry is the script.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  // Preact's automatic JSX runtime through Vite's own transform: no Babel needed.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  logLevel: 'warn',
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    target: 'es2022',
    cssCodeSplit: false,
    modulePreload: false,
    reportCompressedSize: false,
    rolldownOptions: {
      input: here('src/main.jsx'),
      output: {
        format: 'es',
        entryFileNames: 'dashboard.js',
        assetFileNames: 'dashboard[extname]',
        codeSplitting: false,
      },
    },
  },
});
