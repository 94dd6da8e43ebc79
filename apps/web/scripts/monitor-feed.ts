/**
 * The failure-risk feed of the web app's device page: the gateway's AI monitor publishes alerts over MQTT
 * (`triad/v1/{chainId}/{device}/alerts`, docs/protocol.md §5.3) but keeps its per-reading scores to itself, and the
 * model (TensorFlow.js, several MB) does not belong in a browser bundle. This small HTTP service, run by the app's
 * stack next to the gateway, scores the gateway's stored readings with the same shipped model and the same code as
 * the monitor (`scoreReadings` of `@triad/oracle/monitor`) and collects the alerts from the broker:
 *
 *   GET /v1/devices/{device}/risk?from=<unix s>   {modelHash, thresholds, points: [{seq, timestamp, riskBps | null,
 *                                                  modes}], alerts: [triad.alert/v1…]}  (at most 1000 readings)
 *   GET /healthz
 *
 * Scores are cached per reading (a reading never changes). JSON, 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getAddress, isAddress } from "ethers";
import mqtt from "mqtt";
import type { Logger } from "pino";
import { loadModel } from "@triad/oracle/model";
import { DEFAULT_ALERT_THRESHOLDS, alertToWire, parseAlert, scoreReadings, type WireAlert } from "@triad/oracle/monitor";

export interface MonitorFeed {
  url: string;
  close(): Promise<void>;
}

interface GatewayReading {
  device: string;
  seq: string;
  timestamp: string;
  values: string[];
}

interface RiskPoint {
  seq: string;
  timestamp: string;
  riskBps: number | null;
  modes: Record<string, number>;
}

const MAX_ALERTS = 200;
const MAX_READINGS = 1000;

export async function startMonitorFeed(options: {
  gatewayUrl: string;
  mqttUrl: string;
  chainId: bigint;
  logger: Logger;
  port?: number;
}): Promise<MonitorFeed> {
  const model = await loadModel();
  const scores = new Map<string, RiskPoint>();
  const alerts = new Map<string, WireAlert[]>();

  const client = await mqtt.connectAsync(options.mqttUrl, { clientId: `triad-app-monitor-feed-${process.pid}`, reconnectPeriod: 1000 });
  await client.subscribeAsync(`triad/v1/${options.chainId}/+/alerts`, { qos: 1 });
  client.on("message", (_topic, payload) => {
    try {
      const alert = alertToWire(parseAlert(payload));
      const list = alerts.get(alert.device) ?? [];
      list.push(alert);
      alerts.set(alert.device, list.slice(-MAX_ALERTS));
    } catch (err) {
      options.logger.warn({ err: (err as Error).message }, "monitor feed: unreadable alert");
    }
  });

  const riskOf = async (device: string, from: bigint): Promise<RiskPoint[]> => {
    const readings: GatewayReading[] = [];
    for (let after: string | null = null; readings.length < MAX_READINGS;) {
      const url = `${options.gatewayUrl}/v1/devices/${device}/readings?from=${from}&limit=1000${after ? `&after=${after}` : ""}`;
      const res = await fetch(url);
      if (res.status === 404) break;
      if (!res.ok) throw new Error(`the gateway answered ${res.status}`);
      const page = (await res.json()) as { readings: GatewayReading[]; next: string | null };
      readings.push(...page.readings);
      if (!page.next) break;
      after = page.next;
    }
    const kept = readings.slice(-MAX_READINGS);
    const todo = kept.filter((r) => !scores.has(`${device}:${r.seq}`));
    if (todo.length > 0) {
      const results = await scoreReadings(
        model,
        todo.map((r) => ({ device, seq: BigInt(r.seq), timestamp: BigInt(r.timestamp), values: r.values.map(BigInt) })),
      );
      todo.forEach((r, i) => {
        const s = results[i];
        scores.set(`${device}:${r.seq}`, {
          seq: r.seq,
          timestamp: r.timestamp,
          riskBps: s.kind === "scored" ? s.riskBps : null,
          modes: s.kind === "scored" ? s.modeProbabilitiesBps : {},
        });
      });
    }
    return kept.map((r) => scores.get(`${device}:${r.seq}`)!);
  };

  const send = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const parts = url.pathname.split("/").filter(Boolean);
    if (url.pathname === "/healthz") return send(res, 200, { healthy: client.connected, modelHash: model.modelHash });
    if (parts.length === 4 && parts[0] === "v1" && parts[1] === "devices" && parts[3] === "risk") {
      const raw = decodeURIComponent(parts[2]);
      const shown = raw.slice(0, 60);
      if (!isAddress(raw)) return send(res, 400, { error: `"${shown}" is not a device address` });
      const device = getAddress(raw);
      const fromRaw = url.searchParams.get("from") ?? "0";
      if (!/^\d{1,12}$/.test(fromRaw)) return send(res, 400, { error: "from must be a unix time in seconds" });
      riskOf(device, BigInt(fromRaw)).then(
        (points) =>
          send(res, 200, {
            device,
            modelHash: model.modelHash,
            thresholds: DEFAULT_ALERT_THRESHOLDS,
            points,
            alerts: alerts.get(device) ?? [],
          }),
        (err: Error) => send(res, 502, { error: `cannot score the readings: ${err.message}` }),
      );
      return;
    }
    send(res, 404, { error: "not found (see /v1/devices/{device}/risk)" });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      await client.endAsync().catch(() => undefined);
    },
  };
}
