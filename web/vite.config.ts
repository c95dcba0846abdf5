// Vite build of the console into web/dist, which the zhulao binary serves (crates/web).
// `npm run dev` proxies the API to a running zhulao (ZHULAO_URL, default the demo's address).
import { defineConfig } from 'vite';

const api = process.env.ZHULAO_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    // The district outline is read from the demo crate's data (one copy in the repository).
    assetsInlineLimit: 0,
  },
  server: {
    fs: { allow: ['..'] },
    proxy: { '/api': { target: api, changeOrigin: false }, '/metrics': api, '/healthz': api },
  },
});
