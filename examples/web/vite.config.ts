/**
 * The browser demo: `npm run web` (dev server), `npm run web:build` (static
 * files in examples/web/dist), `npm run web:preview` (serve the build).
 *
 * The app imports `digit-recognizer` by its package name, as a consumer would.
 * Inside this repository the name is not in node_modules, so it is aliased to
 * the package folder and resolved through package.json "exports" with the
 * `digit-recognizer-source` condition, i.e. straight to src/index.ts: no
 * library build step, and edits to src/ hot-reload. An app depending on the
 * published package needs none of this: the default condition gives dist/.
 */
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';
import { writeSampleData } from './scripts/sample-data.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const packageRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Writes the bundled MNIST samples into public/data before serving or building. */
function mnistSamples(): Plugin {
  return {
    name: 'digit-recognizer-mnist-samples',
    config() {
      writeSampleData(fileURLToPath(new URL('./public/data', import.meta.url)));
    },
  };
}

export default defineConfig({
  root: here,
  // Relative asset URLs: the build works from any folder or sub-path.
  base: './',
  plugins: [mnistSamples()],
  resolve: {
    alias: [{ find: /^digit-recognizer$/, replacement: packageRoot }],
    conditions: ['digit-recognizer-source', ...defaultClientConditions],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // TensorFlow.js with three backends is one large chunk; that is expected.
    chunkSizeWarningLimit: 3000,
  },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
});
