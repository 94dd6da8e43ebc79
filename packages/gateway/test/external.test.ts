import { expect } from "chai";
import { createServer, type AddressInfo } from "node:net";
import { Aedes } from "aedes";
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
});
