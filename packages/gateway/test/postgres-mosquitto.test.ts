/**
 * The gateway on the real thing: PostgreSQL (a private cluster) and Mosquitto (MQTT 5, shared subscriptions), both
 * started by @triad/devkit/services; this file FAILS (never skips) when their binaries are missing (.ci/run installs
 * them). Every test uses its own database and its own share group on the one broker.
 */
import { expect } from "chai";
import type { MqttClient } from "mqtt";
import type { Wallet } from "ethers";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { deployTriad, serveChainOverHttp } from "@triad/devkit";
import { startMosquitto, startPostgres, type MosquittoService, type PostgresService } from "@triad/devkit/services";
import { deviceTopic, telemetryToValues, type WireRejection } from "@triad/sdk";
import type { Gateway } from "../src/service.ts";
import { PostgresReadingStore } from "../src/store/index.ts";
import {
  connectDevice,
  domainOf,
  newDevices,
  payload,
  registerAll,
  rejectionsOf,
  signed,
  startTestGateway,
  tempDir,
  TELEMETRY,
  waitFor,
} from "./helpers.ts";

const { loadFixture } = networkHelpers;

/** Values no reading of `signed()` has (its tool wear is seq % 200): a second reading under a stored seq equivocates. */
const OTHER_VALUES = telemetryToValues({ ...TELEMETRY, toolWearMin: 250 });

interface Services {
  pg: PostgresService;
  mqtt: MosquittoService;
  rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  registry: string;
  /** Registered devices, handed out to tests so that no two tests share one. */
  devices: Wallet[];
}

/** A device: its key, its MQTT connection and the rejections it received. */
interface Device {
  key: Wallet;
  client: MqttClient;
  rejections: WireRejection[];
}

