/**
 * The gateway's AI monitor (`--monitor`): every newly stored reading is scored with the shipped model and fed to the
 * per-device alert state machine of `@triad/oracle/monitor` (raise at `raiseAtBps` for `raiseAfter` readings, clear
 * below `clearAtBps` for `clearAfter` readings). Each transition is
 *  - published with QoS 1 on `triad/v1/{chainId}/{device}/alerts` (docs/protocol.md §5.3, "Alerts"): through the
 *    embedded broker, or the gateway's client at an external broker;
 *  - POSTed to the optional alert webhook (timeout, retries with back-off; failures counted and logged);
 *  - counted in the Prometheus metrics (`triad_gateway_monitor_*`), and the alerting devices show in /healthz.
 *
 * Off the ingest path: the ingest pipeline hands each committed batch to `onStored`, which only appends it to a
 * bounded queue (readings beyond the bound are dropped and counted, never waited for) and returns, so no PUBACK waits
 * for the model. The queue is scored on the same event loop in predict calls of at most {@link MONITOR_BATCH}
 * readings (≈ 25 ms of wasm for 1,000 readings, so the loop is never held longer), one batch after the other, so a
 * device's readings reach the state machine in seq order. Webhook deliveries have their own bounded queue, one at a
 * time in alert order, and never hold up scoring.
 *
 * The alert state lives in memory: after a restart a device that is still at risk raises again on its next readings
 * (its earlier "raised" is never "cleared"). Readings of devices whose sensor schema is not `ai4i-2020/v1`, and
 * readings outside the model's telemetry envelope, are counted and not scored. A dropped reading is as if never
 * seen: it neither counts towards nor breaks a run of the state machine.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Logger } from "pino";
import { AI4I_SCHEMA, deviceTopic, sensorSchemaId } from "@triad/sdk";
import { loadModel, type LoadedModel } from "@triad/oracle/model";
import { encodeAlert, ModelMonitor, type Alert, type AlertThresholds, type MonitorReading } from "@triad/oracle/monitor";
import type { MonitorConfig } from "./config.ts";

/** Most readings scored in one predict call. */
export const MONITOR_BATCH = 1000;
/** Most alerts waiting for webhook delivery; beyond it alerts are not delivered (counted as dropped). */
export const WEBHOOK_QUEUE = 1000;
/** First retry delay of a webhook delivery; doubled on every further retry. */
export const WEBHOOK_BACKOFF_MS = 250;
/** Least time between two "overloaded" warnings (the dropped readings are counted in between). */
export const DROP_LOG_INTERVAL_MS = 10_000;
/** Devices listed in /healthz (the count is always exact). */
export const HEALTH_MAX_DEVICES = 100;

