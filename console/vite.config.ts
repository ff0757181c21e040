import { defineConfig } from 'vite';

// The gateway serves the built files under /console/ with `default-src 'self'`, so the build
// must not rely on inline scripts or styles: no module-preload polyfill (it is injected inline
// in some setups) and CSS always in files.
export default defineConfig({
  base: '/console/',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
});
