/** Shared test plumbing of the gateway tests: devices (keys, registration, signed payloads), a gateway, MQTT clients. */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet, type Signer, type TypedDataDomain } from "ethers";
import mqtt, { type MqttClient } from "mqtt";
import pino from "pino";
import type { DeviceRegistry } from "@triad/contracts";
import {
  deviceRegistryDomain,
  deviceTopic,
  encodeWireReading,
  readingDigest,
  registerDevice,
  signDigest,
  telemetryToValues,
  type Ai4iTelemetry,
  type Reading,
  type SignedReading,
  type WireRejection,
} from "@triad/sdk";
import { parseConfig } from "../src/config.ts";
import { startGateway, type Gateway } from "../src/service.ts";

export const TELEMETRY: Ai4iTelemetry = { airTempK: 298.1, processTempK: 308.6, rpm: 1551, torqueNm: 42.8, toolWearMin: 0, variant: "M" };

export function tempDir(prefix = "triad-gateway-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function newDevices(n: number): Wallet[] {
  return Array.from({ length: n }, () => new Wallet(Wallet.createRandom().privateKey));
}

export async function registerAll(registry: DeviceRegistry, owner: Signer, devices: readonly Wallet[]): Promise<void> {
  for (const deviceKey of devices) await registerDevice(registry.connect(owner), { deviceKey });
}

export function nowSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}

/** A reading signed by `key` (native secp256k1 when @triad/sdk/node is loaded), for `device` (default: the key's). */
export function signed(key: Wallet, domain: TypedDataDomain, seq: bigint, overrides: Partial<Reading> = {}): SignedReading {
  const reading: Reading = {
    device: key.address,
    seq,
    timestamp: nowSeconds(),
    values: telemetryToValues({ ...TELEMETRY, toolWearMin: Number(seq % 200n) }),
    ...overrides,
  };
  return { ...reading, signature: signDigest(key.privateKey, readingDigest(domain, reading)) };
}

export function payload(reading: SignedReading): Buffer {
  return Buffer.from(encodeWireReading(reading));
}

export function domainOf(gateway: Gateway): TypedDataDomain {
  return deviceRegistryDomain(gateway.chainId, gateway.registryAddress);
}

/** A gateway with its embedded broker on 127.0.0.1:0, HTTP on 127.0.0.1:0 and a SQLite file in `dir`. */
export async function startTestGateway(rpcUrl: string, registry: string, dir: string, env: Record<string, string> = {}): Promise<Gateway> {
  const config = parseConfig({
    TRIAD_GATEWAY_RPC_URL: rpcUrl,
    TRIAD_GATEWAY_REGISTRY_ADDRESS: registry,
    TRIAD_GATEWAY_MQTT_PORT: "0",
    TRIAD_GATEWAY_HTTP_PORT: "0",
    TRIAD_GATEWAY_DATABASE_URL: `sqlite:${path.join(dir, "gateway.sqlite")}`,
    TRIAD_GATEWAY_REGISTRY_POLL_MS: "50",
    ...env,
  });
  return startGateway(config, { logger: pino({ level: "silent" }) });
}

export async function connectDevice(url: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
}

/** Collects the rejection messages of `device` (subscribed before it returns). */
export async function rejectionsOf(client: MqttClient, chainId: bigint, device: string): Promise<WireRejection[]> {
  const topic = deviceTopic(chainId, device, "rejections");
  const seen: WireRejection[] = [];
  client.on("message", (t, message) => {
    if (t === topic) seen.push(JSON.parse(message.toString("utf8")) as WireRejection);
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return seen;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
