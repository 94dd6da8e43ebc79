import { expect } from "chai";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Wallet, encryptKeystoreJsonSync } from "ethers";
import pino from "pino";
import { connect } from "mqtt";
import { deviceTopic, encodeWireRejection, recoverReading, telemetryToValues, type SignedReading } from "@triad/sdk";
import { createDeviceAgent, deviceStateFile, type DeviceAgent } from "../src/agent.ts";
import { DeviceStore, OutboxFullError } from "../src/store.ts";
import { KeyError, fleetKey, generateKeyFile, loadKeyFile, loadKeystore } from "../src/keys.ts";
import { simulatorSource } from "../src/sources.ts";
import { collectReadings, restartBroker, startBroker, until, type Collector, type TestBroker } from "./broker.ts";

const CHAIN_ID = 31337n;
const REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const silent = pino({ level: "silent" });
const VALUES = [298_100n, 308_600n, 1551n, 42_800n, 0n, 1n];

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "triad-device-"));
}

function seqsOf(readings: readonly SignedReading[]): bigint[] {
  return readings.map((r) => r.seq);
}

function expectStrictlyIncreasing(seqs: readonly bigint[]): void {
  for (let i = 1; i < seqs.length; i++) expect(seqs[i] > seqs[i - 1], `seq ${seqs[i]} after ${seqs[i - 1]}`).to.equal(true);
}

