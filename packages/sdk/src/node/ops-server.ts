/**
 * The operations endpoint of a long-running service (the oracle daemon, the device agent): `GET /healthz` (JSON,
 * 200 healthy / 503 unhealthy) and `GET /metrics` (Prometheus text from the service's own registry). Node only:
 * exported from `@triad/sdk/node`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface HealthReport {
  healthy: boolean;
  [key: string]: unknown;
}

/** What the endpoint needs of a metrics registry (a prom-client `Registry` fits). */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

export async function startOpsServer(options: {
  port: number;
  host: string;
  registry: MetricsSource;
  health: () => HealthReport | Promise<HealthReport>;
}): Promise<OpsServer> {
  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    const reply = async () => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405).end();
        return;
      }
      if (pathname === "/healthz") {
        const report = await options.health();
        const text = JSON.stringify(report);
        res.writeHead(report.healthy ? 200 : 503, { "content-type": "application/json" }).end(text);
      } else if (pathname === "/metrics") {
        const text = await options.registry.metrics();
        res.writeHead(200, { "content-type": options.registry.contentType }).end(text);
      } else {
        res.writeHead(404, { "content-type": "application/json" }).end('{"error":"try /healthz or /metrics"}');
      }
    };
    reply().catch((error) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: String((error as Error)?.message ?? error) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
