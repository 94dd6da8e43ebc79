/**
 * Serves the web app for the local stack: the Vite dev server (mode "dev", hot reload) or the built files of
 * apps/web/dist (mode "static", `npm run app:build` first) through `vite preview`, with /config.json answered from
 * memory and same-origin proxies to the stack's services (the gateway, the evidence store and the monitor feed send
 * no CORS headers). 127.0.0.1 only.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { Connect, Plugin, ProxyOptions } from "vite";
import { TriadError } from "@triad/sdk";

const APP_DIR = path.resolve(import.meta.dirname, "..");

export interface ServeOptions {
  mode: "dev" | "static";
  /** 0 = any free port. */
  port: number;
  /** What /config.json answers. */
  config: unknown;
  /** Same-origin path prefix → service URL ("/gateway" → "http://127.0.0.1:40123"). */
  proxies: Record<string, string>;
}

export interface AppServer {
  url: string;
  close(): Promise<void>;
}

function configJson(config: unknown): Plugin {
  const handler: Connect.NextHandleFunction = (req, res, next) => {
    if (req.url?.split("?")[0] !== "/config.json") return next();
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "no-store");
    res.end(JSON.stringify(config));
  };
  return {
    name: "triad-config-json",
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}

function proxyTable(proxies: Record<string, string>): Record<string, ProxyOptions> {
  return Object.fromEntries(
    Object.entries(proxies).map(([prefix, target]) => [
      prefix,
      { target, changeOrigin: true, rewrite: (p: string) => p.slice(prefix.length) || "/", ws: false } satisfies ProxyOptions,
    ]),
  );
}

export async function serveApp(options: ServeOptions): Promise<AppServer> {
  const vite = await import("vite");
  const common = {
    configFile: path.join(APP_DIR, "vite.config.ts"),
    root: APP_DIR,
    logLevel: "warn" as const,
    plugins: [configJson(options.config)],
    clearScreen: false,
  };
  const net = { host: "127.0.0.1", port: options.port, strictPort: options.port !== 0, proxy: proxyTable(options.proxies) };
  if (options.mode === "static") {
    if (!existsSync(path.join(APP_DIR, "dist", "index.html"))) {
      throw new TriadError("apps/web/dist has no build: run npm run app:build first (or serve in dev mode)", "NO_BUILD");
    }
    const server = await vite.preview({ ...common, preview: { ...net, open: false } });
    const url = server.resolvedUrls?.local[0] ?? `http://127.0.0.1:${options.port}/`;
    return { url, close: () => server.close() };
  }
  const server = await vite.createServer({ ...common, server: { ...net, open: false, hmr: true } });
  await server.listen();
  const url = server.resolvedUrls?.local[0] ?? `http://127.0.0.1:${options.port}/`;
  return { url, close: () => server.close() };
}