describe("device agent over MQTT (real aedes broker, real SQLite)", function () {
  this.timeout(60_000);
  let broker: TestBroker;
  let collector: Collector;
  const agents: DeviceAgent[] = [];

  const newAgent = (
    key: Pick<Wallet, "address" | "privateKey">,
    stateDir: string,
    extra: Partial<Parameters<typeof createDeviceAgent>[0]> = {},
  ) => {
    const agent = createDeviceAgent({
      key,
      chainId: CHAIN_ID,
      registry: REGISTRY,
      mqttUrl: broker.url,
      stateDir,
      logger: silent,
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
      ...extra,
    });
    agents.push(agent);
    return agent;
  };

  beforeEach(async () => {
    broker = await startBroker();
    collector = await collectReadings(broker.url, CHAIN_ID);
  });

  afterEach(async () => {
    for (const a of agents.splice(0)) await a.close().catch(() => undefined);
    await collector.close();
    await broker.stop();
  });

  it("publishes signed readings that recover to the device, with strictly increasing seqs", async () => {
    const key = Wallet.createRandom();
    let now = 1_700_000_000;
    const agent = newAgent(new Wallet(key.privateKey), tempDir(), { clock: () => now++ + 0.75 });
    await agent.waitConnected();
    const source = simulatorSource({ seed: 42, count: 25 });
    const result = await agent.run(source);
    expect(result).to.deep.equal({ published: 25, refused: 0 });
    await collector.waitFor(25);
    await agent.drain();
    const got = collector.readings;
    expect(got).to.have.length(25);
    for (const r of got) {
      expect(r.device).to.equal(key.address);
      expect(recoverReading(agent.domain, r)).to.equal(key.address);
    }
    expect(seqsOf(got)).to.deep.equal(Array.from({ length: 25 }, (_, i) => BigInt(i + 1)));
    expect(got[0].timestamp).to.equal(1_700_000_000n); // the clock, in whole seconds
    expect(got[1].timestamp).to.equal(1_700_000_001n);
    // The values are the simulator's telemetry, in order.
    const expected: bigint[][] = [];
    for await (const r of simulatorSource({ seed: 42, count: 25 })) expected.push(r.values);
    expect(got.map((r) => r.values)).to.deep.equal(expected);
    expect(agent.stats()).to.include({ signed: 25, acked: 25, outbox: 0, connected: true });
    const metrics = await agent.metrics.registry.metrics();
    expect(metrics).to.match(/triad_device_readings_acked_total 25/);
  });

  it("buffers while the broker is down and back-fills every reading exactly once, in order, on reconnect", async () => {
    const agent = newAgent(Wallet.createRandom(), tempDir());
    await agent.waitConnected();
    for (let i = 0; i < 5; i++) agent.publish(VALUES);
    await collector.waitFor(5);
    await agent.drain();

    const port = broker.port;
    await broker.stop();
    await until(() => !agent.stats().connected, 10_000, "the agent to notice the broker is gone");
    for (let i = 0; i < 20; i++) agent.publish(VALUES);
    await sleep(300); // reconnect attempts fail meanwhile
    expect(agent.stats()).to.include({ connected: false, outbox: 20, signed: 25, acked: 5 });

    // Restart on the same port; hold every publish until the collector has re-subscribed, so it sees them all.
    let subscribed!: () => void;
    const gate = new Promise<void>((resolve) => (subscribed = resolve));
    broker = await restartBroker(port, {
      authorizePublish: (_client, _packet, callback) => void gate.then(() => callback(null)),
    });
    broker.broker.on("subscribe", (subs, client) => {
      if (client?.id === collector.client.options.clientId) subscribed();
    });
    await collector.waitFor(25);
    await agent.drain();
    await sleep(200); // nothing more may arrive
    const seqs = seqsOf(collector.readings);
    expect(seqs).to.deep.equal(Array.from({ length: 25 }, (_, i) => BigInt(i + 1)));
    expect(agent.stats()).to.include({ outbox: 0, acked: 25, connected: true });
  });

  it("continues the seq after the agent is recreated on the same state, and flushes the outbox it left", async () => {
    const stateDir = tempDir();
    const key = Wallet.createRandom();
    const first = newAgent(new Wallet(key.privateKey), stateDir);
    await first.waitConnected();
    for (let i = 0; i < 5; i++) first.publish(VALUES);
    await first.drain();
    const port = broker.port;
    await broker.stop();
    await until(() => !first.stats().connected);
    for (let i = 0; i < 3; i++) first.publish(VALUES); // seqs 6..8 stay in the outbox
    await first.close();

    // A crash after a seq was reserved but before the reading was signed and stored: seq 9 is gone for good.
    const store = new DeviceStore(deviceStateFile(stateDir, key.address));
    expect(store.reserve([key.address])).to.deep.equal([9n]);
    expect(store.outboxSize).to.equal(3);
    store.close();

    let subscribed!: () => void;
    const gate = new Promise<void>((resolve) => (subscribed = resolve));
    broker = await restartBroker(port, { authorizePublish: (_c, _p, cb) => void gate.then(() => cb(null)) });
    broker.broker.on("subscribe", (_s, client) => client?.id === collector.client.options.clientId && subscribed());
    const second = newAgent(new Wallet(key.privateKey), stateDir);
    expect(second.nextSeq()).to.equal(10n);
    expect(second.publish(VALUES).seq).to.equal(10n);
    expect(second.publish(VALUES).seq).to.equal(11n);
    await collector.waitFor(10);
    await second.drain();
    expect(seqsOf(collector.readings)).to.deep.equal([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 10n, 11n]);
    for (const r of collector.readings) expect(recoverReading(second.domain, r)).to.equal(key.address);
  });

  it("never re-uses a seq when the agent process is SIGKILLed while publishing", async () => {
    const stateDir = tempDir();
    const key = Wallet.createRandom();
    const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "fixtures/agent-child.ts")], {
      env: { ...process.env, DEVICE_KEY: key.privateKey, REGISTRY, MQTT_URL: broker.url, STATE_DIR: stateDir },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let signedByChild: bigint[] = [];
    child.stdout.on("data", (chunk: Buffer) => {
      signedByChild = signedByChild.concat(chunk.toString().trim().split("\n").filter(Boolean).map(BigInt));
    });
    await collector.waitFor(40, 30_000);
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const maxSigned = signedByChild.reduce((a, b) => (b > a ? b : a), 0n);
    const beforeRestart = collector.readings.length;

    const agent = newAgent(new Wallet(key.privateKey), stateDir);
    expect(agent.nextSeq() > maxSigned, `next seq ${agent.nextSeq()} after ${maxSigned} signed`).to.equal(true);
    const fresh = agent.publish(VALUES);
    await agent.drain();
    await collector.waitFor(beforeRestart + 1);
    await sleep(100);
    // Every seq the broker saw carries one content only (re-sent copies are identical), and the new reading's seq is new.
    const bySeq = new Map<bigint, string>();
    for (const r of collector.readings) {
      const previous = bySeq.get(r.seq);
      if (previous !== undefined) expect(r.signature, `seq ${r.seq} re-used`).to.equal(previous);
      bySeq.set(r.seq, r.signature);
    }
    expect(collector.readings.filter((r) => r.seq === fresh.seq)).to.have.length(1);
    // Whatever the child had stored is delivered: every seq it printed (signed and stored) reached the broker.
    for (const seq of signedByChild) expect(bySeq.has(seq), `seq ${seq} signed by the child was lost`).to.equal(true);
    const unique = [...bySeq.keys()];
    expectStrictlyIncreasing(unique);
  });

  it("counts the rejections the gateway publishes on the device's rejections topic", async () => {
    const seen: string[] = [];
    const agent = newAgent(Wallet.createRandom(), tempDir(), { onRejection: (r) => seen.push(`${r.seq}:${r.reason}`) });
    await agent.waitConnected();
    await until(() => broker.broker.connectedClients >= 2);
    await sleep(100); // the agent's subscription settles
    const gateway = connect(broker.url);
    await new Promise((resolve) => gateway.once("connect", resolve));
    const topic = deviceTopic(CHAIN_ID, agent.device, "rejections");
    await gateway.publishAsync(topic, Buffer.from(encodeWireRejection({ seq: "3", reason: "BAD_SIGNATURE", detail: "does not recover" })), {
      qos: 1,
    });
    await gateway.publishAsync(topic, Buffer.from(encodeWireRejection({ seq: "4", reason: "CLOCK_SKEW", detail: "too far" })), { qos: 1 });
    await gateway.publishAsync(topic, Buffer.from("not json"), { qos: 1 });
    await gateway.endAsync();
    await until(() => seen.length === 3, 5_000, "3 rejections");
    expect(seen).to.deep.equal(["3:BAD_SIGNATURE", "4:CLOCK_SKEW", "undefined:UNKNOWN"]);
    expect(agent.stats().rejections).to.deep.equal({ BAD_SIGNATURE: 1, CLOCK_SKEW: 1, UNKNOWN: 1 });
    expect(await agent.metrics.registry.metrics()).to.match(/triad_device_rejections_total\{reason="BAD_SIGNATURE"\} 1/);
  });

  it("refuses new readings when the outbox is full, without consuming a seq", async () => {
    const port = broker.port;
    await broker.stop();
    const agent = createDeviceAgent({
      key: Wallet.createRandom(),
      chainId: CHAIN_ID,
      registry: REGISTRY,
      mqttUrl: `mqtt://127.0.0.1:${port}`,
      stateDir: tempDir(),
      logger: silent,
      maxOutbox: 3,
      reconnectMinMs: 50,
    });
    agents.push(agent);
    for (let i = 0; i < 3; i++) agent.publish(VALUES);
    expect(() => agent.publish(VALUES)).to.throw(OutboxFullError);
    const result = await agent.run(simulatorSource({ count: 4 }));
    expect(result).to.deep.equal({ published: 0, refused: 4 });
    expect(agent.nextSeq()).to.equal(4n);
    expect(agent.stats().refused).to.deep.equal({ outbox_full: 5 });
    broker = await restartBroker(port);
    await collector.close();
    collector = await collectReadings(broker.url, CHAIN_ID);
    await agent.drain();
    expect(agent.publish(VALUES).seq).to.equal(4n);
  });

  it("refuses a state file of another chain or registry", () => {
    const stateDir = tempDir();
    const key = Wallet.createRandom();
    const store = new DeviceStore(deviceStateFile(stateDir, key.address));
    store.ensureDevice(key.address, 1n, REGISTRY);
    store.close();
    expect(() => newAgent(key, stateDir)).to.throw(/belongs to chain 1/);
  });
});

