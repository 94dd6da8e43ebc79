import { expect } from "chai";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { Wallet } from "ethers";
import type { MqttClient } from "mqtt";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { deployTriad, serveChainOverHttp, type TriadDeployment } from "@triad/devkit";
import {
  buildStreamManifest,
  contentHash,
  createListing,
  deliverContentKey,
  deviceTopic,
  encryptionPublicKey,
  generateContentKey,
  parseStreamManifest,
  purchaseListing,
  recoverReading,
  StreamRefusedError,
  streamChallengeMessage,
  subscribeToStream,
  type InvalidStreamReading,
  type StreamChallengeResponse,
  type StreamEnd,
  type StreamReading,
  type StreamSubscription,
} from "@triad/sdk";
import { ConfigError, parseConfig } from "../src/config.ts";
import { counterValue } from "../src/metrics.ts";
import type { NewReading } from "../src/store/types.ts";
import type { Gateway } from "../src/service.ts";
import { connectDevice, domainOf, newDevices, payload, registerAll, signed, startTestGateway, tempDir, waitFor } from "./helpers.ts";

const { loadFixture } = networkHelpers;

describe("live marketplace streams (real gateway and chain, listings bought with the SDK actions, SDK subscriber)", function () {
  this.timeout(120_000);
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let suite: TriadDeployment;
  let gateway: Gateway;
  let device: MqttClient;
  let admin: HardhatEthersSigner, seller: HardhatEthersSigner, buyer: HardhatEthersSigner;
  let expiring: HardhatEthersSigner, takenDown: HardhatEthersSigner, nobody: HardhatEthersSigner;
  /** Listings: `stream` and `short` (1 h period) stream `listed`; `down` streams `unlisted`; `dataset` is no stream. */
  const ids = { stream: 0n, short: 0n, down: 0n, dataset: 0n };
  const [listed, unlisted] = newDevices(2);
  const seqs = new Map<string, bigint>();
  const subscriptions: StreamSubscription[] = [];

  /** Publishes the next reading of `key` and waits for its PUBACK (sent after the commit). */
  async function publish(key: Wallet, client = device, gw = gateway): Promise<bigint> {
    const seq = (seqs.get(key.address) ?? 0n) + 1n;
    seqs.set(key.address, seq);
    await client.publishAsync(deviceTopic(gw.chainId, key.address, "readings"), payload(signed(key, domainOf(gw), seq)), { qos: 1 });
    return seq;
  }

  async function buyAndDeliver(listingId: bigint, who: HardhatEthersSigner): Promise<void> {
    const buyerPublicKey = encryptionPublicKey(Wallet.createRandom().privateKey);
    const { purchaseId } = await purchaseListing(suite.market.connect(who), suite.token.connect(who), { listingId, buyerPublicKey });
    await deliverContentKey(suite.market.connect(seller), { purchaseId, contentKey: generateContentKey() });
  }

  /** Subscribes with the SDK client and collects what arrives. */
  async function collect(who: HardhatEthersSigner, listingId: bigint, options: { since?: bigint; gw?: Gateway } = {}) {
    const readings: StreamReading[] = [];
    const invalid: InvalidStreamReading[] = [];
    const ends: StreamEnd[] = [];
    const sub = await subscribeToStream({
      gatewayUrl: (options.gw ?? gateway).httpUrl,
      listingId,
      signer: who,
      since: options.since,
      expect: { chainId: 31337n, marketplace: await suite.market.getAddress() },
      onReading: (r) => readings.push(r),
      onInvalidReading: (r) => invalid.push(r),
      onEnd: (e) => ends.push(e),
    });
    subscriptions.push(sub);
    return { sub, readings, invalid, ends };
  }

  async function challenge(listingId: bigint, subscriber: string, gw = gateway) {
    const res = await fetch(`${gw.httpUrl}/v1/streams/${listingId}/challenge?subscriber=${subscriber}`);
    return { status: res.status, body: (await res.json()) as StreamChallengeResponse & { error?: string; code?: string } };
  }

  /** Opens a stream by hand; an accepted one is aborted at once (its status is what is asserted). */
  async function open(listingId: bigint, subscriber: string, c: string, signature: string, gw = gateway) {
    const controller = new AbortController();
    const res = await fetch(`${gw.httpUrl}/v1/streams/${listingId}?subscriber=${subscriber}&challenge=${c}&signature=${signature}`, {
      signal: controller.signal,
    });
    const body = res.headers.get("content-type")?.includes("json")
      ? ((await res.json()) as { error: string; code: string; accessExpiry?: string })
      : undefined;
    controller.abort();
    return { status: res.status, body, contentType: res.headers.get("content-type") };
  }

  const signFor = async (who: HardhatEthersSigner, c: StreamChallengeResponse) =>
    who.signMessage(
      streamChallengeMessage({
        chainId: BigInt(c.chainId),
        marketplace: c.marketplace,
        listingId: BigInt(c.listingId),
        subscriber: c.subscriber,
        challenge: c.challenge,
        expiresAt: BigInt(c.expiresAt),
      }),
    );

  before(async function () {
    suite = await loadFixture(deployTriad);
    const signers = await ethers.getSigners();
    [admin, seller, buyer, expiring, takenDown] = signers;
    nobody = signers[8];
    await registerAll(suite.registry, seller, [listed, unlisted]);
    rpc = await serveChainOverHttp();
    gateway = await startTestGateway(rpc.url, await suite.registry.getAddress(), tempDir(), {
      TRIAD_GATEWAY_MARKETPLACE: await suite.market.getAddress(),
      TRIAD_GATEWAY_STREAM_RECHECK_MS: "200",
    });
    device = await connectDevice(gateway.mqttUrl);
    const asSeller = suite.market.connect(seller);
    const list = async (kind: "stream" | "dataset", period: bigint, devices: string[]) => {
      const manifest = buildStreamManifest({ gateway: gateway.httpUrl, devices, sensorSchema: "ai4i-2020/v1" });
      const { listingId } = await createListing(asSeller, {
        kind,
        price: 5_000_000n,
        period: kind === "stream" ? period : 0n,
        deliveryWindow: 3600n,
        contentHash: contentHash(manifest),
        termsHash: ethers.id("research use only"),
        metadataURI: `triad://test/${kind}`,
        devices,
      });
      return listingId;
    };
    ids.stream = await list("stream", 30n * 86_400n, [listed.address]);
    ids.short = await list("stream", 3600n, [listed.address]);
    ids.down = await list("stream", 30n * 86_400n, [unlisted.address]);
    ids.dataset = await list("dataset", 0n, [listed.address]);
    await buyAndDeliver(ids.stream, buyer);
    await buyAndDeliver(ids.dataset, buyer);
    await buyAndDeliver(ids.short, expiring);
    await buyAndDeliver(ids.down, takenDown);
  });

  after(async function () {
    for (const s of subscriptions) s.close();
    await device?.endAsync();
    await gateway?.stop();
    await rpc?.close();
  });

  it("configuration: --marketplace and the stream limits, defaults and bounds", function () {
    const rpcOnly = { TRIAD_GATEWAY_RPC_URL: "http://127.0.0.1:8545" };
    const c = parseConfig(rpcOnly);
    expect(c.marketplace).to.equal(undefined);
    expect(c.streams).to.deep.equal({ maxSubscribers: 100, recheckMs: 30_000, maxBufferedBytes: 1_048_576, challengeTtlSeconds: 60 });
    const m = parseConfig(rpcOnly, { TRIAD_GATEWAY_MARKETPLACE: buyer.address, TRIAD_GATEWAY_STREAM_RECHECK_MS: "500" });
    expect([m.marketplace, m.streams.recheckMs]).to.deep.equal([buyer.address, 500]);
    const bad = () => parseConfig({ ...rpcOnly, TRIAD_GATEWAY_STREAM_RECHECK_MS: "60000" }, { TRIAD_GATEWAY_MARKETPLACE: "0x12" });
    expect(bad).to.throw(ConfigError);
    try {
      bad();
    } catch (error) {
      expect((error as ConfigError).problems).to.deep.equal([
        '--marketplace (TRIAD_GATEWAY_MARKETPLACE): must be a 0x-prefixed 20-byte address (got "0x12")',
        'TRIAD_GATEWAY_STREAM_RECHECK_MS: must be between 100 and 30000 (got "60000")',
      ]);
    }
  });

  it("the manifest names the gateway and the devices (triad.stream/v1)", function () {
    const manifest = buildStreamManifest({ gateway: gateway.httpUrl, devices: [listed.address.toLowerCase()] });
    expect(JSON.parse(new TextDecoder().decode(manifest))).to.deep.equal({
      schema: "triad.stream/v1",
      gateway: gateway.httpUrl,
      device: listed.address,
    });
    expect(parseStreamManifest(manifest).devices).to.deep.equal([listed.address]);
    expect(() => parseStreamManifest({ schema: "triad.stream/v1", gateway: "ftp://x", device: listed.address })).to.throw(/http or https/);
    expect(() => parseStreamManifest({ schema: "triad.stream/v1", gateway: "http://x" })).to.throw(/exactly one of "device" and "devices"/);
  });

  it("granted: a buyer receives the readings its listing's device publishes after subscribing, in order, device-signed", async function () {
    const s = await collect(buyer, ids.stream);
    expect(s.sub.info).to.deep.include({
      listingId: ids.stream.toString(),
      subscriber: buyer.address,
      devices: [listed.address],
      registry: await suite.registry.getAddress(),
    });
    const sent: bigint[] = [];
    for (let i = 0; i < 5; i++) sent.push(await publish(listed));
    await waitFor(() => s.readings.length === 5, "5 streamed readings");
    expect(s.readings.map((r) => r.reading.seq)).to.deep.equal(sent);
    for (const r of s.readings) {
      expect(r.device).to.equal(listed.address);
      expect(recoverReading(domainOf(gateway), r.reading)).to.equal(listed.address); // what the client checked too
    }
    expect(s.invalid).to.deep.equal([]);
    s.sub.close();
    expect(await s.sub.done).to.deep.include({ reason: "aborted" });
    expect(s.ends).to.have.length(1);
    await waitFor(() => gateway.streams.subscribers === 0, "the gateway to notice the subscriber left");
  });

  it("others get nothing: each stream carries only its listing's devices; no access, no stream", async function () {
    const a = await collect(buyer, ids.stream);
    const b = await collect(takenDown, ids.down);
    const refused = await collect(nobody, ids.stream).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).to.be.instanceOf(StreamRefusedError);
    expect(refused).to.include({ status: 403, code: "NO_ACCESS" });
    const aSeqs = [await publish(listed)];
    const bSeqs = [await publish(unlisted), await publish(unlisted)];
    aSeqs.push(await publish(listed)); // committed after the unlisted ones: had they been sent to `a`, they came first
    await waitFor(() => a.readings.length === 2 && b.readings.length === 2, "both streams' readings");
    expect(a.readings.map((r) => [r.device, r.reading.seq])).to.deep.equal(aSeqs.map((q) => [listed.address, q]));
    expect(b.readings.map((r) => [r.device, r.reading.seq])).to.deep.equal(bSeqs.map((q) => [unlisted.address, q]));
    a.sub.close();
    b.sub.close();
  });

  it("since: the stored readings after that seq come first, then live ones, none twice", async function () {
    const stored = seqs.get(listed.address)!;
    const s = await collect(buyer, ids.stream, { since: stored - 2n });
    const live = await publish(listed);
    await waitFor(() => s.readings.length === 3, "replayed and live readings");
    expect(s.readings.map((r) => r.reading.seq)).to.deep.equal([stored - 1n, stored, live]);
    s.sub.close();
  });

  it("denied: no purchase 403; wrong signer, reused, foreign or expired challenge 401; no stream listing 404; bad input 400", async function () {
    // no purchase
    let c = (await challenge(ids.stream, nobody.address)).body;
    let r = await open(ids.stream, nobody.address, c.challenge, await signFor(nobody, c));
    expect(r.status).to.equal(403);
    expect(r.body).to.deep.include({ code: "NO_ACCESS" });
    expect(r.body!.error).to.match(/no access to listing \d+: no delivered purchase/);
    // wrong signer: the buyer's challenge signed by someone else (not consumed: the buyer can still use it)
    c = (await challenge(ids.stream, buyer.address)).body;
    expect(c.message).to.equal(streamChallengeMessage({ ...c, chainId: 31337n, listingId: ids.stream, expiresAt: BigInt(c.expiresAt) }));
    r = await open(ids.stream, buyer.address, c.challenge, await signFor(nobody, c));
    expect([r.status, r.body?.code]).to.deep.equal([401, "BAD_SIGNATURE"]);
    const good = await signFor(buyer, c);
    r = await open(ids.stream, buyer.address, c.challenge, good);
    expect(r.status).to.equal(200);
    expect(r.contentType).to.match(/^text\/event-stream/);
    // reused
    r = await open(ids.stream, buyer.address, c.challenge, good);
    expect([r.status, r.body?.code]).to.deep.equal([401, "UNKNOWN_CHALLENGE"]);
    // a challenge of another listing
    c = (await challenge(ids.stream, buyer.address)).body;
    r = await open(ids.dataset, buyer.address, c.challenge, await signFor(buyer, c));
    expect([r.status, r.body?.code]).to.deep.equal([401, "UNKNOWN_CHALLENGE"]);
    // not a stream (the buyer holds the dataset licence), unknown listing
    c = (await challenge(ids.dataset, buyer.address)).body;
    r = await open(ids.dataset, buyer.address, c.challenge, await signFor(buyer, c));
    expect([r.status, r.body?.code]).to.deep.equal([404, "NOT_A_STREAM"]);
    c = (await challenge(9999n, buyer.address)).body;
    r = await open(9999n, buyer.address, c.challenge, await signFor(buyer, c));
    expect([r.status, r.body?.code]).to.deep.equal([404, "UNKNOWN_LISTING"]);
    // bad input
    expect((await challenge(ids.stream, "0x1234")).body).to.deep.include({ code: "BAD_REQUEST" });
    expect((await fetch(`${gateway.httpUrl}/v1/streams/abc/challenge?subscriber=${buyer.address}`)).status).to.equal(400);
    expect((await open(ids.stream, buyer.address, "0x12", "0x34")).status).to.equal(400);

    // expired: a gateway whose challenges live 2 s
    const quick = await startTestGateway(rpc.url, await suite.registry.getAddress(), tempDir(), {
      TRIAD_GATEWAY_MARKETPLACE: await suite.market.getAddress(),
      TRIAD_GATEWAY_STREAM_CHALLENGE_TTL_S: "2",
    });
    try {
      c = (await challenge(ids.stream, buyer.address, quick)).body;
      await waitFor(() => Date.now() / 1000 > Number(c.expiresAt) + 1, "the challenge to expire");
      r = await open(ids.stream, buyer.address, c.challenge, await signFor(buyer, c), quick);
      expect([r.status, r.body?.code]).to.deep.equal([401, "CHALLENGE_EXPIRED"]);
    } finally {
      await quick.stop();
    }
  });

  it("expiring: when chain time passes the access expiry the stream ends with `expired` (re-check period 200 ms)", async function () {
    const s = await collect(expiring, ids.short);
    const seq = await publish(listed);
    await waitFor(() => s.readings.length === 1, "a reading before expiry");
    expect(s.readings[0].reading.seq).to.equal(seq);
    const expiry = BigInt(s.sub.info.accessExpiry);
    await networkHelpers.time.increaseTo(expiry);
    const end = await s.sub.done;
    expect(end.reason).to.equal("expired");
    expect(end.detail).to.match(/ended at/);
    const c = (await challenge(ids.short, expiring.address)).body;
    const r = await open(ids.short, expiring.address, c.challenge, await signFor(expiring, c));
    expect(r.status).to.equal(403);
    expect(r.body).to.deep.include({ code: "NO_ACCESS", accessExpiry: expiry.toString() });
  });

  it("revoked: an admin takes the listing down and the stream ends with `revoked`", async function () {
    const s = await collect(takenDown, ids.down);
    await (await suite.market.connect(admin).takeDown(ids.down, "legal notice")).wait();
    const end = await s.sub.done;
    expect(end).to.deep.include({ reason: "revoked" });
    expect(end.detail).to.match(/taken down/);
    const c = (await challenge(ids.down, takenDown.address)).body;
    const r = await open(ids.down, takenDown.address, c.challenge, await signFor(takenDown, c));
    expect([r.status, r.body?.code]).to.deep.equal([403, "NO_ACCESS"]);
  });

  it("bounded: the subscriber limit refuses with 503; stopping the gateway ends streams with `stopping`", async function () {
    const small = await startTestGateway(rpc.url, await suite.registry.getAddress(), tempDir(), {
      TRIAD_GATEWAY_MARKETPLACE: await suite.market.getAddress(),
      TRIAD_GATEWAY_STREAM_MAX_SUBSCRIBERS: "1",
    });
    try {
      const s = await collect(buyer, ids.stream, { gw: small });
      const full = await collect(buyer, ids.stream, { gw: small }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(full).to.include({ status: 503, code: "STREAMS_FULL" });
      await small.stop();
      expect(await s.sub.done).to.deep.include({ reason: "stopping" });
    } finally {
      await small.stop();
    }
  });

  it("bounded: a subscriber that does not read is disconnected (`slow`) rather than buffered without limit", async function () {
    await waitFor(() => gateway.streams.subscribers === 0, "the earlier streams to be closed");
    const c = (await challenge(ids.stream, buyer.address)).body;
    const signature = await signFor(buyer, c);
    const { hostname, port, host } = new URL(gateway.httpUrl);
    const socket = net.connect(Number(port), hostname);
    await once(socket, "connect");
    socket.pause(); // reads nothing: the kernel buffers fill, then the gateway's
    socket.write(
      `GET /v1/streams/${ids.stream}?subscriber=${buyer.address}&challenge=${c.challenge}&signature=${signature} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    );
    await waitFor(() => gateway.streams.subscribers === 1, "the stream to open");
    const slowEnds = () => counterValue(gateway.streams.metrics.ends as never, { reason: "slow" });
    const topic = deviceTopic(gateway.chainId, listed.address, "readings");
    let submitted = 0;
    try {
      while ((await slowEnds()) === 0) {
        // Loopback kernel buffers take a few MB before the gateway's own buffer grows: ~15,000 readings.
        if (submitted >= 100_000) throw new Error(`the slow subscriber was not disconnected after ${submitted} readings`);
        const batch = Array.from({ length: 1000 }, () => {
          const seq = (seqs.get(listed.address) ?? 0n) + 1n;
          seqs.set(listed.address, seq);
          return gateway.pipeline.submit(topic, payload(signed(listed, domainOf(gateway), seq)));
        });
        expect((await Promise.all(batch)).filter((o) => o.kind !== "stored")).to.deep.equal([]);
        submitted += batch.length;
      }
      expect(gateway.streams.subscribers).to.equal(0);
    } finally {
      socket.destroy();
    }
  });

  it("the SDK client verifies what a gateway sends: forged, foreign and replayed readings go to onInvalidReading", async function () {
    const domain = domainOf(gateway);
    const wire = (key: Wallet, seq: bigint, tamper = false) => {
      const reading = JSON.parse(payload(signed(key, domain, seq)).toString("utf8")) as { values: string[] };
      if (tamper) reading.values[0] = String(BigInt(reading.values[0]) + 1n);
      return { device: key.address, reading };
    };
    const frames = [
      [
        "open",
        {
          listingId: "1",
          subscriber: buyer.address,
          chainId: String(gateway.chainId),
          registry: gateway.registryAddress,
          marketplace: buyer.address,
          devices: [listed.address],
          accessExpiry: "9999999999",
          recheckSeconds: 30,
        },
      ],
      ["reading", wire(listed, 1n)],
      ["reading", wire(listed, 2n, true)], // a value changed after signing
      ["reading", wire(unlisted, 3n)], // signed, but not the listing's device
      ["reading", wire(listed, 1n)], // seq not increasing
      ["reading", wire(listed, 4n)],
      ["end", { reason: "expired", detail: "test" }],
    ] as const;
    const fake = createServer((req, res) => {
      if (req.url!.includes("/challenge")) {
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            challenge: "0x" + "ab".repeat(32),
            expiresAt: "9999999999",
            chainId: String(gateway.chainId),
            marketplace: buyer.address,
            registry: gateway.registryAddress,
            listingId: "1",
            subscriber: buyer.address,
          }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      // CRLF line ends and a comment, both allowed by the SSE format
      res.end(":hello\r\n\r\n" + frames.map(([event, data]) => `event: ${event}\r\ndata: ${JSON.stringify(data)}\r\n\r\n`).join(""));
    });
    fake.listen(0, "127.0.0.1");
    await once(fake, "listening");
    try {
      const invalid: InvalidStreamReading[] = [];
      const readings: StreamReading[] = [];
      const sub = await subscribeToStream({
        gatewayUrl: `http://127.0.0.1:${(fake.address() as AddressInfo).port}/`,
        listingId: 1n,
        signer: buyer,
        onReading: (r) => readings.push(r),
        onInvalidReading: (r) => invalid.push(r),
      });
      expect(await sub.done).to.deep.equal({ reason: "expired", detail: "test" });
      expect(readings.map((r) => r.reading.seq)).to.deep.equal([1n, 4n]);
      expect(invalid.map((r) => r.reason)).to.deep.equal([
        "seq 2: the signature is not the device's",
        `device ${unlisted.address} is not a device of the listing`,
        "seq 1 is not above the previous 1",
      ]);
      const refused = await subscribeToStream({
        gatewayUrl: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`,
        listingId: 1n,
        signer: buyer,
        expect: { chainId: 1n },
        onReading: () => undefined,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).to.include({ code: "CHAIN_MISMATCH" });
    } finally {
      fake.close();
      fake.closeAllConnections();
    }
  });

  it("503 when no marketplace is configured", async function () {
    const bare = await startTestGateway(rpc.url, await suite.registry.getAddress(), tempDir(), { TRIAD_DEPLOYMENTS_DIR: tempDir() });
    try {
      expect(bare.streams.enabled).to.equal(false);
      const { status, body } = await challenge(ids.stream, buyer.address, bare);
      expect([status, body.code]).to.deep.equal([503, "MARKETPLACE_NOT_CONFIGURED"]);
    } finally {
      await bare.stop();
    }
  });

  it("IngestPipeline.onStored: once per commit with the newly stored readings only; a throwing listener harms nothing", async function () {
    const batches: NewReading[][] = [];
    const offBroken = gateway.pipeline.onStored(() => {
      throw new Error("listener bug");
    });
    const off = gateway.pipeline.onStored((readings) => batches.push(readings));
    try {
      const s = await collect(buyer, ids.stream);
      const seq = (seqs.get(listed.address) ?? 0n) + 1n;
      seqs.set(listed.address, seq);
      const body = payload(signed(listed, domainOf(gateway), seq));
      const topic = deviceTopic(gateway.chainId, listed.address, "readings");
      await device.publishAsync(topic, body, { qos: 1 });
      await device.publishAsync(topic, body, { qos: 1 }); // an exact duplicate: acknowledged, not stored again
      await waitFor(() => s.readings.length === 1, "the streamed reading");
      expect(batches.flat().map((r) => [r.device, r.seq])).to.deep.equal([[listed.address, seq]]);
      expect((await gateway.store.deviceSummary(listed.address))!.lastSeq).to.equal(seq);
      s.sub.close();
    } finally {
      off();
      offBroken();
    }
  });

  it("/metrics: open streams, events sent, refusals by code, ends by reason", async function () {
    const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
    expect(text).to.match(/^triad_gateway_stream_subscribers \d+$/m);
    expect(Number(/^triad_gateway_stream_events_total (\d+)$/m.exec(text)?.[1])).to.be.greaterThanOrEqual(12);
    expect(text).to.match(/^triad_gateway_stream_refusals_total\{code="NO_ACCESS"\} [1-9]\d*$/m);
    expect(text).to.match(/^triad_gateway_stream_refusals_total\{code="BAD_SIGNATURE"\} 1$/m);
    expect(text).to.match(/^triad_gateway_stream_refusals_total\{code="UNKNOWN_CHALLENGE"\} 2$/m);
    expect(text).to.match(/^triad_gateway_stream_ends_total\{reason="expired"\} 1$/m);
    expect(text).to.match(/^triad_gateway_stream_ends_total\{reason="revoked"\} 1$/m);
  });
});
