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
  // `npm run dev -w @agentos/dashboard` beside `npm start`: the page on :5173 reaches that api and
  // gateway through these proxies, as one origin. The gateway admits only origins it knows
  // (CORS_ORIGINS; npm start allows the api's), so the proxy presents the api's.
  server: {
    port: 5173,
    proxy: {
      '/api': { target: process.env.DASHBOARD_DEV_API ?? 'http://127.0.0.1:3000' },
      '/socket.io': {
        target: process.env.DASHBOARD_DEV_GATEWAY ?? 'http://127.0.0.1:3001',
        ws: true,
        headers: { origin: process.env.DASHBOARD_DEV_API ?? 'http://127.0.0.1:3000' },
      },
    },
  },
});
