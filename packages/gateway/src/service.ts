/**
 * The gateway service: the store, the registry cache, the ingest pipeline behind the embedded broker or an external
 * broker's subscription, and the HTTP API, started and stopped together.
 *
 * Graceful stop (SIGINT/SIGTERM in the CLI): refuse new messages (they are not acknowledged, so devices resend them
 * to the next instance), let every accepted message reach its durable verdict, close the broker and the HTTP server,
 * stop the registry poll and close the database. A SIGKILL loses nothing acknowledged either: a PUBACK is only ever
 * sent after the commit.
 */
import "@triad/sdk/node"; // native secp256k1 for signature recovery (the hot path), and deployment records
import { id, JsonRpcProvider, Wallet, WebSocketProvider, type Provider } from "ethers";
import pino, { type Logger } from "pino";
import { deviceRegistryDomain, nativeRecovery, TriadError } from "@triad/sdk";
import { loadDeployment } from "@triad/sdk/node";
import { FleetAnchorer } from "./anchor.ts";
import type { GatewayConfig } from "./config.ts";
import { startHttpApi, type HealthReport, type HttpApi } from "./http.ts";
import { IngestPipeline, startEmbeddedBroker, startExternalSubscriber, type EmbeddedBroker, type ExternalSubscriber } from "./ingest.ts";
import { createMetrics, type GatewayMetrics } from "./metrics.ts";
import type { GatewayMonitor } from "./monitor.ts";
import { RegistryCache } from "./registry-cache.ts";
import { openStore, type ReadingStore } from "./store/index.ts";
import { schemaRules } from "./verify.ts";
import { resolveMarketplace, StreamHub } from "./streams.ts";

export interface Gateway {
  chainId: bigint;
  registryAddress: string;
  /** mqtt://host:port of the embedded broker, or the external broker's URL. */
  mqttUrl: string;
  httpUrl: string;
  store: ReadingStore;
  registry: RegistryCache;
  pipeline: IngestPipeline;
  metrics: GatewayMetrics;
  /** Live marketplace streams (`streams.enabled` when a DataMarketplace is configured). */
  streams: StreamHub;
  embedded?: EmbeddedBroker;
  external?: ExternalSubscriber;
  /** Fleet anchoring, when a key is configured. */
  anchorer?: FleetAnchorer;
  /** The AI monitor, when `--monitor` is on. */
  monitor?: GatewayMonitor;
  health(): Promise<HealthReport>;
  stop(): Promise<void>;
}

async function connect(config: GatewayConfig): Promise<{ provider: Provider; chainId: bigint }> {
  if (config.rpcUrl.startsWith("ws")) {
    const provider = new WebSocketProvider(config.rpcUrl);
    const chainId = (await provider.getNetwork()).chainId;
    return { provider, chainId };
  }
  const probe = new JsonRpcProvider(config.rpcUrl, undefined, { staticNetwork: true });
  let chainId: bigint;
  try {
    chainId = BigInt(await probe.send("eth_chainId", []));
  } catch (cause) {
    throw new TriadError(
      `cannot reach the RPC endpoint ${config.rpcUrl}: ${(cause as Error)?.message ?? cause}`,
      "RPC_UNAVAILABLE",
      {},
      { cause },
    );
  } finally {
    probe.destroy();
  }
  // cacheTimeout -1: no 250 ms response cache, or back-to-back anchor transactions would be signed with a stale nonce.
  return { provider: new JsonRpcProvider(config.rpcUrl, chainId, { staticNetwork: true, batchMaxCount: 100, cacheTimeout: -1 }), chainId };
}

export interface StartOptions {
  logger?: Logger;
  /**
   * The gateway's clock, ms since the epoch (default Date.now): what a reading's timestamp is checked against. A
   * simulation on a development chain whose time was moved forward passes the chain's clock here (and to its devices).
   */
  now?: () => number;
}

