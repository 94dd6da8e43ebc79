import { existsSync, mkdtempSync, renameSync, rmSync, rmdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { build, preview, type Connect, type PreviewServer, type ProxyOptions } from "vite";
import { startAppStack, type AppStack, type AppStackOptions } from "../../../apps/web/scripts/stack.ts";

/**
 * The local stack a browser test drives: the one `npm run app` runs (apps/web/scripts/stack.ts — a `hardhat node`,
 * the deployment, the evidence store, a gateway with simulated devices publishing over MQTT, the 2-of-3 oracle
 * committee), always fresh for a test: its own node on a free port and the deployment record in a temporary folder.
 *
 * The app is its production build (`vite build`, what a static host serves), made into a private folder and served
 * here on a free port the way the stack's server does it (/config.json from the stack, same-origin proxies to the
 * gateway, the evidence store and the monitor feed): a dev server would reload the page whenever another process
 * rewrites a source it watches (the generated contract bindings, say), and a build in apps/web/dist could be replaced
 * under a running test by anyone's `npm run app:build`.
 *
 * `npm run deploy` keeps its Ignition journal inside the project (packages/devkit/ignition/deployments/chain-31337):
 * a journal someone's own local node uses is set aside while the stack runs and put back afterwards, as
 * e2e/cli.test.ts does.
 */

const IGNITION_JOURNAL = path.resolve(import.meta.dirname, "../../../packages/devkit/ignition/deployments/chain-31337");
const APP = path.resolve(import.meta.dirname, "../../../apps/web");

export interface TestStack extends AppStack {
  appUrl: string;
  close(): Promise<void>;
}

/** The production build of the app into `outDir` (what `npm run app:build` makes in apps/web/dist). */
export async function buildApp(outDir: string): Promise<void> {
  await build({ configFile: path.join(APP, "vite.config.ts"), root: APP, logLevel: "warn", build: { outDir, emptyOutDir: true } });
}

/** Serves the build in `outDir` on 127.0.0.1 with the stack's /config.json and its same-origin proxies. */
async function serveBuild(outDir: string, stack: AppStack): Promise<PreviewServer> {
  const config = JSON.stringify(stack.browserConfig);
  const configJson: Connect.NextHandleFunction = (req, res, next) => {
    if (req.url?.split("?")[0] !== "/config.json") return next();
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "no-store");
    res.end(config);
  };
  const proxy: Record<string, ProxyOptions> = {};
  for (const [target, prefix] of Object.entries(stack.browserConfig.proxied ?? {})) {
    proxy[prefix] = { target, changeOrigin: true, rewrite: (p: string) => p.slice(prefix.length) || "/", ws: false };
  }
  return preview({
    configFile: path.join(APP, "vite.config.ts"),
    root: APP,
    logLevel: "warn",
    build: { outDir },
    preview: { host: "127.0.0.1", port: 0, strictPort: false, open: false, proxy },
    plugins: [{ name: "triad-test-config-json", configurePreviewServer: (server) => void server.middlewares.use(configJson) }],
  });
}

export async function startTestStack(options: Omit<AppStackOptions, "serve"> = {}): Promise<TestStack> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "triad-web-e2e-"));
  const dist = path.join(tmp, "dist");
  try {
    await buildApp(dist);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`the app did not build: ${(error as Error).message}`, { cause: error });
  }
  const createdParent = !existsSync(path.dirname(IGNITION_JOURNAL));
  let backup: string | undefined;
  if (existsSync(IGNITION_JOURNAL)) {
    backup = `${IGNITION_JOURNAL}.web-e2e-backup-${process.pid}`;
    renameSync(IGNITION_JOURNAL, backup);
  }
  const restore = () => {
    rmSync(IGNITION_JOURNAL, { recursive: true, force: true });
    if (backup) renameSync(backup, IGNITION_JOURNAL);
    else if (createdParent) {
      try {
        rmdirSync(path.dirname(IGNITION_JOURNAL)); // only when nothing else appeared there meanwhile
      } catch {
        // not empty: leave it
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  };
  let stack: AppStack;
  try {
    stack = await startAppStack({
      freshChain: true,
      deploymentsDir: path.join(tmp, "deployments"),
      workDir: path.join(tmp, "work"),
      logLevel: "error",
      ...options,
      serve: "none",
    });
  } catch (error) {
    restore();
    throw new Error(`the local stack did not start: ${(error as Error).message}`, { cause: error });
  }
  let server: PreviewServer;
  try {
    server = await serveBuild(dist, stack);
  } catch (error) {
    await stack.stop();
    restore();
    throw new Error(`the app's server did not start: ${(error as Error).message}`, { cause: error });
  }
  const address = server.httpServer.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    ...stack,
    appUrl: `http://127.0.0.1:${port}/`,
    async close() {
      try {
        await server.close();
        await stack.stop();
      } finally {
        restore();
      }
    },
  };
}
