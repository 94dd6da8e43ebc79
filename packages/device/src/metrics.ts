/**
 * Prometheus metrics of a device agent or a fleet, in its own prom-client Registry (several agents can share a
 * process: the tests, the fleet, the demo).
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export function createDeviceMetrics() {
  const registry = new Registry();
  const prefix = "triad_device_";
  return {
    registry,
    signed: new Counter({
      name: `${prefix}readings_signed_total`,
      help: "Readings signed and appended to the outbox",
      registers: [registry],
    }),
    acked: new Counter({
      name: `${prefix}readings_acked_total`,
      help: "Readings acknowledged by the broker (PUBACK) and removed from the outbox",
      registers: [registry],
    }),
    refused: new Counter({
      name: `${prefix}readings_refused_total`,
      help: "Readings not signed, by reason (outbox_full, bad_input)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    rejections: new Counter({
      name: `${prefix}rejections_total`,
      help: "Rejections received from the gateway on the device's rejections topic, by reason code",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    outbox: new Gauge({ name: `${prefix}outbox_readings`, help: "Signed readings waiting for the broker's PUBACK", registers: [registry] }),
    outboxCapacity: new Gauge({
      name: `${prefix}outbox_capacity`,
      help: "Largest number of readings the outbox holds",
      registers: [registry],
    }),
    connected: new Gauge({ name: `${prefix}mqtt_connected`, help: "1 while connected to the broker", registers: [registry] }),
    connects: new Counter({ name: `${prefix}mqtt_connects_total`, help: "Successful connections to the broker", registers: [registry] }),
    ackSeconds: new Histogram({
      name: `${prefix}publish_ack_seconds`,
      help: "Time from publishing a reading to the broker's PUBACK (readings published on a live connection)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type DeviceMetrics = ReturnType<typeof createDeviceMetrics>;
