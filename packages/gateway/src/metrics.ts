/** Prometheus metrics of one gateway, in its own prom-client Registry (several gateways can share a process in tests). */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export function createMetrics() {
  const registry = new Registry();
  const prefix = "triad_gateway_";
  return {
    registry,
    received: new Counter({
      name: `${prefix}readings_received_total`,
      help: "MQTT messages received on readings topics (and any other topic a client published to)",
      registers: [registry],
    }),
    stored: new Counter({ name: `${prefix}readings_stored_total`, help: "Readings verified and durably stored", registers: [registry] }),
    duplicates: new Counter({
      name: `${prefix}readings_duplicate_total`,
      help: "Exact re-sends of a stored reading (acknowledged, stored once)",
      registers: [registry],
    }),
    rejected: new Counter({
      name: `${prefix}readings_rejected_total`,
      help: "Readings refused, by reason code (docs/protocol.md Rejections); UNAVAILABLE ones are not acknowledged and come back",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    storeSeconds: new Histogram({
      name: `${prefix}store_seconds`,
      help: "Duration of one store transaction (a batch of readings, committed durably)",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: `${prefix}store_batch_readings`,
      help: "Readings per store transaction (group commit)",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
      registers: [registry],
    }),
    ingestSeconds: new Histogram({
      name: `${prefix}ingest_seconds`,
      help: "From a message's arrival to its verdict being durable (what delays the PUBACK)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    devices: new Gauge({ name: `${prefix}devices`, help: "Devices with at least one stored reading", registers: [registry] }),
    registryDevices: new Gauge({
      name: `${prefix}registry_cached_devices`,
      help: "Devices in the registry cache (registered or known unknown)",
      registers: [registry],
    }),
    registryAgeSeconds: new Gauge({
      name: `${prefix}registry_cache_age_seconds`,
      help: "Time since the registry cache last reached the chain head",
      registers: [registry],
    }),
    mqttClients: new Gauge({ name: `${prefix}mqtt_clients`, help: "Clients connected to the embedded broker", registers: [registry] }),
  };
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;

/** The current value of a counter (summed over labels, or the matching ones), for tests and the benchmark. */
export async function counterValue(counter: Counter<string>, labels?: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  return values.filter((v) => !labels || Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0);
}