describe("gateway on PostgreSQL + Mosquitto (MQTT 5 shared subscription)", function () {
  this.timeout(180_000);
  let s: Services;
  let group = 0;
  /** Services of the file (stopped last) and what each test started (stopped after it). */
  const services: (() => Promise<unknown>)[] = [];
  const perTest: (() => Promise<unknown>)[] = [];

  before(async function () {
    const [pg, mqtt] = await Promise.all([startPostgres(), startMosquitto()]);
    services.push(
      () => pg.stop(),
      () => mqtt.stop(),
    ); // stopped even if the rest of this hook fails
    const suite = await loadFixture(deployTriad);
    const [owner] = await ethers.getSigners();
    const devices = newDevices(60);
    await registerAll(suite.registry, owner, devices);
    s = { pg, mqtt, rpc: await serveChainOverHttp(), registry: await suite.registry.getAddress(), devices };
  });
  afterEach(async function () {
    for (const fn of perTest.splice(0).reverse()) await fn().catch(() => undefined);
  });
  after(async function () {
    await s?.rpc.close();
    for (const fn of services.splice(0).reverse()) await fn().catch(() => undefined);
  });

  const take = (n: number) => s.devices.splice(0, n);

  /** A gateway subscribed to Mosquitto in share group `share` with its own client id, storing in `databaseUrl`. */
  async function gateway(name: string, databaseUrl: string, share: string): Promise<Gateway> {
    const gw = await startTestGateway(s.rpc.url, s.registry, tempDir(), {
      TRIAD_GATEWAY_MQTT_PORT: "",
      TRIAD_GATEWAY_MQTT_URL: s.mqtt.url,
      TRIAD_GATEWAY_MQTT_SHARE_GROUP: share,
      TRIAD_GATEWAY_MQTT_CLIENT_ID: `${share}-${name}`,
      TRIAD_GATEWAY_DATABASE_URL: `${databaseUrl}?application_name=${share}-${name}`,
    });
    perTest.push(() => gw.stop());
    return gw;
  }

  async function devicesOf(keys: Wallet[], chainId: bigint): Promise<Device[]> {
    return Promise.all(
      keys.map(async (key) => {
        const client = await connectDevice(s.mqtt.url);
        perTest.push(() => client.endAsync(true));
        return { key, client, rejections: await rejectionsOf(client, chainId, key.address) };
      }),
    );
  }

  /** Which gateway stored each reading (`device/seq`), and every key stored more than once. */
  function watchStored(gateways: Record<string, Gateway>) {
    const by = new Map<string, string>();
    const twice: string[] = [];
    const watch = (name: string, gw: Gateway) =>
      gw.pipeline.onStored((readings) => {
        for (const r of readings) {
          const key = `${r.device.toLowerCase()}/${r.seq}`;
          if (by.has(key)) twice.push(key);
          by.set(key, name);
        }
      });
    for (const [name, gw] of Object.entries(gateways)) watch(name, gw);
    const split = () => {
      const out: Record<string, number> = {};
      for (const name of by.values()) out[name] = (out[name] ?? 0) + 1;
      return out;
    };
    return { by, twice, watch, split, has: (device: string, seq: bigint) => by.has(`${device.toLowerCase()}/${seq}`) };
  }

  const rowCount = async (url: string) => Number(await s.pg.sql("SELECT count(*) FROM readings", new URL(url).pathname.slice(1)));
  const topicOf = (gw: Gateway, d: Device) => deviceTopic(gw.chainId, d.key.address, "readings");
  const share = () => `t${++group}-${process.pid}`;

  it("one gateway: devices publish to Mosquitto, readings land in PostgreSQL and are served; a rejection reaches the device", async function () {
    const url = await s.pg.createDatabase();
    const g = share();
    const gw = await gateway("a", url, g);
    expect(gw.store.kind).to.equal("postgres");
    expect(gw.external!.filter).to.equal(`$share/${g}/triad/v1/${gw.chainId}/+/readings`);
    expect(gw.external!.client.options.protocolVersion).to.equal(5);
    const [d] = await devicesOf(take(1), gw.chainId);
    for (let seq = 1n; seq <= 20n; seq++)
      await d.client.publishAsync(topicOf(gw, d), payload(signed(d.key, domainOf(gw), seq)), { qos: 1 });
    await d.client.publishAsync(topicOf(gw, d), payload(signed(d.key, domainOf(gw), 3n, { values: OTHER_VALUES })), { qos: 1 });
    await waitFor(async () => (await gw.store.lastSeq(d.key.address)) === 20n, "20 readings stored");
    await waitFor(() => d.rejections.length === 1, "the rejection");
    expect(d.rejections[0]).to.deep.include({ seq: "3", reason: "EQUIVOCATION" });
    expect(await rowCount(url)).to.equal(20);
    const res = await fetch(`${gw.httpUrl}/v1/devices/${d.key.address}/readings?limit=1000`);
    const body = (await res.json()) as { readings: { seq: string; signature: string }[] };
    expect(body.readings.map((r) => r.seq)).to.deep.equal(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    const health = (await (await fetch(`${gw.httpUrl}/healthz`)).json()) as { healthy: boolean; database: { kind: string } };
    expect(health).to.deep.include({ healthy: true });
    expect(health.database.kind).to.equal("postgres");
  });

  it("two gateways, one database, one share group: every reading stored exactly once, none lost, both take a share", async function () {
    const url = await s.pg.createDatabase();
    const g = share();
    const gws = { a: await gateway("a", url, g), b: await gateway("b", url, g) };
    const stored = watchStored(gws);
    const N = 12;
    const M = 25;
    const devices = await devicesOf(take(N), gws.a.chainId);
    // Each device has one reading in flight end to end (publish, then wait until either gateway stored it): the
    // broker alternates messages between the two gateways, so a device's consecutive readings are decided by
    // different gateways (readings sent back to back overtake each other: the next test).
    const firsts = new Map<Device, Buffer>();
    await Promise.all(
      devices.map(async (d) => {
        for (let seq = 1n; seq <= BigInt(M); seq++) {
          const p = payload(signed(d.key, domainOf(gws.a), seq));
          if (seq === 1n) firsts.set(d, p);
          await d.client.publishAsync(topicOf(gws.a, d), p, { qos: 1 });
          await waitFor(() => stored.has(d.key.address, seq), `reading ${seq} of ${d.key.address} stored`, 60_000);
        }
      }),
    );
    // exact duplicates are accepted again without effect; a rejection reaches its device whichever gateway decides it
    await Promise.all(devices.map((d) => d.client.publishAsync(topicOf(gws.a, d), firsts.get(d)!, { qos: 1 })));
    await Promise.all(
      devices.map((d) =>
        d.client.publishAsync(topicOf(gws.a, d), payload(signed(d.key, domainOf(gws.a), 2n, { values: OTHER_VALUES })), { qos: 1 }),
      ),
    );
    await waitFor(() => devices.every((d) => d.rejections.length === 1), "one rejection per device");
    for (const d of devices) expect(d.rejections[0]).to.deep.include({ seq: "2", reason: "EQUIVOCATION" });

    expect(stored.twice).to.deep.equal([]);
    expect(stored.by.size).to.equal(N * M);
    expect(await rowCount(url)).to.equal(N * M);
    expect(await gws.b.store.counts()).to.deep.equal({ readings: N * M, devices: N });
    for (const d of devices) expect(await gws.b.store.lastSeq(d.key.address)).to.equal(BigInt(M));
    const split = stored.split();
    expect(split.a).to.be.greaterThan(0);
    expect(split.b).to.be.greaterThan(0);
    expect(split.a + split.b).to.equal(N * M);
    console.log(`      split of ${N * M} readings: gateway a ${split.a}, gateway b ${split.b}`);
  });

  it("readings sent back to back across two gateways: every reading stored exactly once, none refused, none lost", async function () {
    const url = await s.pg.createDatabase();
    const g = share();
    const gws = { a: await gateway("a", url, g), b: await gateway("b", url, g) };
    const stored = watchStored(gws);
    const N = 10;
    const M = 40;
    const devices = await devicesOf(take(N), gws.a.chainId);
    // every device publishes all of its readings at once: the broker alternates them between the gateways, so a later
    // seq is often stored by one gateway before an earlier one reaches the other (a late gap-fill, stored all the same)
    await Promise.all(
      devices.map(async (d) => {
        const readings = Array.from({ length: M }, (_, i) => payload(signed(d.key, domainOf(gws.a), BigInt(i + 1))));
        await Promise.all(readings.map((p) => d.client.publishAsync(topicOf(gws.a, d), p, { qos: 1 })));
      }),
    );
    const verdicts = () => stored.by.size + devices.reduce((n, d) => n + d.rejections.length, 0);
    await waitFor(() => verdicts() === N * M, `a verdict for each of ${N * M} readings`, 120_000);
    expect(devices.flatMap((d) => d.rejections)).to.deep.equal([]);
    expect(stored.twice).to.deep.equal([]);
    expect(stored.by.size).to.equal(N * M);
    expect(await rowCount(url)).to.equal(N * M);
    const seqs = Array.from({ length: M }, (_, i) => BigInt(i + 1));
    let gapFills = 0;
    for (const d of devices) {
      const rows = await gws.a.store.readings({ device: d.key.address, limit: 1000 });
      expect(rows.map((r) => r.seq)).to.deep.equal(seqs); // every reading sent, once
      expect(await gws.b.store.deviceSummary(d.key.address)).to.deep.include({ lastSeq: BigInt(M), readings: M });
      // a late gap-fill: stored (higher id) after a higher seq of its device
      let highest = 0n;
      for (const r of [...rows].sort((x, y) => x.id - y.id)) {
        if (r.seq < highest) gapFills++;
        else highest = r.seq;
      }
    }
    expect(await gws.a.store.rejectionCounts()).to.deep.equal({});
    const split = stored.split();
    console.log(
      `      ${N * M} readings sent back to back: stored ${stored.by.size} (gateway a ${split.a ?? 0}, b ${split.b ?? 0}), ` +
        `${gapFills} of them after a higher seq of their device (late gap-fills), refused 0`,
    );
  });

  it("a gateway killed mid-load (MQTT socket and database sessions cut): nothing acknowledged is lost; its share waits for its restart", async function () {
    const url = await s.pg.createDatabase();
    const g = share();
    const a = await gateway("a", url, g);
    const b = await gateway("b", url, g);
    const stored = watchStored({ a, b });
    const N = 12;
    const M = 30;
    const devices = await devicesOf(take(N), a.chainId);
    const storedByABeforeKill: string[] = [];
    const load = Promise.all(
      devices.map(async (d) => {
        for (let seq = 1n; seq <= BigInt(M); seq++) {
          await d.client.publishAsync(topicOf(a, d), payload(signed(d.key, domainOf(a), seq)), { qos: 1 });
          // stored, seen by a gateway's onStored, or committed by a as it died (its commit outcome unknown to it: the
          // redelivery is then an exact duplicate, accepted without a second row)
          let asked = 0;
          await waitFor(
            async () =>
              stored.has(d.key.address, seq) ||
              (Date.now() - asked > 200 && ((asked = Date.now()), ((await b.store.lastSeq(d.key.address)) ?? 0n) >= seq)),
            `reading ${seq} of ${d.key.address} stored`,
            120_000,
          );
        }
      }),
    );
    await waitFor(() => stored.by.size >= (N * M) / 3, "a third of the load stored");
    // kill a: no graceful close — its MQTT socket is destroyed (no PUBACK can leave any more), the server ends its
    // database sessions, and its pool is closed so nothing more is written by it
    a.external!.client.options.reconnectPeriod = 0;
    a.external!.client.stream.destroy();
    await s.pg.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${g}-a'`);
    await a.store.close();
    for (const [key, name] of stored.by) if (name === "a") storedByABeforeKill.push(key);

    // b keeps storing its share: fresh devices publish one reading each after the kill
    const late = await devicesOf(take(10), a.chainId);
    for (const d of late) await d.client.publishAsync(topicOf(b, d), payload(signed(d.key, domainOf(b), 1n)), { qos: 1 });
    await waitFor(() => late.some((d) => stored.has(d.key.address, 1n)), "b storing a reading published after the kill");

    // a restarts with the same client id: the broker hands it the readings queued in its persistent session
    await a.stop().catch(() => undefined);
    const a2 = await gateway("a", url, g);
    stored.watch("a", a2);
    await load;
    // (a2 may store them before its onStored listener is attached: the broker delivers the session's queue at connect)
    await waitFor(
      async () => (await Promise.all(late.map((d) => b.store.lastSeq(d.key.address)))).every((seq) => seq === 1n),
      "every reading published after the kill stored",
    );

    // b only ever gets its own share: what it did not store of the fresh readings waited in a's session
    const storedAfterKill = late.filter((d) => stored.by.get(`${d.key.address.toLowerCase()}/1`) === "b").length;
    const total = N * M + late.length;
    expect(stored.twice).to.deep.equal([]);
    expect(await rowCount(url)).to.equal(total);
    for (const key of storedByABeforeKill) {
      const [device, seq] = key.split("/");
      expect((await b.store.readings({ device: device!, limit: 1, afterSeq: BigInt(seq!) - 1n }))[0]?.seq).to.equal(BigInt(seq!));
    }
    console.log(
      `      kill: ${storedByABeforeKill.length} readings stored by a before it died, all kept; after the kill b stored ` +
        `${storedAfterKill} of ${late.length} fresh readings, the other ${late.length - storedAfterKill} waited for a's restart`,
    );
  });

  it("the anchoring lock: held by one gateway's store, the other's withAnchorLock does not run; freed when the holder's pool ends or its session dies", async function () {
    const url = await s.pg.createDatabase();
    const g = share();
    const a = await gateway("a", url, g);
    const b = await gateway("b", url, g);
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const never = new Promise<never>(() => undefined);
    const holding = a.store.withAnchorLock(async () => {
      entered();
      return never; // a gateway that dies while anchoring
    });
    void holding.catch(() => undefined);
    await inside;
    expect(await b.store.withAnchorLock(async () => "b")).to.deep.equal({ ran: false });
    await a.store.close(); // the pool (and the lock session) end
    expect(await b.store.withAnchorLock(async () => "b")).to.deep.equal({ ran: true, value: "b" });

    // a session that dies (killed process, lost connection) frees it too: the server ends the lock session
    const c = await PostgresReadingStore.open(`${url}?application_name=${g}-c`);
    perTest.push(() => c.close());
    let enteredC!: () => void;
    const insideC = new Promise<void>((r) => (enteredC = r));
    void c
      .withAnchorLock(async () => {
        enteredC();
        return never;
      })
      .catch(() => undefined);
    await insideC;
    expect(await b.store.withAnchorLock(async () => "b")).to.deep.equal({ ran: false });
    await s.pg.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${g}-c'`);
    await waitFor(async () => (await b.store.withAnchorLock(async () => true)).ran, "the lock freed by the dead session");
  });
});
