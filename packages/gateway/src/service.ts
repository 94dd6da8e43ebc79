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
import { JsonRpcProvider, WebSocketProvider, type Provider } from "ethers";
import pino, { type Logger } from "pino";
import { deviceRegistryDomain, nativeRecovery, TriadError } from "@triad/sdk";
import { loadDeployment } from "@triad/sdk/node";
import type { GatewayConfig } from "./config.ts";
import { startHttpApi, type HealthReport, type HttpApi } from "./http.ts";
import { IngestPipeline, startEmbeddedBroker, startExternalSubscriber, type EmbeddedBroker, type ExternalSubscriber } from "./ingest.ts";
import { createMetrics, type GatewayMetrics } from "./metrics.ts";
import { RegistryCache } from "./registry-cache.ts";
import { openStore, type ReadingStore } from "./store/index.ts";
import { schemaRules } from "./verify.ts";

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
  embedded?: EmbeddedBroker;
  external?: ExternalSubscriber;
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
  return { provider: new JsonRpcProvider(config.rpcUrl, chainId, { staticNetwork: true, batchMaxCount: 100 }), chainId };
}

export async function startGateway(config: GatewayConfig, options: { logger?: Logger } = {}): Promise<Gateway> {
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
      metrics,
      logger,
    });
    cleanup.push(() => pipeline.close());
    let embedded: EmbeddedBroker | undefined;
    let external: ExternalSubscriber | undefined;
    if (config.mqtt.mode === "embedded") {
      embedded = await startEmbeddedBroker({ host: config.mqtt.host, port: config.mqtt.port, pipeline, chainId, metrics, logger });
      cleanup.push(() => embedded!.close());
    } else {
      const m = config.mqtt;
      external = await startExternalSubscriber({ ...m, pipeline, chainId, logger });
      cleanup.push(() => external!.close());
    }
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
      return {
        healthy: brokerUp && dbWritable && registryFresh,
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
      };
    };
    const http: HttpApi = await startHttpApi({
      host: config.httpHost,
      port: config.httpPort,
      store,
      registry: metrics.registry,
      health,
      beforeMetrics: async () => {
        metrics.devices.set((await store.counts()).devices);
        const f = registry.freshness();
        metrics.registryDevices.set(f.devices);
        metrics.registryAgeSeconds.set(f.ageMs / 1000);
      },
    });
    cleanup.push(() => http.close());
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
      embedded,
      external,
      health,
      stop() {
        stopping ??= (async () => {
          logger.info({ pending: pipeline.pending }, "stopping: refusing new readings, flushing accepted ones");
          await pipeline.close(); // accepted readings reach their durable verdict; new ones are not acknowledged
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