export async function startGateway(config: GatewayConfig, options: StartOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { service: "triad-gateway" } });
  const { provider, chainId } = await connect(config);
  if (config.chainId !== undefined && chainId !== BigInt(config.chainId)) {
    provider.destroy();
    throw new TriadError(`the RPC endpoint serves chain ${chainId}, the configuration says ${config.chainId}`, "CHAIN_MISMATCH");
  }
  const registryAddress =
    config.registry ?? loadDeployment(chainId, { dir: config.deploymentsDir, required: ["DeviceRegistry"] }).contracts.DeviceRegistry!;
  if ((await provider.getCode(registryAddress)) === "0x") {
    provider.destroy();
    throw new TriadError(`no contract at the DeviceRegistry address ${registryAddress} on chain ${chainId}`, "NO_REGISTRY");
  }
  const metrics = createMetrics();
  const store = await openStore(config.database);
  const registry = new RegistryCache(registryAddress, provider, {
    pollMs: config.registryPollMs,
    logBlockRange: config.logBlockRange,
    logger,
  });
  const cleanup: (() => Promise<void>)[] = [async () => store.close(), async () => registry.stop(), async () => provider.destroy()];
  const undo = async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  };
  try {
    await registry.start();
    const pipeline = new IngestPipeline({
      store,
      registry,
      chainId,
      domain: deviceRegistryDomain(chainId, registryAddress),
      schemas: schemaRules(config.valueRanges),
      maxClockSkewSeconds: config.maxClockSkewSeconds,
      now: options.now,
      metrics,
      logger,
    });
    cleanup.push(() => pipeline.close());
    const marketplace = await resolveMarketplace(config, { chainId, provider, registryAddress, logger });
    const streams = new StreamHub({
      ...config.streams,
      chainId,
      registryAddress,
      marketplace,
      provider,
      store,
      pipeline,
      metricsRegistry: metrics.registry,
      logger,
    });
    cleanup.push(async () => streams.close());
    let embedded: EmbeddedBroker | undefined;
    let external: ExternalSubscriber | undefined;
    let monitor: GatewayMonitor | undefined;
    if (config.monitor) {
      const { startMonitor } = await import("./monitor.ts"); // loads TensorFlow.js only when the monitor is on
      monitor = await startMonitor({
        config: config.monitor,
        onStored: (listener) => pipeline.onStored(listener),
        chainId,
        publish: (topic, payload) =>
          embedded
            ? new Promise<void>((resolve, reject) =>
                embedded!.broker.publish({ cmd: "publish", topic, payload, qos: 1, retain: false, dup: false }, (error) =>
                  error ? reject(error) : resolve(),
                ),
              )
            : external!.client.publishAsync(topic, payload, { qos: 1 }).then(() => undefined),
        sensorSchemaOf: (device) => registry.get(device)?.sensorSchema,
        registry: metrics.registry,
        logger,
      });
      cleanup.push(() => monitor!.stop());
    }
    if (config.mqtt.mode === "embedded") {
      embedded = await startEmbeddedBroker({ host: config.mqtt.host, port: config.mqtt.port, pipeline, chainId, metrics, logger });
      cleanup.push(() => embedded!.close());
    } else {
      const m = config.mqtt;
      external = await startExternalSubscriber({ ...m, pipeline, chainId, logger });
      cleanup.push(() => external!.close());
    }
    let anchorer: FleetAnchorer | undefined;
    const health = async (): Promise<HealthReport> => {
      const brokerUp = embedded ? !embedded.broker.closed : !!external?.client.connected;
      let dbWritable = true;
      let dbError: string | undefined;
      try {
        await store.probeWritable();
      } catch (error) {
        dbWritable = false;
        dbError = (error as Error)?.message ?? String(error);
      }
      const f = registry.freshness();
      const registryFresh = f.ageMs <= config.registryMaxStalenessMs;
      const anchoring = anchorer ? anchorer.status() : { enabled: false as const };
      const anchoringOk = !anchorer || anchorer.status().lastError === null;
      return {
        healthy: brokerUp && dbWritable && registryFresh && anchoringOk,
        anchoring,
        broker: { mode: config.mqtt.mode, up: brokerUp, clients: embedded?.broker.connectedClients },
        database: { kind: store.kind, writable: dbWritable, error: dbError },
        registry: {
          fresh: registryFresh,
          ageMs: f.ageMs,
          maxStalenessMs: config.registryMaxStalenessMs,
          headBlock: f.headBlock,
          devices: f.devices,
          lastError: f.lastError,
        },
        pending: pipeline.pending,
        monitor: monitor ? { enabled: true, ...monitor.health() } : { enabled: false },
      };
    };
    const http: HttpApi = await startHttpApi({
      host: config.httpHost,
      port: config.httpPort,
      store,
      registry: metrics.registry,
      health,
      streams,
      evidence: {
        chainId,
        registry: registryAddress,
        async sensorSchema(device) {
          const state = registry.get(device) ?? (await registry.lookup(device));
          if (!state) return undefined;
          return Object.keys(config.valueRanges).find((name) => id(name) === state.sensorSchema);
        },
        anchorIntervalSeconds: config.anchoring && config.anchoring.intervalMs / 1000,
        now: options.now,
      },
      beforeMetrics: async () => {
        metrics.devices.set((await store.counts()).devices);
        const f = registry.freshness();
        metrics.registryDevices.set(f.devices);
        metrics.registryAgeSeconds.set(f.ageMs / 1000);
      },
    });
    cleanup.push(() => http.close());
    if (config.anchoring) {
      const a = config.anchoring;
      anchorer = new FleetAnchorer({
        store,
        signer: new Wallet(a.privateKey, provider),
        registryAddress,
        intervalMs: a.intervalMs,
        maxReadings: a.maxReadings,
        confirmations: a.confirmations,
        publicUrl: a.publicUrl ?? http.url,
        metricsRegistry: metrics.registry,
        logger,
      });
      const gatewayAccount = await anchorer.gateway;
      anchorer.start();
      cleanup.push(() => anchorer!.stop());
      logger.info({ gateway: gatewayAccount, intervalMs: a.intervalMs }, "fleet anchoring on");
    } else {
      logger.warn(
        "fleet anchoring off (no TRIAD_GATEWAY_PRIVATE_KEY / --key-file, or --anchor-interval 0): readings are stored, not anchored",
      );
    }
    const mqttUrl = embedded ? embedded.url : config.mqtt.mode === "external" ? config.mqtt.url : "";
    logger.info(
      {
        chainId: chainId.toString(),
        registry: registryAddress,
        mqttUrl,
        httpUrl: http.url,
        database: config.database.kind === "sqlite" ? config.database.file : "postgres",
        nativeSecp256k1: nativeRecovery(),
      },
      "gateway started",
    );
    let stopping: Promise<void> | undefined;
    return {
      chainId,
      registryAddress,
      mqttUrl,
      httpUrl: http.url,
      store,
      registry,
      pipeline,
      metrics,
      streams,
      embedded,
      external,
      anchorer,
      monitor,
      health,
      stop() {
        stopping ??= (async () => {
          logger.info({ pending: pipeline.pending }, "stopping: refusing new readings, flushing accepted ones");
          await pipeline.close(); // accepted readings reach their durable verdict; new ones are not acknowledged
          streams.close(); // after the last stored readings: subscribers get `end` (stopping)
          await anchorer?.stop(); // a round in progress finishes (or its anchor stays pending for the next start)
          await monitor?.stop(); // the last stored readings are scored and their alerts published before the broker closes
          await embedded?.close();
          await external?.close();
          await http.close();
          await registry.stop();
          provider.destroy();
          await store.close();
          logger.info("gateway stopped");
        })();
        return stopping;
      },
    };
  } catch (error) {
    await undo();
    throw error;
  }
}
