import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  plugins: [react()],
  resolve: {
    // The workspace packages from their TypeScript sources: ES modules the bundler can shake
    // (their dist/ is CommonJS, which it keeps whole).
    alias: {
      '@agentos/client': source('../../packages/client/src/index.ts'),
      '@agentos/contracts': source('../../packages/contracts/src/index.ts'),
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Maps for debugging a build locally; serve.cjs does not serve them.
    sourcemap: 'hidden',
    // Hashed names (assets/[name]-[hash].js) are what lets serve.cjs cache them for a year.
    assetsDir: 'assets',
    chunkSizeWarningLimit: 400,
  },
  server: { port: 5173 },
});
