import { expect } from "chai";
import Database from "better-sqlite3";
import path from "node:path";
import { Wallet } from "ethers";
import type { MqttClient } from "mqtt";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { deployTriad, serveChainOverHttp, type TriadDeployment } from "@triad/devkit";
import { deviceTopic, signReading, WIRE_MAX_PAYLOAD_BYTES, type WireRejection } from "@triad/sdk";
import { counterValue } from "../src/metrics.ts";
import type { Gateway } from "../src/service.ts";
import { REORDER_WINDOW, type ReadingStore, type ReadingStoreTx } from "../src/store/index.ts";
import {
  connectDevice,
  domainOf,
  newDevices,
  nowSeconds,
  payload,
  registerAll,
  rejectionsOf,
  signed,
  startTestGateway,
  tempDir,
  waitFor,
} from "./helpers.ts";

const { loadFixture } = networkHelpers;

describe("gateway ingest over the embedded broker (in-process chain over HTTP, real SQLite, real MQTT clients)", function () {
  this.timeout(120_000);
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let suite: TriadDeployment;
  let owner: HardhatEthersSigner;
  let gateway: Gateway;
  let dir: string;
  const devices = newDevices(5);
  const [good, other, revoked, spare, far] = devices;
  const clients: MqttClient[] = [];

  const client = async () => {
    const c = await connectDevice(gateway.mqttUrl);
    clients.push(c);
    return c;
  };
  const publish = (c: MqttClient, topic: string, body: Buffer | string) => c.publishAsync(topic, body, { qos: 1 });
  const readingsTopic = (device: string) => deviceTopic(gateway.chainId, device, "readings");

  /** Publishes one message and returns the rejection that answers it (waits for the PUBACK first). */
  async function rejectionFor(device: string, topic: string, body: Buffer | string): Promise<WireRejection> {
    const c = await client();
    const seen = await rejectionsOf(c, gateway.chainId, device);
    await publish(c, topic, body); // acknowledged: permanent rejections are acknowledged so devices move on
    await waitFor(() => seen.length > 0, `a rejection on ${device}'s topic`);
    return seen[0];
  }

  before(async function () {
    suite = await loadFixture(deployTriad);
    [owner] = await ethers.getSigners();
    await registerAll(suite.registry, owner, devices);
    rpc = await serveChainOverHttp();
    dir = tempDir();
    gateway = await startTestGateway(rpc.url, await suite.registry.getAddress(), dir);
  });
  after(async function () {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await gateway?.stop();
    await rpc?.close();
  });

  it("stores a device-signed reading (signReading + encodeWireReading) and acknowledges it", async function () {
    const c = await client();
    const reading = await signReading(good, domainOf(gateway), {
      device: good.address,
      seq: 1n,
      timestamp: nowSeconds(),
      values: signed(good, domainOf(gateway), 1n).values,
    });
    await publish(c, readingsTopic(good.address), payload(reading));
    const stored = await gateway.store.readings({ device: good.address, limit: 10 });
    expect(stored).to.have.length(1); // the PUBACK came after the commit
    expect(stored[0]).to.deep.include({ seq: 1n, signature: reading.signature, anchorRoot: null });
    // a checksummed topic works too
    await publish(
      c,
      deviceTopic(gateway.chainId, good.address, "readings").replace(good.address.toLowerCase(), good.address),
      payload(signed(good, domainOf(gateway), 2n)),
    );
    expect(await gateway.store.lastSeq(good.address)).to.equal(2n);
  });

  it("an exact duplicate is acknowledged and stored once", async function () {
    const c = await client();
    const r = signed(good, domainOf(gateway), 3n);
    await publish(c, readingsTopic(good.address), payload(r));
    await publish(c, readingsTopic(good.address), payload(r));
    expect((await gateway.store.readings({ device: good.address, limit: 100 })).filter((x) => x.seq === 3n)).to.have.length(1);
    expect(await counterValue(gateway.metrics.duplicates)).to.be.greaterThan(0);
  });

  it("another reading under a stored seq is EQUIVOCATION, recorded as evidence; a late lower seq is stored unless beyond the reorder window", async function () {
    const conflicting = signed(good, domainOf(gateway), 3n, { timestamp: nowSeconds() + 1n });
    const rej = await rejectionFor(good.address, readingsTopic(good.address), payload(conflicting));
    expect(rej).to.deep.include({ reason: "EQUIVOCATION", seq: "3" });
    const evidence = await gateway.store.equivocations(good.address);
    expect(evidence.map((e) => e.conflicting.signature)).to.include(conflicting.signature);
    // seq 0 is below the last stored (3) and was never stored: a late gap-fill, stored
    const c = await client();
    await publish(c, readingsTopic(good.address), payload(signed(good, domainOf(gateway), 0n)));
    expect((await gateway.store.readings({ device: good.address, limit: 10 })).map((r) => r.seq)).to.deep.equal([0n, 1n, 2n, 3n]);
    expect(await gateway.store.lastSeq(good.address)).to.equal(3n);
    // more than REORDER_WINDOW below the last stored seq: refused
    const top = REORDER_WINDOW + 10n;
    await publish(c, readingsTopic(far.address), payload(signed(far, domainOf(gateway), top)));
    const stale = await rejectionFor(far.address, readingsTopic(far.address), payload(signed(far, domainOf(gateway), 9n)));
    expect(stale).to.deep.include({ reason: "SEQ_NOT_INCREASING", seq: "9" });
    expect(stale.detail).to.equal(`seq 9 was never stored and is more than ${REORDER_WINDOW} below the last stored seq ${top}`);
    await publish(c, readingsTopic(far.address), payload(signed(far, domainOf(gateway), 10n))); // the window's edge
    expect((await gateway.store.readings({ device: far.address, limit: 10 })).map((r) => r.seq)).to.deep.equal([10n, top]);
  });

  it("rejects bad input with a reason on the device's rejections topic, acknowledges it, and keeps serving", async function () {
    const d = domainOf(gateway);
    const topic = readingsTopic(other.address);
    const cases: [string, string, Buffer | string, string, string | undefined][] = [
      ["malformed JSON", topic, "{not json", "MALFORMED", undefined],
      ["wrong shape", topic, JSON.stringify({ seq: "1", hello: 1 }), "MALFORMED", "1"],
      ["oversize", topic, Buffer.alloc(WIRE_MAX_PAYLOAD_BYTES + 1, 0x20), "MALFORMED", undefined],
      ["bad signature (another key)", topic, payload({ ...signed(spare, d, 1n), device: other.address }), "BAD_SIGNATURE", "1"],
      ["readings of another chain's domain", topic, payload(signed(other, { ...d, chainId: 1n }, 1n)), "BAD_SIGNATURE", "1"],
      ["clock skew (future)", topic, payload(signed(other, d, 1n, { timestamp: nowSeconds() + 3600n })), "CLOCK_SKEW", "1"],
      ["clock skew (past)", topic, payload(signed(other, d, 1n, { timestamp: nowSeconds() - 3600n })), "CLOCK_SKEW", "1"],
      ["too few values", topic, payload(signed(other, d, 1n, { values: [1n, 2n] })), "SCHEMA_MISMATCH", "1"],
      [
        "a value out of range",
        topic,
        payload(signed(other, d, 1n, { values: [298_100n, 308_600n, 1551n, 42_800n, 5n, 7n] })),
        "SCHEMA_MISMATCH",
        "1",
      ],
      [
        "published on the rejections topic",
        deviceTopic(gateway.chainId, other.address, "rejections"),
        payload(signed(other, d, 1n)),
        "WRONG_TOPIC",
        undefined,
      ],
      [
        "published on another chain's topic",
        deviceTopic(5n, other.address, "readings"),
        payload(signed(other, d, 1n)),
        "WRONG_TOPIC",
        undefined,
      ],
    ];
    for (const [what, t, body, reason, seq] of cases) {
      const rej = await rejectionFor(other.address, t, body);
      expect(rej.reason, what).to.equal(reason);
      expect(rej.seq, what).to.equal(seq);
      expect(rej.detail, what).to.be.a("string").and.not.equal("");
    }
    // a topic that names no device: acknowledged and counted, nobody to tell
    const c = await client();
    await publish(c, "not/a/triad/topic", "x");
    await publish(c, `triad/v1/${gateway.chainId}/0xnope/readings`, "x");
    expect(await counterValue(gateway.metrics.rejected, { reason: "WRONG_TOPIC" })).to.be.at.least(4);
    // an unknown (unregistered) device
    const stranger = new Wallet(Wallet.createRandom().privateKey);
    const unknown = await rejectionFor(stranger.address, readingsTopic(stranger.address), payload(signed(stranger, d, 1n)));
    expect(unknown).to.deep.include({ reason: "UNKNOWN_DEVICE", seq: "1" });
    // nothing of that was stored, and the device's good reading still goes through
    expect(await gateway.store.lastSeq(other.address)).to.equal(undefined);
    await publish(c, topic, payload(signed(other, d, 1n)));
    expect(await gateway.store.lastSeq(other.address)).to.equal(1n);
    const counts = await gateway.store.rejectionCounts(other.address);
    expect(counts).to.include({ MALFORMED: 3, BAD_SIGNATURE: 2, CLOCK_SKEW: 2, SCHEMA_MISMATCH: 2, WRONG_TOPIC: 2 });
  });

  it("a revoked device's readings are DEVICE_NOT_ACTIVE once the registry event is seen (bounded staleness)", async function () {
    const d = domainOf(gateway);
    const c = await client();
    await publish(c, readingsTopic(revoked.address), payload(signed(revoked, d, 1n)));
    expect(await gateway.store.lastSeq(revoked.address)).to.equal(1n);
    await (await suite.registry.connect(owner).revoke(revoked.address)).wait();
    await waitFor(() => gateway.registry.get(revoked.address)?.status === "Revoked", "the registry cache to see the revocation", 10_000);
    const rej = await rejectionFor(revoked.address, readingsTopic(revoked.address), payload(signed(revoked, d, 2n)));
    expect(rej).to.deep.include({ reason: "DEVICE_NOT_ACTIVE", seq: "2" });
  });

  it("clients may subscribe only to rejections/alerts topics; readings are not relayed to anyone", async function () {
    const spy = await client();
    const refused = async (filter: string) => {
      try {
        await spy.subscribeAsync(filter, { qos: 1 });
        return false;
      } catch (error) {
        return (error as { packet?: { granted?: number[] } }).packet?.granted?.[0] === 128;
      }
    };
    expect(await refused(readingsTopic(good.address))).to.equal(true);
    expect(await refused(`triad/v1/${gateway.chainId}/+/readings`)).to.equal(true);
    expect(await refused("#")).to.equal(true);
    const granted = await spy.subscribeAsync(
      [deviceTopic(gateway.chainId, good.address, "alerts"), `triad/v1/${gateway.chainId}/+/rejections`],
      { qos: 1 },
    );
    expect(granted.map((g) => g.qos)).to.deep.equal([1, 1]);
  });

  it("a storm of garbage from many clients at once neither crashes nor stalls the gateway", async function () {
    const d = domainOf(gateway);
    const cs = await Promise.all(Array.from({ length: 5 }, () => client()));
    const junk: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const c = cs[i % cs.length];
      const bodies = [
        Buffer.from([0xff, 0xfe, i & 0xff]),
        "[]",
        "null",
        JSON.stringify({ seq: "-1" }),
        payload(signed(spare, d, BigInt(i))),
      ];
      junk.push(
        publish(
          c,
          i % 7 === 0 ? `triad/v1/${gateway.chainId}/${spare.address}/readings/extra` : readingsTopic(other.address),
          bodies[i % bodies.length],
        ),
      );
    }
    await Promise.all(junk);
    const last = (await gateway.store.lastSeq(other.address))!;
    await publish(cs[0], readingsTopic(other.address), payload(signed(other, d, last + 1n)));
    expect(await gateway.store.lastSeq(other.address)).to.equal(last + 1n);
    const health = await fetch(`${gateway.httpUrl}/healthz`);
    expect(health.status).to.equal(200);
  });

  it("the PUBACK of a QoS 1 reading waits for the durable commit (aedes authorizePublish delays it)", async function () {
    // A real SQLite store whose transactions wait at a gate: the reading cannot be committed before the gate opens.
    const store = gateway.store;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const original = store.transaction.bind(store);
    (store as { transaction: ReadingStore["transaction"] }).transaction = <T>(fn: (tx: ReadingStoreTx) => Promise<T>) =>
      gate.then(() => original(fn));
    try {
      const c = await client();
      const r = signed(good, domainOf(gateway), 100n);
      let acked = false;
      const published = publish(c, readingsTopic(good.address), payload(r)).then(() => (acked = true));
      await new Promise((res) => setTimeout(res, 400));
      expect(acked, "no PUBACK before the commit").to.equal(false);
      const file = path.join(dir, "gateway.sqlite");
      const other = new Database(file, { readonly: true });
      const count = () =>
        (other.prepare("SELECT count(*) AS n FROM readings WHERE seq = ?").get(String(100n).padStart(20, "0")) as { n: number }).n;
      expect(count()).to.equal(0);
      open();
      await published;
      expect(count(), "committed when the PUBACK arrives (read by another connection)").to.equal(1);
      other.close();
    } finally {
      (store as { transaction: ReadingStore["transaction"] }).transaction = original;
    }
  });

  it("a reading the store cannot take is not acknowledged (UNAVAILABLE): the device resends and it is stored", async function () {
    const store = gateway.store;
    const original = store.transaction.bind(store);
    let failures = 1;
    (store as { transaction: ReadingStore["transaction"] }).transaction = <T>(fn: (tx: ReadingStoreTx) => Promise<T>) =>
      failures-- > 0 ? Promise.reject(new Error("disk full")) : original(fn);
    try {
      const c = await connectDevice(gateway.mqttUrl, { reconnectPeriod: 100, clean: false, clientId: "retrying-device" });
      clients.push(c);
      const r = signed(spare, domainOf(gateway), 1n);
      await publish(c, readingsTopic(spare.address), payload(r)); // first attempt: connection closed, no PUBACK; mqtt.js resends
      expect(await gateway.store.lastSeq(spare.address)).to.equal(1n);
      expect(await counterValue(gateway.metrics.rejected, { reason: "UNAVAILABLE" })).to.equal(1);
    } finally {
      (store as { transaction: ReadingStore["transaction"] }).transaction = original;
    }
  });
});