export function createMonitorMetrics(registry: Registry) {
  const prefix = "triad_gateway_monitor_";
  return {
    alerts: new Counter({
      name: `${prefix}alerts_total`,
      help: "Alerts by state (raised, cleared)",
      labelNames: ["state"] as const,
      registers: [registry],
    }),
    devicesAlerting: new Gauge({ name: `${prefix}devices_alerting`, help: "Devices whose alert is raised now", registers: [registry] }),
    scored: new Counter({ name: `${prefix}readings_scored_total`, help: "Readings scored by the model", registers: [registry] }),
    outOfEnvelope: new Counter({
      name: `${prefix}readings_out_of_envelope_total`,
      help: "Readings outside the model's telemetry envelope (not scored)",
      registers: [registry],
    }),
    skipped: new Counter({
      name: `${prefix}readings_skipped_total`,
      help: "Readings not scored for another reason: schema (device not ai4i-2020/v1), undecodable, queue_full (overload), error (scoring failed)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    scoreSeconds: new Histogram({
      name: `${prefix}score_seconds`,
      help: "Duration of one predict call over a batch of readings",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
    queue: new Gauge({ name: `${prefix}queue_readings`, help: "Readings waiting to be scored", registers: [registry] }),
    published: new Counter({
      name: `${prefix}alerts_published_total`,
      help: "Alerts published on the alerts topic, by outcome (ok, failed)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    webhook: new Counter({
      name: `${prefix}webhook_deliveries_total`,
      help: "Alert webhook deliveries by outcome (delivered, failed after every retry, dropped when the queue was full)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    webhookAttempts: new Counter({
      name: `${prefix}webhook_attempts_total`,
      help: "Alert webhook POSTs, by result (ok, http_error, network_error)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
  };
}

export type MonitorMetrics = ReturnType<typeof createMonitorMetrics>;

export interface MonitorHealth {
  modelHash: string;
  backend: string;
  thresholds: AlertThresholds;
  devicesAlerting: number;
  /** Up to {@link HEALTH_MAX_DEVICES} alerting devices with the modes of their alert. */
  alerting: { device: string; modes: string[] }[];
  queue: number;
  webhook: { url: string; pending: number } | null;
}

export interface GatewayMonitor {
  modelHash: string;
  metrics: MonitorMetrics;
  /** The alert state machine (read-only use: isAlerting, devicesAlerting, alerting()). */
  monitor: ModelMonitor;
  health(): MonitorHealth;
  /** Resolves once every queued reading is scored and its alerts published and delivered (or given up). */
  drain(): Promise<void>;
  /** Stops taking readings, scores the queued ones, then gives up the webhook deliveries still pending. */
  stop(): Promise<void>;
}

export interface StartMonitorOptions {
  config: MonitorConfig;
  /** Where newly stored readings come from (`IngestPipeline.onStored`). */
  onStored(listener: (readings: MonitorReading[]) => void): () => void;
  chainId: bigint;
  /** Publishes one alert message with QoS 1 (the embedded broker, or the client at the external broker). */
  publish(topic: string, payload: Buffer): Promise<void>;
  /** The sensor schema id (keccak256 of the name) of a registered device, from the registry cache. */
  sensorSchemaOf(device: string): string | undefined;
  /** The Prometheus registry the monitor's metrics join (the gateway's). */
  registry: Registry;
  logger?: Logger;
  /** A loaded model (tests); default: the shipped model, loaded and hash-checked here. */
  model?: LoadedModel;
}

const AI4I_ID = sensorSchemaId(AI4I_SCHEMA).toLowerCase();

/** The origin and path of a URL, without credentials or query (what the logs may show). */
function redact(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/** Webhook deliveries: one at a time, in alert order, each with a timeout and retries with exponential back-off. */
class WebhookSender {
  private readonly queue: { alert: Alert; body: string }[] = [];
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(
    private readonly webhook: NonNullable<MonitorConfig["webhook"]>,
    private readonly metrics: MonitorMetrics,
    private readonly logger?: Logger,
  ) {}

  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  send(alert: Alert, body: string): void {
    if (this.stopped || this.queue.length >= WEBHOOK_QUEUE) {
      this.metrics.webhook.inc({ outcome: "dropped" });
      this.logger?.warn(
        { device: alert.device, seq: alert.seq.toString(), state: alert.state },
        "alert webhook queue full: alert not delivered",
      );
      return;
    }
    this.queue.push({ alert, body });
    this.running ??= this.run().finally(() => (this.running = undefined));
  }

  private async run(): Promise<void> {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) await this.deliver(next.alert, next.body);
  }

  private async deliver(alert: Alert, body: string): Promise<void> {
    const { url, timeoutMs, retries } = this.webhook;
    let lastError = "";
    for (let attempt = 0; attempt <= retries && !this.stopped; attempt++) {
      if (attempt > 0)
        await sleep(WEBHOOK_BACKOFF_MS * 2 ** (attempt - 1), undefined, { signal: this.abort.signal }).catch(() => undefined);
      if (this.stopped) break;
      try {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.abort.signal]),
        });
        await response.body?.cancel();
        if (response.ok) {
          this.metrics.webhookAttempts.inc({ result: "ok" });
          this.metrics.webhook.inc({ outcome: "delivered" });
          return;
        }
        this.metrics.webhookAttempts.inc({ result: "http_error" });
        lastError = `HTTP ${response.status}`;
      } catch (error) {
        this.metrics.webhookAttempts.inc({ result: "network_error" });
        lastError = (error as Error)?.message ?? String(error);
      }
    }
    this.metrics.webhook.inc({ outcome: "failed" });
    this.logger?.warn(
      { webhook: redact(url), device: alert.device, seq: alert.seq.toString(), state: alert.state, err: lastError || "stopped" },
      "alert webhook delivery failed",
    );
  }

  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Aborts the delivery in flight and gives up the queued ones (counted as failed and logged). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.drain();
    for (const { alert } of this.queue.splice(0)) {
      this.metrics.webhook.inc({ outcome: "failed" });
      this.logger?.warn({ device: alert.device, seq: alert.seq.toString() }, "gateway stopping: alert not delivered to the webhook");
    }
  }
}

