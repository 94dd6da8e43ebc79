import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

/**
 * The SDK and the bindings are side-effect free (pure functions, classes and constants). Saying so lets the bundler
 * leave a page's SDK modules (Merkle trees, encryption, evidence) in that page's lazy chunk when the shell imports
 * the SDK's barrel for a few helpers; otherwise every module the barrel re-exports lands in the initial chunk.
 */
function sideEffectFree(): Plugin {
  return {
    name: "triad-side-effect-free",
    transform(code, id) {
      if (!/[\\/]packages[\\/](sdk[\\/]src|contracts[\\/]types)[\\/]/.test(id)) return null;
      return { code, map: null, moduleSideEffects: false };
    },
  };
}

/**
 * The app never deploys contracts: the creation bytecode TypeChain puts in each factory (tens of KB per contract)
 * is replaced by "0x" in the bundle, keeping only the ABIs the app calls through.
 */
function stripBytecode(): Plugin {
  return {
    name: "triad-strip-bytecode",
    transform(code, id) {
      if (!/[\\/]packages[\\/]contracts[\\/]types[\\/]factories[\\/]/.test(id)) return null;
      return { code: code.replace(/const _bytecode =\s*"0x[0-9a-fA-F]*";/, 'const _bytecode = "0x";'), map: null };
    },
  };
}

/**
 * The web app's build (`npm run app:build` → apps/web/dist) and dev server (`npm run app` starts it through
 * scripts/app.ts with the stack's /config.json and the gateway proxy added). Routes are lazy chunks: the initial
 * JavaScript is the shell, the wallet and the SDK parts it needs.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  plugins: [react(), stripBytecode(), sideEffectFree()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
});
