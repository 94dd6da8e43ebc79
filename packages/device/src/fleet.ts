/**
 * Load mode: many simulated devices from one process. Device keys are derived from a seed ({@link fleetKey}); each
 * device runs its own machine simulator. Devices share a few {@link Uplink}s (default one): one MQTT connection and
 * one SQLite state file per uplink, and one reading per device per tick, reserved, signed and appended as one batch
 * (two fsync'd commits per uplink per tick, whatever the fleet size). A connection per device would cost 1,000
 * sockets, keep-alives and SQLite files for 1,000 devices; the gateway authenticates readings by their signature,
 * not by the MQTT client, so a shared connection loses nothing.
 */
import path from "node:path";
import type { IClientOptions } from "mqtt";
import pino, { type Logger } from "pino";
import { id } from "ethers";
import { telemetryToValues } from "@triad/sdk";
import { Uplink, type Clock, type UplinkStats } from "./agent.ts";
import { fleetKey } from "./keys.ts";
import { createDeviceMetrics, type DeviceMetrics } from "./metrics.ts";
import { MachineSimulator, type SimulatorOptions } from "./simulator.ts";
import { OutboxFullError } from "./store.ts";

export interface FleetOptions {
  count: number;
  /** Seed of the derived device keys and the simulators. Default "triad". */
  seed?: string;
  chainId: bigint | number;
  registry: string;
  mqttUrl: string;
  stateDir: string;
  /** Readings per device per second. Default 1. */
  rate?: number;
  /** MQTT connections (uplinks) the devices are spread over. Default 1. */
  connections?: number;
  /** Simulator options applied to every device (the seed is made per device). */
  simulator?: Omit<SimulatorOptions, "seed">;
  clock?: Clock;
  logger?: Logger;
  maxOutbox?: number;
  inflight?: number;
  mqtt?: Partial<IClientOptions>;
}

export interface FleetStats extends UplinkStats {
  devices: number;
  ticks: number;
  /** Ticks that started late because the previous one was still running. */
  lateTicks: number;
}

export interface Fleet {
  readonly devices: readonly string[];
  readonly uplinks: readonly Uplink[];
  readonly metrics: DeviceMetrics;
  /** One reading from every device now (what each timer tick does). */
  tick(): number;
  /** Starts ticking at `rate` per second until {@link Fleet.stop}. */
  start(): void;
  stop(): void;
  stats(): FleetStats;
  waitConnected(timeoutMs?: number): Promise<void>;
  drain(timeoutMs?: number): Promise<void>;
  close(options?: { drainMs?: number }): Promise<void>;
}

export function createFleet(options: FleetOptions): Fleet {
  const { count } = options;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  const connections = options.connections ?? 1;
  if (!Number.isInteger(connections) || connections < 1 || connections > count)
    throw new RangeError(`connections must be an integer in 1..count, got ${connections}`);
  const rate = options.rate ?? 1;
  if (!(rate > 0 && Number.isFinite(rate))) throw new RangeError(`rate must be a positive number, got ${rate}`);
  const seed = options.seed ?? "triad";
  const logger = options.logger ?? pino({ level: "info", base: { service: "triad-device-fleet" } });
  const metrics = createDeviceMetrics();
  const tag = id(seed).slice(2, 10);
  const uplinks = Array.from(
    { length: connections },
    (_, i) =>
      new Uplink({
        chainId: options.chainId,
        registry: options.registry,
        mqttUrl: options.mqttUrl,
        stateFile: path.join(options.stateDir, `fleet-${tag}-${i}.sqlite`),
        clientId: `triad-fleet-${tag}-${i}`,
        clock: options.clock,
        logger: logger.child({ uplink: i }),
        metrics,
        maxOutbox: options.maxOutbox,
        inflight: options.inflight ?? 1024,
        mqtt: options.mqtt,
      }),
  );
  const members = Array.from({ length: count }, (_, i) => {
    const key = fleetKey(seed, i);
    const uplink = uplinks[i % connections];
    uplink.addDevice(key);
    return { device: key.address, uplink, sim: new MachineSimulator({ ...options.simulator, seed: `${seed}:${i}` }) };
  });
  const groups = uplinks.map((uplink) => ({ uplink, members: members.filter((m) => m.uplink === uplink) }));
  let ticks = 0;
  let lateTicks = 0;
  let timer: NodeJS.Timeout | undefined;

  const tick = (): number => {
    ticks++;
    let published = 0;
    for (const { uplink, members: group } of groups) {
      const batch = group.map((m) => ({ device: m.device, values: telemetryToValues(m.sim.next().telemetry) }));
      try {
        published += uplink.publishBatch(batch).length;
      } catch (error) {
        if (!(error instanceof OutboxFullError)) throw error;
        logger.error({ outbox: error.size }, "outbox full: this tick's readings are refused");
      }
    }
    return published;
  };

  for (const u of uplinks) u.start();
  return {
    devices: members.map((m) => m.device),
    uplinks,
    metrics,
    tick,
    start() {
      if (timer) return;
      const periodMs = 1000 / rate;
      const t0 = performance.now();
      let n = 0;
      const schedule = () => {
        n++;
        const due = t0 + n * periodMs;
        const wait = due - performance.now();
        if (wait < 0) lateTicks++;
        timer = setTimeout(run, Math.max(0, wait));
      };
      const run = () => {
        tick();
        schedule();
      };
      timer = setTimeout(run, 0);
    },
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
    stats() {
      const all = uplinks.map((u) => u.stats());
      const sum = (f: (s: UplinkStats) => number) => all.reduce((a, s) => a + f(s), 0);
      const merge = (f: (s: UplinkStats) => Record<string, number>) => {
        const out: Record<string, number> = {};
        for (const s of all) for (const [k, v] of Object.entries(f(s))) out[k] = (out[k] ?? 0) + v;
        return out;
      };
      return {
        devices: count,
        ticks,
        lateTicks,
        connected: all.every((s) => s.connected),
        signed: sum((s) => s.signed),
        acked: sum((s) => s.acked),
        outbox: sum((s) => s.outbox),
        rejections: merge((s) => s.rejections),
        refused: merge((s) => s.refused),
      };
    },
    waitConnected: async (t) => {
      await Promise.all(uplinks.map((u) => u.waitConnected(t)));
    },
    drain: async (t) => {
      await Promise.all(uplinks.map((u) => u.drain(t)));
    },
    close: async (o) => {
      clearTimeout(timer);
      timer = undefined;
      await Promise.all(uplinks.map((u) => u.close(o)));
    },
  };
}
