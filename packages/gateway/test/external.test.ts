import { expect } from "chai";
import { createServer, type AddressInfo } from "node:net";
import path from "node:path";
import { Aedes } from "aedes";
import Database from "better-sqlite3";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { deployTriad, serveChainOverHttp } from "@triad/devkit";
import { deviceTopic } from "@triad/sdk";
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
  waitFor,
} from "./helpers.ts";
import { counterValue } from "../src/metrics.ts";

const { loadFixture } = networkHelpers;

describe("gateway against an external broker (--mqtt-url; here a separate aedes, MQTT 3.1.1)", function () {
  this.timeout(60_000);

  it("subscribes with a persistent session, stores what devices publish there and answers rejections there", async function () {
    const suite = await loadFixture(deployTriad);
    const [owner] = await ethers.getSigners();
    const [device] = newDevices(1);
    await registerAll(suite.registry, owner, [device]);
    const rpc = await serveChainOverHttp();
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const gateway = await startTestGateway(rpc.url, await suite.registry.getAddress(), tempDir(), {
      TRIAD_GATEWAY_MQTT_PORT: "",
      TRIAD_GATEWAY_MQTT_URL: url,
      TRIAD_GATEWAY_MQTT_PROTOCOL: "4",
      TRIAD_GATEWAY_MQTT_SHARE_GROUP: "off",
      TRIAD_GATEWAY_MQTT_CLIENT_ID: "gw-test",
    });
    const c = await connectDevice(url);
    try {
      expect(gateway.external!.filter).to.equal(`triad/v1/${gateway.chainId}/+/readings`);
      const seen = await rejectionsOf(c, gateway.chainId, device.address);
      const topic = deviceTopic(gateway.chainId, device.address, "readings");
      for (let seq = 1n; seq <= 20n; seq++) await c.publishAsync(topic, payload(signed(device, domainOf(gateway), seq)), { qos: 1 });
      await c.publishAsync(topic, "{bad", { qos: 1 });
      await waitFor(async () => (await gateway.store.lastSeq(device.address)) === 20n, "20 readings stored");
      await waitFor(() => seen.length === 1, "the rejection");
      expect(seen[0].reason).to.equal("MALFORMED");
      expect((await fetch(`${gateway.httpUrl}/healthz`)).status).to.equal(200);
    } finally {
      await c.endAsync(true);
      await gateway.stop();
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
      await rpc.close();
    }
  });

  it("acknowledges each message to the broker only once it is committed, yet keeps many in flight (group commits)", async function () {
    const suite = await loadFixture(deployTriad);
    const [owner] = await ethers.getSigners();
    const [device] = newDevices(1);
    await registerAll(suite.registry, owner, [device]);
    const rpc = await serveChainOverHttp();
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = tempDir();
    const gateway = await startTestGateway(rpc.url, await suite.registry.getAddress(), dir, {
      TRIAD_GATEWAY_MQTT_PORT: "",
      TRIAD_GATEWAY_MQTT_URL: url,
      TRIAD_GATEWAY_MQTT_PROTOCOL: "4",
      TRIAD_GATEWAY_MQTT_SHARE_GROUP: "off",
      TRIAD_GATEWAY_MQTT_CLIENT_ID: "gw-acks",
    });
    // The broker sees the gateway's PUBACKs; at each one, every reading acknowledged so far must already be in the
    // database (read synchronously, on a connection of its own, at that very moment).
    const db = new Database(path.join(dir, "gateway.sqlite"), { readonly: true });
    const count = db.prepare("SELECT count(*) AS n FROM readings");
    let acked = 0;
    const unstoredAtAck: number[] = [];
    broker.on("ack", (packet, client) => {
      if (client?.id !== "gw-acks" || !packet || !("topic" in packet) || !packet.topic.endsWith("/readings")) return;
      acked++;
      const stored = (count.get() as { n: number }).n;
      if (stored < acked) unstoredAtAck.push(acked);
    });
    const c = await connectDevice(url);
    const N = 200;
    try {
      const topic = deviceTopic(gateway.chainId, device.address, "readings");
      const domain = domainOf(gateway);
      await Promise.all(
        Array.from({ length: N }, (_, i) => c.publishAsync(topic, payload(signed(device, domain, BigInt(i + 1))), { qos: 1 })),
      );
      await waitFor(() => acked === N, `${N} PUBACKs from the gateway to the broker`);
      expect(unstoredAtAck, "acknowledged before committed").to.deep.equal([]);
      expect(await gateway.store.lastSeq(device.address)).to.equal(BigInt(N));
      expect(await counterValue(gateway.metrics.stored)).to.equal(N);
      // One transaction per message would mean mqtt.js waited for each commit before reading the next message.
      const transactions = (await gateway.metrics.batchSize.get()).values.find((v) => v.metricName?.endsWith("_count"))!.value;
      expect(transactions).to.be.lessThan(N);
    } finally {
      db.close();
      await c.endAsync(true);
      await gateway.stop();
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
      await rpc.close();
    }
  });
});
