import { expect } from "chai";
import { parseEther, Wallet } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { DeviceRegistry } from "@triad/contracts";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { deployTriad, serveChainOverHttp } from "@triad/devkit";
import {
  EVIDENCE_SCHEMA_V2,
  buildReadingTreeFast,
  deviceTopic,
  evidenceHash,
  parseEvidence,
  verifyEvidenceReadings,
  verifyReadingProof,
} from "@triad/sdk";
import type { Gateway } from "../src/service.ts";
import {
  connectDevice,
  domainOf,
  newDevices,
  nowSeconds,
  payload,
  registerAll,
  signed,
  startTestGateway,
  tempDir,
  waitFor,
} from "./helpers.ts";

const { loadFixture } = networkHelpers;

interface ReadingJson {
  seq: string;
  timestamp: string;
  values: string[];
  digest: string;
  anchor: { root: string; gateway: string; status: string; txHash: string | null; anchoredAt: string | null } | null;
  proof: string[] | null;
}

describe("gateway fleet anchoring (one root per interval over every device, keyed on-chain by gateway and root)", function () {
  this.timeout(120_000);
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let gateway: Gateway;
  let registry: DeviceRegistry;
  let owner: HardhatEthersSigner;
  let stranger: HardhatEthersSigner;
  const anchorKey = Wallet.createRandom();
  const [a, b, c] = newDevices(3); // a, b: owner's (gateway authorised); c: stranger's (gateway not authorised)
  // Set when the suite starts, not when mocha loads the file: the gateway refuses readings older than its clock skew.
  let t0: bigint;
  let published = 0;

  const get = async <T>(p: string): Promise<{ status: number; body: T; headers: Headers; text: string }> => {
    const res = await fetch(gateway.httpUrl + p);
    const text = await res.text();
    return {
      status: res.status,
      body: (res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text) as T,
      headers: res.headers,
      text,
    };
  };
  const readingsOf = async (device: string) =>
    (await get<{ readings: ReadingJson[] }>(`/v1/devices/${device}/readings?limit=1000`)).body.readings;

  async function publish(device: Wallet, seqs: bigint[]) {
    const client = await connectDevice(gateway.mqttUrl);
    const topic = deviceTopic(gateway.chainId, device.address, "readings");
    for (const seq of seqs)
      await client.publishAsync(topic, payload(signed(device, domainOf(gateway), seq, { timestamp: t0 + seq })), { qos: 1 });
    await client.endAsync();
    published += seqs.length;
    await waitFor(
      async () => (await gateway.store.counts()).readings === published,
      `${published} readings stored (rejections so far: ${JSON.stringify(await gateway.store.rejectionCounts())})`,
    );
  }

  before(async function () {
    t0 = nowSeconds() - 200n;
    const suite = await loadFixture(deployTriad);
    registry = suite.registry;
    [owner, , , , , , , stranger] = await ethers.getSigners();
    await registerAll(registry, owner, [a, b]);
    await registerAll(registry, stranger, [c]);
    await (await owner.sendTransaction({ to: anchorKey.address, value: parseEther("1") })).wait();
    await (await registry.connect(owner).setGateway(anchorKey.address, true)).wait();
    rpc = await serveChainOverHttp();
    gateway = await startTestGateway(rpc.url, await registry.getAddress(), tempDir(), {
      TRIAD_GATEWAY_PRIVATE_KEY: anchorKey.privateKey,
      TRIAD_GATEWAY_ANCHOR_INTERVAL_S: "3600", // rounds are driven by the test (tick)
    });
  });
  after(async function () {
    await gateway?.stop();
    await rpc?.close();
  });

  it("anchors every new reading of every device in one transaction; each reading gets its proof, verifiable on-chain", async function () {
    await publish(a, [1n, 2n, 3n]);
    await publish(b, [1n, 2n]);
    await publish(c, [7n]);
    const anchor = await gateway.anchorer!.tick();
    expect(anchor).to.include({ status: "confirmed", count: 6, gateway: anchorKey.address });
    const onChain = await registry.fleetAnchorOf(anchorKey.address, anchor!.root);
    expect(onChain.count).to.equal(6n);
    expect(onChain.anchoredAt).to.equal(BigInt(anchor!.anchoredAt!));
    const receipt = await ethers.provider.getTransactionReceipt(anchor!.txHash!);
    expect(receipt!.to).to.equal(await registry.getAddress());

    for (const device of [a, b, c]) {
      for (const r of await readingsOf(device.address)) {
        expect(r.anchor).to.include({ root: anchor!.root, status: "confirmed", gateway: anchorKey.address, txHash: anchor!.txHash });
        expect(verifyReadingProof(anchor!.root, r.digest, r.proof!)).to.equal(true);
        const verified = await registry.verifyFleetReading(
          anchorKey.address,
          anchor!.root,
          device.address,
          BigInt(r.seq),
          BigInt(r.timestamp),
          r.values.map(BigInt),
          r.proof!,
        );
        // c's owner never authorised this gateway: its reading is in the tree, but the registry does not vouch for it.
        expect(verified, `${device === c ? "c" : "a/b"} seq ${r.seq}`).to.equal(device !== c);
      }
    }
    const byRoot = await get<Record<string, unknown>>(`/v1/anchors/${anchor!.root}`);
    expect(byRoot.status).to.equal(200);
    expect(byRoot.body).to.include({
      root: anchor!.root,
      count: 6,
      status: "confirmed",
      uri: `${gateway.httpUrl}/v1/anchors/${anchor!.root}`,
    });
    const list = await get<{ anchors: { root: string }[] }>(`/v1/anchors?status=confirmed`);
    expect(list.body.anchors.map((x) => x.root)).to.deep.equal([anchor!.root]);
    expect((await get(`/v1/anchors/0x${"00".repeat(32)}`)).status).to.equal(404);
    expect((await get(`/v1/anchors/nonsense`)).status).to.equal(400);
    expect((await get(`/v1/anchors?status=maybe`)).status).to.equal(400);
  });

  it("a round with nothing new sends nothing; the next round anchors only the new readings", async function () {
    const before = await ethers.provider.getTransactionCount(anchorKey.address);
    expect(await gateway.anchorer!.tick()).to.equal(undefined);
    expect(await ethers.provider.getTransactionCount(anchorKey.address)).to.equal(before);
    await publish(a, [4n, 5n]);
    const next = await gateway.anchorer!.tick();
    expect(next).to.include({ count: 2, status: "confirmed" });
    const latest = (await readingsOf(a.address)).slice(-2);
    expect(latest.map((r) => r.anchor!.root)).to.deep.equal([next!.root, next!.root]);
  });

  it("after a crash between recording an anchor and sending it, the next round sends it; one already on-chain is only confirmed", async function () {
    await publish(b, [3n, 4n]);
    // What a gateway killed right after recordAnchor leaves behind: a pending anchor, its readings assigned, no transaction.
    const unanchored = await gateway.store.unanchored(100);
    const tree = buildReadingTreeFast(unanchored.map((r) => r.digest));
    await gateway.store.recordAnchor({
      root: tree.root,
      gateway: anchorKey.address,
      uri: "test://pending",
      createdAt: Date.now(),
      proofs: unanchored.map((r, i) => ({ id: r.id, proof: tree.proofs[i] })),
    });
    expect(await gateway.store.unanchored(100)).to.have.length(0);
    expect((await gateway.store.pendingAnchors()).map((x) => x.root)).to.deep.equal([tree.root]);
    await gateway.anchorer!.tick();
    expect(await gateway.store.anchor(tree.root)).to.include({ status: "confirmed" });
    expect((await registry.fleetAnchorOf(anchorKey.address, tree.root)).count).to.equal(2n);

    // Killed after the transaction was mined but before it was marked confirmed: confirmed from the chain, not re-sent.
    await publish(c, [8n]);
    const more = await gateway.store.unanchored(100);
    const tree2 = buildReadingTreeFast(more.map((r) => r.digest));
    await gateway.store.recordAnchor({
      root: tree2.root,
      gateway: anchorKey.address,
      uri: "test://mined",
      createdAt: Date.now(),
      proofs: more.map((r, i) => ({ id: r.id, proof: tree2.proofs[i] })),
    });
    const tx = await registry.connect(anchorKey.connect(ethers.provider)).anchorFleet(tree2.root, 1, "test://mined");
    await tx.wait();
    const nonce = await ethers.provider.getTransactionCount(anchorKey.address);
    await gateway.anchorer!.tick();
    expect(await ethers.provider.getTransactionCount(anchorKey.address)).to.equal(nonce);
    expect(await gateway.store.anchor(tree2.root)).to.include({ status: "confirmed", txHash: tx.hash });
  });

  it("serves a triad.evidence/v2 bundle around an incident: each reading with its anchor and proof, plus the readings just before and after", async function () {
    // a's seqs 1..5 are stored and anchored (above), at t0 + seq: the window [t0 + 2, t0 + 3] is seqs 2 and 3.
    const res = await get<string>(`/v1/devices/${a.address}/evidence?incidentAt=${t0 + 3n}&before=1&after=0`);
    expect(res.status, res.text).to.equal(200);
    const bytes = new TextEncoder().encode(res.text);
    expect(res.headers.get("x-triad-evidence-hash")).to.equal(evidenceHash(bytes));
    const bundle = parseEvidence(bytes);
    if (bundle.schema !== EVIDENCE_SCHEMA_V2) expect.fail(`served ${bundle.schema}`);
    expect([bundle.before, ...bundle.readings, bundle.after].map((r) => r.seq)).to.deep.equal([1, 2, 3, 4]);
    expect(bundle.incidentAt).to.equal(Number(t0 + 3n));
    const verified = verifyEvidenceReadings(bundle, {
      device: a.address,
      incidentAt: t0 + 3n,
      window: { beforeSeconds: 1, afterSeconds: 0 },
    });
    expect(verified.readings.map((r) => r.seq)).to.deep.equal([2n, 3n]);
    for (const anchor of verified.anchoring!.anchors) expect(anchor).to.include({ kind: "fleet", gateway: anchorKey.address });
    // Each reading, the edges included, is covered on-chain by the anchor it names.
    for (const r of [bundle.before, ...bundle.readings, bundle.after]) {
      if (r.anchor.kind !== "fleet") expect.fail("the gateway serves fleet anchors");
      const onChain = await registry.verifyFleetReading(
        r.anchor.gateway,
        r.anchor.root,
        a.address,
        r.seq,
        r.timestamp,
        r.values.map(BigInt),
        r.proof,
      );
      expect(onChain, `seq ${r.seq}`).to.equal(true);
    }
    expect((await get(`/v1/devices/${a.address}/evidence`)).status).to.equal(400);
    expect((await get(`/v1/devices/${a.address}/evidence?incidentAt=1000`)).status).to.equal(404);
    expect((await get(`/v1/devices/${Wallet.createRandom().address}/evidence?incidentAt=${t0}`)).status).to.equal(404);
  });

  it("answers 409 with Retry-After until the readings are anchored and the device reported after the window; 422 when a seq is missing", async function () {
    // The device's first reading (seq 1) is in the window: no reading before it can prove the window complete.
    const first = await get<{ error: string }>(`/v1/devices/${a.address}/evidence?incidentAt=${t0 + 1n}&before=0&after=0`);
    expect(first.status).to.equal(422);
    expect(first.body.error).to.match(/seq 0 of 0x[0-9a-fA-F]{40} \(just before the window\) is not stored at this gateway/);
    // a's last reading is seq 5: nothing after a window ending there yet.
    const waiting = await get<{ error: string }>(`/v1/devices/${a.address}/evidence?incidentAt=${t0 + 5n}&before=1&after=0`);
    expect(waiting.status).to.equal(409);
    expect(waiting.headers.get("retry-after")).to.equal("3600"); // the anchoring interval
    expect(waiting.body.error).to.match(/has not reported a reading after the window .* yet: retry after /);
    // Seq 6 arrives: stored, not anchored yet.
    await publish(a, [6n]);
    const unanchored = await get<{ error: string }>(`/v1/devices/${a.address}/evidence?incidentAt=${t0 + 5n}&before=1&after=0`);
    expect(unanchored.status).to.equal(409);
    expect(unanchored.body.error).to.match(/seq 6 .* not in an anchor yet: not anchored yet, retry after \d{4}-/);
    await gateway.anchorer!.tick();
    const served = await get<string>(`/v1/devices/${a.address}/evidence?incidentAt=${t0 + 5n}&before=1&after=0`);
    expect(served.status, served.text).to.equal(200);
    // b lost seq 5 (never stored): a window next to the gap cannot be proved complete.
    await publish(b, [6n]);
    await gateway.anchorer!.tick();
    const gap = await get<{ error: string }>(`/v1/devices/${b.address}/evidence?incidentAt=${t0 + 4n}&before=0&after=0`);
    expect(gap.status).to.equal(422);
    expect(gap.body.error).to.match(/seq 5 of 0x[0-9a-fA-F]{40} \(just after the window\).*INCOMPLETE_WINDOW/);
  });

  it("reports anchoring in /healthz and /metrics", async function () {
    const health = await get<{
      healthy: boolean;
      anchoring: { enabled: boolean; gateway: string; lastError: string | null; pendingAnchors: number };
    }>("/healthz");
    expect(health.body.anchoring).to.include({ enabled: true, gateway: anchorKey.address, lastError: null, pendingAnchors: 0 });
    const metrics = (await get<string>("/metrics")).body;
    expect(metrics).to.match(/triad_gateway_anchors_total [1-9]/);
    expect(metrics).to.match(/triad_gateway_anchored_readings_total [1-9]/);
  });
});
