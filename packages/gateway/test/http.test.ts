import { expect } from "chai";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { deployTriad, serveChainOverHttp } from "@triad/devkit";
import { deviceTopic } from "@triad/sdk";
import type { Gateway } from "../src/service.ts";
import { connectDevice, domainOf, newDevices, nowSeconds, payload, registerAll, signed, startTestGateway, tempDir } from "./helpers.ts";

const { loadFixture } = networkHelpers;

describe("gateway HTTP API", function () {
  this.timeout(60_000);
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let gateway: Gateway;
  let owner: HardhatEthersSigner;
  const [device, quiet] = newDevices(2);
  // Set when the suite starts, not when mocha loads the file: the gateway refuses readings older than its clock skew.
  let t0: bigint;

  const get = async (p: string) => {
    const res = await fetch(gateway.httpUrl + p);
    const text = await res.text();
    return {
      status: res.status,
      body: res.headers.get("content-type")?.includes("json") ? (JSON.parse(text) as Record<string, unknown>) : text,
    };
  };

  before(async function () {
    t0 = nowSeconds() - 100n;
    const suite = await loadFixture(deployTriad);
    [owner] = await ethers.getSigners();
    await registerAll(suite.registry, owner, [device, quiet]);
    rpc = await serveChainOverHttp();
    gateway = await startTestGateway(rpc.url, await suite.registry.getAddress(), tempDir());
    const c = await connectDevice(gateway.mqttUrl);
    const topic = deviceTopic(gateway.chainId, device.address, "readings");
    for (let seq = 1n; seq <= 5n; seq++)
      await c.publishAsync(topic, payload(signed(device, domainOf(gateway), seq, { timestamp: t0 + seq * 10n })), { qos: 1 });
    await c.publishAsync(topic, "garbage", { qos: 1 });
    await c.endAsync();
  });
  after(async function () {
    await gateway?.stop();
    await rpc?.close();
  });

  it("GET /v1/devices/{device}/readings: readings with signatures in seq order, time range, limit and paging; anchor/proof null", async function () {
    const all = await get(`/v1/devices/${device.address}/readings`);
    expect(all.status).to.equal(200);
    const readings = all.body as { readings: Record<string, unknown>[]; next: string | null };
    expect(readings.readings.map((r) => r.seq)).to.deep.equal(["1", "2", "3", "4", "5"]);
    expect(readings.next).to.equal(null);
    const first = readings.readings[0];
    expect(first).to.include({ device: device.address, timestamp: String(t0 + 10n), anchor: null, proof: null });
    expect(first.signature).to.equal(signed(device, domainOf(gateway), 1n, { timestamp: t0 + 10n }).signature);
    expect(first.values).to.have.length(6);
    const range = await get(`/v1/devices/${device.address.toLowerCase()}/readings?from=${t0 + 20n}&to=${t0 + 40n}`);
    expect((range.body as typeof readings).readings.map((r) => r.seq)).to.deep.equal(["2", "3", "4"]);
    const page1 = (await get(`/v1/devices/${device.address}/readings?limit=2`)).body as typeof readings;
    expect(page1.readings.map((r) => r.seq)).to.deep.equal(["1", "2"]);
    const page2 = (await get(`/v1/devices/${device.address}/readings?limit=2&after=${page1.next}`)).body as typeof readings;
    expect(page2.readings.map((r) => r.seq)).to.deep.equal(["3", "4"]);
    const none = await get(`/v1/devices/${quiet.address}/readings`);
    expect(none.status).to.equal(200);
    expect((none.body as typeof readings).readings).to.deep.equal([]);
  });

  it("GET /v1/devices/{device}: last seq and counts; 404 for a device without readings", async function () {
    const res = await get(`/v1/devices/${device.address}`);
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ device: device.address, lastSeq: "5", readings: 5, equivocations: 0 });
    expect((res.body as { rejections: Record<string, number> }).rejections).to.deep.equal({ MALFORMED: 1 });
    expect((await get(`/v1/devices/${quiet.address}`)).status).to.equal(404);
  });

  it("bad parameters are clear 400s", async function () {
    const bad: [string, RegExp][] = [
      [`/v1/devices/0x1234/readings`, /not a device address/],
      [`/v1/devices/${device.address}/readings?from=abc`, /from must be a whole number/],
      [`/v1/devices/${device.address}/readings?from=-1`, /from must be a whole number/],
      [`/v1/devices/${device.address}/readings?to=99999999999999999999999`, /to must be a whole number/],
      [`/v1/devices/${device.address}/readings?from=10&to=5`, /from \(10\) is after to \(5\)/],
      [`/v1/devices/${device.address}/readings?limit=0`, /limit must be 1\.\.1000/],
      [`/v1/devices/${device.address}/readings?limit=1001`, /limit must be 1\.\.1000/],
      [`/v1/devices/${device.address}/readings?colour=red`, /unknown parameter "colour"/],
    ];
    for (const [p, message] of bad) {
      const res = await get(p);
      expect(res.status, p).to.equal(400);
      expect((res.body as { error: string }).error, p).to.match(message);
    }
    expect((await get("/v1/nothing")).status).to.equal(404);
    expect((await fetch(gateway.httpUrl + "/healthz", { method: "POST" })).status).to.equal(405);
  });

  it("/healthz is truthful: broker, database and registry cache", async function () {
    const ok = await get("/healthz");
    expect(ok.status).to.equal(200);
    expect(ok.body).to.deep.include({ healthy: true });
    expect((ok.body as { broker: object }).broker).to.include({ mode: "embedded", up: true });
    expect((ok.body as { database: object }).database).to.include({ kind: "sqlite", writable: true });
    expect((ok.body as { registry: object }).registry).to.include({ fresh: true });
    // the registry cache goes stale when the chain cannot be polled
    await gateway.registry.stop();
    await new Promise((r) => setTimeout(r, 50));
    const original = gateway.registry.freshness.bind(gateway.registry);
    gateway.registry.freshness = () => ({ ...original(), ageMs: 10 * 60_000 });
    try {
      const stale = await get("/healthz");
      expect(stale.status).to.equal(503);
      expect((stale.body as { registry: object }).registry).to.include({ fresh: false });
    } finally {
      gateway.registry.freshness = original;
      await gateway.registry.start();
    }
  });

  it("/metrics: received, stored, rejected by reason, store latency, devices", async function () {
    const res = await get("/metrics");
    expect(res.status).to.equal(200);
    const text = res.body as string;
    expect(text).to.match(/triad_gateway_readings_received_total 6/);
    expect(text).to.match(/triad_gateway_readings_stored_total 5/);
    expect(text).to.match(/triad_gateway_readings_rejected_total\{reason="MALFORMED"\} 1/);
    expect(text).to.match(/triad_gateway_store_seconds_count \d+/);
    expect(text).to.match(/triad_gateway_devices 1/);
  });
});