describe("device keys", () => {
  it("loads a 0600 key file and refuses a group- or world-readable one", () => {
    const dir = tempDir();
    const file = path.join(dir, "device.key");
    const wallet = generateKeyFile(file);
    expect(loadKeyFile(file).address).to.equal(wallet.address);
    expect(() => generateKeyFile(file)).to.throw(KeyError, /already exists/);
    chmodSync(file, 0o644);
    expect(() => loadKeyFile(file)).to.throw(KeyError, /mode 0644.*chmod 600/);
    const bad = path.join(dir, "bad.key");
    writeFileSync(bad, "0x1234\n", { mode: 0o600 });
    expect(() => loadKeyFile(bad)).to.throw(KeyError, /32-byte hex/);
  });

  it("decrypts a keystore and names a wrong password", async () => {
    const dir = tempDir();
    const wallet = Wallet.createRandom();
    const file = path.join(dir, "keystore.json");
    writeFileSync(file, encryptKeystoreJsonSync({ address: wallet.address, privateKey: wallet.privateKey }, "pw", { scrypt: { N: 1024 } }));
    expect((await loadKeystore(file, "pw")).address).to.equal(wallet.address);
    let error: unknown;
    await loadKeystore(file, "wrong").catch((e) => (error = e));
    expect(error).to.be.instanceOf(KeyError);
    expect((error as Error).message).to.match(/cannot decrypt/);
  });

  it("derives fleet keys deterministically", () => {
    expect(fleetKey("s", 1).address).to.equal(fleetKey("s", 1).address);
    expect(fleetKey("s", 1).address).to.not.equal(fleetKey("s", 2).address);
    expect(telemetryToValues({ airTempK: 300, processTempK: 310, rpm: 1500, torqueNm: 40, toolWearMin: 0, variant: "L" })).to.have.length(
      6,
    );
  });
});
