import { expect } from "chai";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { Aedes } from "aedes";
import { Wallet } from "ethers";
import type { MqttClient } from "mqtt";
import pino from "pino";
import { Registry } from "prom-client";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { deployTriad, serveChainOverHttp, type TriadDeployment } from "@triad/devkit";
import { AI4I_SCHEMA, deviceTopic, sensorSchemaId, telemetryToValues, type Ai4iTelemetry } from "@triad/sdk";
import { MachineSimulator, type SimulatedStep } from "@triad/device";
import { withinEnvelope } from "@triad/oracle/model";
import { DEFAULT_ALERT_THRESHOLDS, parseAlert, type Alert, type MonitorReading } from "@triad/oracle/monitor";
import { ConfigError, MONITOR_DEFAULTS, configHelpText, parseConfig } from "../src/config.ts";
import { counterValue } from "../src/metrics.ts";
import { startMonitor } from "../src/monitor.ts";
import type { Gateway } from "../src/service.ts";
import { connectDevice, domainOf, newDevices, payload, registerAll, signed, startTestGateway, tempDir, waitFor } from "./helpers.ts";

const { loadFixture } = networkHelpers;

/** A local HTTP server standing in for an alert webhook: records every POST body; `answer` decides the response. */
async function startWebhook(answer: (n: number) => number | "hang" = () => 200) {
  const bodies: string[] = [];
  let requests = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const n = requests++;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = answer(n);
      if (status === "hang") return; // never answers: the sender's timeout must fire
      if (status >= 200 && status < 300) bodies.push(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/triad?token=secret`,
    bodies,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The value of one sample in Prometheus text (0 when absent). */
function sample(metrics: string, name: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

describe("gateway AI monitor (--monitor): a machine drifting into failure, over MQTT, against a real gateway", function () {
  this.timeout(180_000);
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let suite: TriadDeployment;
  let owner: HardhatEthersSigner;
  let gateway: Gateway;
  let webhook: Awaited<ReturnType<typeof startWebhook>>;
  const [machine] = newDevices(1);
  const clients: MqttClient[] = [];

  before(async function () {
    suite = await loadFixture(deployTriad);
    [owner] = await ethers.getSigners();
    await registerAll(suite.registry, owner, [machine]);
    rpc = await serveChainOverHttp();
    // The webhook refuses the first POST (503): the alert must still arrive, on a retry.
    webhook = await startWebhook((n) => (n === 0 ? 503 : 200));
    gateway = await startTestGateway(rpc.url, await suite.registry.getAddress(), tempDir(), {
      TRIAD_GATEWAY_MONITOR: "true",
      TRIAD_GATEWAY_ALERT_WEBHOOK: webhook.url,
      TRIAD_GATEWAY_ALERT_WEBHOOK_TIMEOUT_MS: "5000",
    });
  });
  after(async function () {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await gateway?.stop();
    await webhook?.close();
    await rpc?.close();
  });

  it("publishes 'raised' on the alerts topic at the latest with the first failure reading, POSTs the same JSON, counts it", async function () {
    expect(gateway.monitor, "the monitor is on").to.not.equal(undefined);
    const monitor = gateway.monitor!;
    // A test client subscribed to the machine's alerts topic.
    const subscriber = await connectDevice(gateway.mqttUrl);
    clients.push(subscriber);
    const topic = deviceTopic(gateway.chainId, machine.address, "alerts");
    const received: string[] = [];
    subscriber.on("message", (t, message) => {
      if (t === topic) received.push(message.toString("utf8"));
    });
    await subscriber.subscribeAsync(topic, { qos: 1 });

    // The machine: the simulator drifting into a power failure from step 100, published reading by reading (QoS 1).
    const device = await connectDevice(gateway.mqttUrl);
    clients.push(device);
    const simulator = new MachineSimulator({ seed: 2, scenario: "power", episodeStart: 100, noRandomFailures: true });
    const steps: SimulatedStep[] = [];
    for (let i = 0; i < 200; i++) {
      const step = simulator.next();
      steps.push(step);
      const reading = signed(machine, domainOf(gateway), BigInt(step.step + 1), { values: telemetryToValues(step.telemetry) });
      await device.publishAsync(deviceTopic(gateway.chainId, machine.address, "readings"), payload(reading), { qos: 1 });
    }
    expect(await gateway.store.lastSeq(machine.address)).to.equal(200n);
    await monitor.drain();

    // The first failure reading of the episode that the model judges (a failure condition inside its envelope).
    const envelope = monitor.monitor.model.metadata.envelope;
    const inEnvelope = (t: Ai4iTelemetry) => withinEnvelope(t, envelope);
    const first = steps.find(
      (s) => s.step >= 100 && (s.truth.modes.PWF || s.truth.modes.HDF || s.truth.modes.OSF) && inEnvelope(s.telemetry),
    )!;
    const firstSeq = BigInt(first.step + 1);

    await waitFor(() => received.length >= 2, "a raised and a cleared alert on the alerts topic");
    const alerts: Alert[] = received.map((r) => parseAlert(r));
    const inForce = alerts.filter((a) => a.seq <= firstSeq).at(-1);
    expect(inForce, "an alert at or before the first failure reading").to.not.equal(undefined);
    expect(inForce!.state).to.equal("raised");
    expect(inForce).to.deep.include({ device: machine.address, modelHash: monitor.modelHash });
    expect(inForce!.thresholds).to.deep.equal(DEFAULT_ALERT_THRESHOLDS);
    expect(inForce!.riskBps).to.be.at.least(DEFAULT_ALERT_THRESHOLDS.raiseAtBps);
    // States alternate, and the drift back to normal cleared the alert.
    alerts.forEach((a, i) => expect(a.state).to.equal(i % 2 === 0 ? "raised" : "cleared"));
    expect(alerts.some((a) => a.state === "raised" && a.modes.includes("PWF"))).to.equal(true);
    expect(alerts.at(-1)!.state).to.equal("cleared");

    // The webhook received the very same JSON, in the same order, despite refusing the first POST.
    await waitFor(() => webhook.bodies.length >= received.length, "the webhook deliveries");
    expect(webhook.bodies).to.deep.equal(received);
    expect(webhook.requests()).to.equal(received.length + 1);

    // Metrics and /healthz.
    const m = monitor.metrics;
    expect(await counterValue(m.alerts, { state: "raised" })).to.equal(alerts.filter((a) => a.state === "raised").length);
    expect(await counterValue(m.alerts, { state: "cleared" })).to.equal(alerts.filter((a) => a.state === "cleared").length);
    const outside = steps.filter((s) => !inEnvelope(s.telemetry)).length;
    expect(await counterValue(m.scored)).to.equal(200 - outside);
    expect(await counterValue(m.outOfEnvelope)).to.equal(outside);
    expect(await counterValue(m.webhook, { outcome: "delivered" })).to.equal(received.length);
    expect(await counterValue(m.webhookAttempts, { result: "http_error" })).to.equal(1);
    expect(await counterValue(m.published, { outcome: "ok" })).to.equal(received.length);
    const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
    expect(sample(text, 'triad_gateway_monitor_alerts_total{state="raised"}')).to.equal(alerts.filter((a) => a.state === "raised").length);
    expect(sample(text, "triad_gateway_monitor_devices_alerting")).to.equal(0);
    expect(sample(text, "triad_gateway_monitor_score_seconds_count")).to.be.greaterThan(0);
    const health = (await (await fetch(`${gateway.httpUrl}/healthz`)).json()) as { monitor: Record<string, unknown> };
    expect(health.monitor).to.deep.include({ enabled: true, modelHash: monitor.modelHash, devicesAlerting: 0, queue: 0 });
    expect(health.monitor.webhook).to.deep.equal({ url: webhook.url.replace(/\?.*$/, ""), pending: 0 }); // no token in /healthz
  });

  it("shows an alerting device in /healthz and the devices-alerting gauge", async function () {
    const device = await connectDevice(gateway.mqttUrl);
    clients.push(device);
    const failing: Ai4iTelemetry = { airTempK: 300.8, processTempK: 309.4, rpm: 1342, torqueNm: 62.4, toolWearMin: 113, variant: "M" }; // HDF
    const reading = signed(machine, domainOf(gateway), 1000n, { values: telemetryToValues(failing) });
    await device.publishAsync(deviceTopic(gateway.chainId, machine.address, "readings"), payload(reading), { qos: 1 });
    await gateway.monitor!.drain();
    const health = (await (await fetch(`${gateway.httpUrl}/healthz`)).json()) as {
      monitor: { devicesAlerting: number; alerting: unknown[] };
    };
    expect(health.monitor.devicesAlerting).to.equal(1);
    expect(health.monitor.alerting).to.deep.equal([{ device: machine.address, modes: ["HDF"] }]);
    const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
    expect(sample(text, "triad_gateway_monitor_devices_alerting")).to.equal(1);
  });
});

describe("gateway AI monitor with an external broker (--mqtt-url; here a separate aedes)", function () {
  this.timeout(120_000);

  it("publishes the alert at the external broker through the gateway's client", async function () {
    const suite = await loadFixture(deployTriad);
    const [owner] = await ethers.getSigners();
    const [machine] = newDevices(1);
    await registerAll(suite.registry, owner, [machine]);
    const rpc = await serveChainOverHttp();
    const broker = await Aedes.createBroker();
    const server = createNetServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const gateway = await startTestGateway(rpc.url, await suite.registry.getAddress(), tempDir(), {
      TRIAD_GATEWAY_MQTT_PORT: "",
      TRIAD_GATEWAY_MQTT_URL: url,
      TRIAD_GATEWAY_MQTT_PROTOCOL: "4",
      TRIAD_GATEWAY_MQTT_SHARE_GROUP: "off",
      TRIAD_GATEWAY_MQTT_CLIENT_ID: "gw-monitor-test",
      TRIAD_GATEWAY_MONITOR: "true",
    });
    const subscriber = await connectDevice(url);
    const device = await connectDevice(url);
    try {
      const received: Alert[] = [];
      const topic = deviceTopic(gateway.chainId, machine.address, "alerts");
      subscriber.on("message", (t, message) => {
        if (t === topic) received.push(parseAlert(message));
      });
      await subscriber.subscribeAsync(topic, { qos: 1 });
      const failing: Ai4iTelemetry = { airTempK: 300.8, processTempK: 309.4, rpm: 1342, torqueNm: 62.4, toolWearMin: 113, variant: "M" }; // HDF
      const reading = signed(machine, domainOf(gateway), 1n, { values: telemetryToValues(failing) });
      await device.publishAsync(deviceTopic(gateway.chainId, machine.address, "readings"), payload(reading), { qos: 1 });
      await waitFor(() => received.length > 0, "the alert at the external broker");
      expect(received[0]).to.deep.include({ device: machine.address, state: "raised", seq: 1n, modes: ["HDF"] });
    } finally {
      await subscriber.endAsync(true);
      await device.endAsync(true);
      await gateway.stop();
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
      await rpc.close();
    }
  });
});

describe("gateway AI monitor: off the ingest path (startMonitor with a real model, a stand-in pipeline)", function () {
  this.timeout(60_000);
  const AI4I = sensorSchemaId(AI4I_SCHEMA).toLowerCase();
  const failing = telemetryToValues({ airTempK: 300.8, processTempK: 309.4, rpm: 1342, torqueNm: 62.4, toolWearMin: 113, variant: "M" });
  const readingsOf = (device: string, n: number, from = 1): MonitorReading[] =>
    Array.from({ length: n }, (_, i) => ({ device, seq: BigInt(from + i), timestamp: 1_767_225_600n, values: failing }));

  it("the listener only queues (never waits for the model); beyond the bound readings are dropped and counted; other schemas are skipped", async function () {
    let listener: ((readings: MonitorReading[]) => void) | undefined;
    const published: string[] = [];
    const [a, b] = [Wallet.createRandom().address, Wallet.createRandom().address];
    const monitor = await startMonitor({
      config: { thresholds: { ...MONITOR_DEFAULTS }, queueLimit: 100 },
      onStored: (l) => {
        listener = l;
        return () => (listener = undefined);
      },
      chainId: 31337n,
      publish: async (topic) => void published.push(topic),
      sensorSchemaOf: (device) => (device === b ? sensorSchemaId("other/v1") : AI4I),
      registry: new Registry(),
      logger: pino({ level: "silent" }),
    });
    try {
      listener!([...readingsOf(a, 250), ...readingsOf(b, 5)]);
      // Synchronously after the call: queued up to the bound, nothing scored yet.
      expect(monitor.health().queue).to.equal(100);
      expect(await counterValue(monitor.metrics.skipped, { reason: "queue_full" })).to.equal(150);
      expect(await counterValue(monitor.metrics.skipped, { reason: "schema" })).to.equal(5);
      expect(await counterValue(monitor.metrics.scored)).to.equal(0);
      await monitor.drain();
      expect(await counterValue(monitor.metrics.scored)).to.equal(100);
      expect(published).to.deep.equal([deviceTopic(31337n, a, "alerts")]); // raised once, not once per reading
      expect(monitor.health()).to.deep.include({ devicesAlerting: 1, queue: 0, webhook: null });
    } finally {
      await monitor.stop();
    }
    expect(listener, "stop detaches the listener").to.equal(undefined);
  });

  it("a webhook that does not answer is retried with a timeout, then counted as failed and logged; alerts still publish", async function () {
    const webhook = await startWebhook(() => "hang");
    const published: string[] = [];
    let listener: ((readings: MonitorReading[]) => void) | undefined;
    const device = Wallet.createRandom().address;
    const logs: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void logs.push(line) });
    const monitor = await startMonitor({
      config: { thresholds: { ...MONITOR_DEFAULTS }, queueLimit: 1000, webhook: { url: webhook.url, timeoutMs: 100, retries: 2 } },
      onStored: (l) => ((listener = l), () => undefined),
      chainId: 31337n,
      publish: async (_topic, body) => void published.push(body.toString("utf8")),
      sensorSchemaOf: () => AI4I,
      registry: new Registry(),
      logger,
    });
    try {
      listener!(readingsOf(device, 3));
      await monitor.drain();
      expect(published).to.have.length(1);
      expect(webhook.requests()).to.equal(3); // 1 + 2 retries
      expect(await counterValue(monitor.metrics.webhookAttempts, { result: "network_error" })).to.equal(3);
      expect(await counterValue(monitor.metrics.webhook, { outcome: "failed" })).to.equal(1);
      const failure = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "alert webhook delivery failed");
      expect(failure).to.deep.include({ device, state: "raised" });
      expect(String(failure!.webhook)).to.not.include("secret"); // the URL's query (a token) is not logged
    } finally {
      await monitor.stop();
      await webhook.close();
    }
  });
});

describe("gateway configuration of the monitor", function () {
  const base = { TRIAD_GATEWAY_RPC_URL: "http://127.0.0.1:8545" };

  it("is off by default; --monitor turns it on with the library's default thresholds", function () {
    expect(parseConfig(base).monitor).to.equal(undefined);
    const config = parseConfig({ ...base, TRIAD_GATEWAY_MONITOR: "true" });
    expect(config.monitor).to.deep.equal({ thresholds: { ...DEFAULT_ALERT_THRESHOLDS }, queueLimit: 10_000, webhook: undefined });
    expect(configHelpText()).to.match(/--monitor {2,}TRIAD_GATEWAY_MONITOR /); // a boolean flag: no <value>
  });

  it("takes thresholds, queue bound and webhook options", function () {
    const config = parseConfig({
      ...base,
      TRIAD_GATEWAY_MONITOR: "true",
      TRIAD_GATEWAY_MONITOR_RAISE_AT_BPS: "8000",
      TRIAD_GATEWAY_MONITOR_RAISE_AFTER: "2",
      TRIAD_GATEWAY_MONITOR_CLEAR_AT_BPS: "3000",
      TRIAD_GATEWAY_MONITOR_CLEAR_AFTER: "10",
      TRIAD_GATEWAY_MONITOR_QUEUE: "500",
      TRIAD_GATEWAY_ALERT_WEBHOOK: "https://hooks.example/triad",
      TRIAD_GATEWAY_ALERT_WEBHOOK_RETRIES: "0",
    });
    expect(config.monitor).to.deep.equal({
      thresholds: { raiseAtBps: 8000, raiseAfter: 2, clearAtBps: 3000, clearAfter: 10 },
      queueLimit: 500,
      webhook: { url: "https://hooks.example/triad", timeoutMs: 5000, retries: 0 },
    });
  });

  it("refuses bad monitor options with one line each", function () {
    const problems = (env: Record<string, string>) => {
      try {
        parseConfig({ ...base, ...env });
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      throw new Error("expected a ConfigError");
    };
    expect(problems({ TRIAD_GATEWAY_MONITOR: "yes" })).to.deep.equal(['TRIAD_GATEWAY_MONITOR: must be true or false (got "yes")']);
    expect(problems({ TRIAD_GATEWAY_MONITOR: "true", TRIAD_GATEWAY_MONITOR_CLEAR_AT_BPS: "5000" })).to.deep.equal([
      "TRIAD_GATEWAY_MONITOR_CLEAR_AT_BPS: the clear threshold (5000 bps) must be below the raise threshold (5000 bps): that gap is the hysteresis",
    ]);
    expect(
      problems({ TRIAD_GATEWAY_MONITOR: "true", TRIAD_GATEWAY_MONITOR_RAISE_AT_BPS: "10001", TRIAD_GATEWAY_MONITOR_RAISE_AFTER: "0" }),
    ).to.deep.equal([
      'TRIAD_GATEWAY_MONITOR_RAISE_AT_BPS: must be between 1 and 10000 (got "10001")',
      'TRIAD_GATEWAY_MONITOR_RAISE_AFTER: must be between 1 and 10000 (got "0")',
    ]);
    expect(problems({ TRIAD_GATEWAY_MONITOR_RAISE_AFTER: "2", TRIAD_GATEWAY_ALERT_WEBHOOK: "ftp://x" })).to.deep.equal([
      'TRIAD_GATEWAY_ALERT_WEBHOOK: must be a URL with scheme http, https (got "ftp://x")',
      "TRIAD_GATEWAY_MONITOR_RAISE_AFTER: configures the AI monitor: needs TRIAD_GATEWAY_MONITOR=true (--monitor)",
    ]);
    expect(problems({ TRIAD_GATEWAY_MONITOR: "true", TRIAD_GATEWAY_ALERT_WEBHOOK_TIMEOUT_MS: "1000" })).to.deep.equal([
      "TRIAD_GATEWAY_ALERT_WEBHOOK_TIMEOUT_MS: configures the alert webhook: needs TRIAD_GATEWAY_ALERT_WEBHOOK",
    ]);
  });
});