/** Loads the model and attaches the monitor to the ingest pipeline's stored readings. */
export async function startMonitor(options: StartMonitorOptions): Promise<GatewayMonitor> {
  const { config, chainId, logger } = options;
  const model = options.model ?? (await loadModel());
  const monitor = new ModelMonitor(model, config.thresholds);
  const metrics = createMonitorMetrics(options.registry);
  const webhook = config.webhook ? new WebhookSender(config.webhook, metrics, logger) : undefined;
  const queue: MonitorReading[] = [];
  let running: Promise<void> | undefined;
  let stopped = false;
  const publishing = new Set<Promise<void>>();
  let lastDropLog = 0;
  let droppedSinceLog = 0;

  const publishAlert = (alert: Alert) => {
    const body = Buffer.from(encodeAlert(alert));
    const topic = deviceTopic(chainId, alert.device, "alerts");
    const published = options.publish(topic, body).then(
      () => void metrics.published.inc({ outcome: "ok" }),
      (error: unknown) => {
        metrics.published.inc({ outcome: "failed" });
        logger?.warn({ err: (error as Error)?.message ?? String(error), topic }, "could not publish an alert");
      },
    );
    publishing.add(published);
    void published.finally(() => publishing.delete(published));
    webhook?.send(alert, body.toString("utf8")); // the same bytes as the MQTT payload
  };

  const scoreNext = async (batch: MonitorReading[]) => {
    try {
      const report = await monitor.process(batch);
      metrics.scored.inc(report.scored);
      metrics.outOfEnvelope.inc(report.outOfEnvelope);
      if (report.undecodable > 0) metrics.skipped.inc({ reason: "undecodable" }, report.undecodable);
      if (report.scored > 0) metrics.scoreSeconds.observe(report.scoreSeconds);
      for (const alert of report.alerts) {
        metrics.alerts.inc({ state: alert.state });
        logger?.info(
          { device: alert.device, state: alert.state, riskBps: alert.riskBps, modes: alert.modes, seq: alert.seq.toString() },
          alert.state === "raised" ? "failure-risk alert raised" : "failure-risk alert cleared",
        );
        publishAlert(alert);
      }
      metrics.devicesAlerting.set(monitor.state.devicesAlerting);
    } catch (error) {
      metrics.skipped.inc({ reason: "error" }, batch.length);
      logger?.error({ err: (error as Error)?.message ?? String(error), readings: batch.length }, "monitor could not score a batch");
    }
  };

  const pump = () => {
    running ??= (async () => {
      while (queue.length > 0) {
        const batch = queue.splice(0, MONITOR_BATCH);
        metrics.queue.set(queue.length);
        await scoreNext(batch);
        await new Promise<void>((resolve) => setImmediate(resolve)); // let ingest run between predict calls
      }
    })().finally(() => (running = undefined));
  };

  const detach = options.onStored((readings) => {
    if (stopped) return;
    let skippedSchema = 0;
    let dropped = 0;
    for (const r of readings) {
      if (options.sensorSchemaOf(r.device)?.toLowerCase() !== AI4I_ID) skippedSchema++;
      else if (queue.length >= config.queueLimit) dropped++;
      else queue.push(r);
    }
    if (skippedSchema > 0) metrics.skipped.inc({ reason: "schema" }, skippedSchema);
    if (dropped > 0) {
      metrics.skipped.inc({ reason: "queue_full" }, dropped);
      droppedSinceLog += dropped;
      if (Date.now() - lastDropLog >= DROP_LOG_INTERVAL_MS) {
        logger?.warn({ dropped: droppedSinceLog, queueLimit: config.queueLimit }, "monitor overloaded: readings dropped, not scored");
        lastDropLog = Date.now();
        droppedSinceLog = 0;
      }
    }
    metrics.queue.set(queue.length);
    if (queue.length > 0) setImmediate(pump);
  });

  logger?.info(
    {
      modelHash: model.modelHash,
      backend: model.backend,
      thresholds: monitor.state.thresholds,
      webhook: config.webhook ? redact(config.webhook.url) : undefined,
    },
    "AI monitor started",
  );

  const drainScoring = async () => {
    while (queue.length > 0 || running || publishing.size > 0) {
      if (running) await running;
      else if (publishing.size > 0) await Promise.all(publishing);
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };

  return {
    modelHash: model.modelHash,
    metrics,
    monitor,
    health: () => ({
      modelHash: model.modelHash,
      backend: model.backend,
      thresholds: monitor.state.thresholds,
      devicesAlerting: monitor.state.devicesAlerting,
      alerting: monitor.state.alerting().slice(0, HEALTH_MAX_DEVICES),
      queue: queue.length,
      webhook: config.webhook ? { url: redact(config.webhook.url), pending: webhook!.pending } : null,
    }),
    async drain() {
      await drainScoring();
      await webhook?.drain();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      detach();
      await drainScoring();
      await webhook?.stop();
      if (!options.model) model.dispose();
    },
  };
}
