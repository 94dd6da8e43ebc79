import { expect } from "chai";
import { Wallet, id } from "ethers";
import { deployTriad, ethers, makeAnchoredBundle, networkHelpers, normalRows, persistingFailureRows } from "@triad/devkit";
import { startEvidenceServer, type EvidenceServer } from "@triad/oracle";
import {
  buyPolicy,
  claimsDomain,
  createListing,
  deliverContentKey,
  depositToPool,
  deviceRegistryDomain,
  fileClaim,
  purchaseListing,
  registerDevice,
  settleClaim,
  signAi4iRows,
  signVerdict,
  anchorReadings,
  evidenceHash,
  type Verdict,
} from "@triad/sdk";
import { listProducts, myClaims, myPolicies, readClaimTrail, readPool, sharesForAssets } from "../src/insurance/data.ts";
import { checkEvidenceInBrowser, fetchContentBytes, publishToStore } from "../src/insurance/evidence.ts";
import { myPurchases, openPurchase, pendingDeliveries, prepareDatasetFile, prepareStreamFile, termsHash } from "../src/market/data.ts";
import { KeyStore, type KeyStorage } from "../src/market/keys.ts";

/**
 * The insurance and marketplace pages' data modules (apps/web/src/insurance, apps/web/src/market) against a real
 * deployment on Hardhat's chain and the oracle's real evidence store: what the pages show and check in the browser
 * is computed by these functions (the pages themselves are driven in Chromium by e2e/web).
 */

const { loadFixture, time } = networkHelpers;
const WINDOW = { beforeSeconds: 600, afterSeconds: 900 };

/** The error `promise` rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection, the promise resolved");
}

/** localStorage stand-in: the same interface, in memory. */
function memoryStorage(): KeyStorage {
  const map = new Map<string, string>();
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v) };
}

async function suiteFixture() {
  const d = await deployTriad();
  const [, holder, buyer, lp, gateway] = await ethers.getSigners();
  const members = await Promise.all([5, 6, 7].map(async (i) => (await ethers.getSigners())[i]));
  const chainId = BigInt(d.chainId);
  const registryAddress = await d.registry.getAddress();
  const domain = deviceRegistryDomain(chainId, registryAddress);
  const deviceKey = new Wallet(id("triad/web/test/device"));
  await registerDevice(d.registry.connect(holder), { deviceKey });
  await (await d.registry.connect(holder).setGateway(gateway.address, true)).wait();
  await depositToPool(d.pool.connect(lp), d.token.connect(lp), 200_000n * 10n ** 6n);
  return { ...d, holder, buyer, lp, gateway, members, chainId, registryAddress, domain, deviceKey };
}

describe("web app: insurance and marketplace data (in the browser's place)", function () {
  this.timeout(240_000);
  let store: EvidenceServer;
  before(async () => {
    store = await startEvidenceServer({ maxBytes: 4 * 1024 * 1024, openUploads: true });
  });
  after(async () => {
    await store?.close();
  });

  it("pool, products, policies; evidence checked as the oracle does; a claim's trail with its verdict signers recovered; settle", async () => {
    const fx = await loadFixture(suiteFixture);
    const { claims, pool, committee, registry, token, holder, lp, gateway, members, deviceKey } = fx;

    const products = await listProducts(claims);
    expect(products.length).to.be.at.least(1);
    const product = products[products.length - 1];
    expect(product.incidentWindowBefore).to.equal(600n);
    expect(product.incidentWindowAfter).to.equal(900n);

    const { policyId } = await buyPolicy(claims.connect(holder), token.connect(holder), {
      productId: product.productId,
      device: deviceKey.address,
      coverage: 1_000n * 10n ** 6n,
      durationSeconds: product.minDuration > 30n * 86_400n ? product.minDuration : 30n * 86_400n,
    });
    const range = async () => ({ fromBlock: fx.record.startBlock, toBlock: await ethers.provider.getBlockNumber() });
    const [policy] = await myPolicies(claims, await range(), holder.address);
    expect(policy.policyId).to.equal(policyId);

    const before = await readPool(pool, lp.address);
    expect(before.totalAssets > 0n).to.equal(true);
    expect(before.locked).to.equal(1_000n * 10n ** 6n);
    expect(before.utilisationBps).to.be.greaterThan(0);
    expect(before.position!.shares > 0n).to.equal(true);
    const shares = await sharesForAssets(pool, 1_000n * 10n ** 6n);
    expect(await pool.convertToAssets(shares)).to.be.at.least(1_000n * 10n ** 6n);

    // Past the waiting period, a failure in the telemetry, anchored by the owner's gateway (a fleet anchor).
    await time.increase(product.waitingPeriod + 3_600n);
    const incidentAt = BigInt(await time.latest()) - BigInt(WINDOW.afterSeconds) - 120n;
    const rows = [...normalRows(7), ...persistingFailureRows("OSF", 5)];
    const bundle = await makeAnchoredBundle({
      deviceKey,
      chainId: fx.chainId,
      anchorer: registry.connect(gateway),
      rows,
      incidentAt,
      window: WINDOW,
    });
    const now = BigInt(await time.latest());
    const ctx = {
      chainId: fx.chainId,
      contracts: { registry, claims },
      policy: { device: deviceKey.address, start: policy.start, end: policy.end, productId: policy.productId },
      incidentAt,
      window: WINDOW,
      filedAt: now,
      fromBlock: fx.record.startBlock,
    };
    const report = await checkEvidenceInBrowser(bundle.bytes, ctx);
    expect(report.failure).to.equal(undefined);
    expect(report.ok).to.equal(true);
    expect(report.steps.map((s) => s.id)).to.deep.equal(["device-status", "schema", "readings", "anchors"]);
    expect(report.readings).to.have.length(rows.length);
    expect(report.anchors).to.have.length(1);
    expect(report.anchors[0].facts).to.include({ authorised: true, accepted: true });
    expect(report.anchors[0].readings).to.equal(rows.length + 2);

    // What the committee would reject is reported with its reason code, not thrown.
    const altered = new TextDecoder().decode(bundle.bytes).replace(`"values":["`, `"values":["1`);
    const bad = await checkEvidenceInBrowser(new TextEncoder().encode(altered), ctx);
    expect(bad.ok).to.equal(false);
    expect(bad.failure!.reason).to.equal("BAD_SIGNATURE");
    expect(bad.failure!.reasonName).to.equal("BAD_SIGNATURE");
    const late = await checkEvidenceInBrowser(bundle.bytes, { ...ctx, filedAt: 1n });
    expect(late.failure!.reason).to.equal("ANCHORED_LATE");
    const wrongHash = await checkEvidenceInBrowser(bundle.bytes, { ...ctx, expectedHash: id("another bundle") });
    expect(wrongHash.failure!.reason).to.equal("HASH_MISMATCH");
    expect(wrongHash.steps).to.have.length(1);

    // Published to the store as the page does, fetched back (through the app's store path, hash-checked).
    const published = await publishToStore(store.url, bundle.bytes);
    expect(published.hash).to.equal(bundle.hash);
    const copy = await fetchContentBytes(`http://elsewhere.invalid/evidence/${bundle.hash}`, { evidenceUrl: store.url });
    expect(evidenceHash(copy)).to.equal(bundle.hash);
    expect(evidenceHash(await fetchContentBytes(published.uri))).to.equal(bundle.hash);
    expect((await rejection(fetchContentBytes("triad://somewhere"))).message).to.match(/cannot be fetched by a browser/);

    const amount = 500n * 10n ** 6n;
    const filed = await fileClaim(claims.connect(holder), token.connect(holder), {
      policyId,
      amount,
      incidentAt,
      evidenceHash: published.hash,
      evidenceURI: published.uri,
    });
    const pendingTrail = await readClaimTrail({ claims, committee }, ethers.provider, await range(), filed.claimId);
    expect(pendingTrail.claim.status).to.equal("Filed");
    expect(pendingTrail.verdict).to.equal(null);
    expect(pendingTrail.events.map((e) => e.kind)).to.deep.equal(["filed", "deadline"]);
    expect(pendingTrail.threshold).to.equal(2);

    // The claim's recorded filing time makes the anchors count (they are older than the filing).
    const claimRecord = await claims.getClaim(filed.claimId);
    expect(
      (
        await checkEvidenceInBrowser(await fetchContentBytes(published.uri), {
          ...ctx,
          expectedHash: claimRecord.evidenceHash,
          filedAt: claimRecord.filedAt,
        })
      ).ok,
    ).to.equal(true);

    // Two of the three members sign the same verdict, in two transactions (as two daemons would).
    const verdict: Verdict = {
      claimId: filed.claimId,
      evidenceHash: published.hash,
      modelHash: fx.modelHash,
      approved: true,
      payout: amount,
      scoreBps: 9_300,
      reason: 0,
      deadline: claimRecord.assessmentDeadline,
    };
    const domain = claimsDomain(fx.chainId, await claims.getAddress());
    for (const m of members.slice(0, 2)) {
      await (await claims.connect(m).submitVerdict(verdict, [await signVerdict(m, domain, verdict)])).wait();
    }
    const trail = await readClaimTrail({ claims, committee }, ethers.provider, await range(), filed.claimId);
    expect(trail.claim.status).to.equal("Approved");
    expect(trail.claim.decidedBy).to.equal("committee");
    expect(trail.claim.reason).to.match(/the model found a failure/);
    expect(trail.verdict!.verdict).to.deep.equal(verdict);
    expect(trail.verdict!.signatures.map((s) => s.signer)).to.deep.equal(members.slice(0, 2).map((m) => m.address));
    expect(trail.verdict!.signatures.every((s) => s.counted)).to.equal(true);
    expect(trail.events.map((e) => e.kind)).to.deep.equal(["filed", "signed", "signed", "decided", "deadline"]);
    const [mine] = await myClaims(claims, committee, await range(), holder.address);
    expect(mine.claimId).to.equal(filed.claimId);

    await time.increaseTo(trail.claim.settleFrom!);
    const settled = await settleClaim(claims.connect(holder), filed.claimId);
    expect(settled.paid).to.equal(amount - product.deductible);
    const done = await readClaimTrail({ claims, committee }, ethers.provider, await range(), filed.claimId);
    expect(done.claim.status).to.equal("Paid");
    expect(done.events.map((e) => e.kind)).to.deep.equal(["filed", "signed", "signed", "decided", "settled"]);
  });

  it("a dataset listed from the browser (encrypted, published, anchored), bought with a browser key, delivered, opened and verified", async () => {
    const fx = await loadFixture(suiteFixture);
    const { market, registry, token, holder, buyer, deviceKey, domain } = fx;
    const sellerKeys = new KeyStore(fx.chainId === 31337n ? 31337 : Number(fx.chainId), holder.address, memoryStorage());
    const buyerKeys = new KeyStore(Number(fx.chainId), buyer.address, memoryStorage());

    const start = BigInt(await time.latest()) - 3_600n;
    const readings = await signAi4iRows({ deviceKey, domain, rows: normalRows(20), startSeq: 1n, startTimestamp: start });
    const file = prepareDatasetFile({ chainId: Number(fx.chainId), registry: fx.registryAddress, domain, readings });
    expect(file.readings).to.equal(20);
    const anchored = await anchorReadings(registry.connect(holder), { domain, readings, uri: "http://gateway/v1/devices/x/readings" });
    expect(anchored.root).to.equal(file.root);
    // Published by the seller (the stack seeds its listings this way; the evidence store's HTTP uploads take bundles only).
    const { uri } = store.put(file.encrypted);
    const entry = sellerKeys.addContentKey(file.contentHash, file.contentKey);
    const { listingId } = await createListing(market.connect(holder), {
      kind: "Dataset",
      price: 25n * 10n ** 6n,
      deliveryWindow: 86_400n,
      contentHash: file.contentHash,
      termsHash: termsHash("CC BY 4.0"),
      metadataURI: uri,
      devices: [deviceKey.address],
      anchors: [file.root!],
    });
    sellerKeys.setListing(file.contentHash, entry.key, listingId);

    const buyerKey = buyerKeys.buyerKey();
    expect(buyerKeys.buyerKey()).to.deep.equal(buyerKey); // made once, then kept
    const { purchaseId } = await purchaseListing(market.connect(buyer), token.connect(buyer), {
      listingId,
      buyerPublicKey: buyerKey.publicKey,
    });
    const range = async () => ({ fromBlock: fx.record.startBlock, toBlock: await ethers.provider.getBlockNumber() });
    const [waiting] = await myPurchases(market, await range(), buyer.address);
    expect(waiting).to.include({ purchaseId, status: "Pending" });
    expect(waiting.encryptedKey).to.equal(undefined);

    const [pending] = await pendingDeliveries(market, await range(), holder.address);
    expect(pending.purchaseId).to.equal(purchaseId);
    const contentKey = sellerKeys.contentKeyFor(listingId, file.contentHash)!;
    await deliverContentKey(market.connect(holder), { purchaseId, contentKey: Uint8Array.from(Buffer.from(contentKey.slice(2), "hex")) });

    const [delivered] = await myPurchases(market, await range(), buyer.address);
    expect(delivered.status).to.equal("Delivered");
    const listing = await market.getListing(listingId);
    const encryptedFile = await fetchContentBytes(listing.metadataURI, { evidenceUrl: store.url });
    const opened = await openPurchase({
      market,
      registry,
      domain,
      listingId,
      kind: "Dataset",
      contentHash: listing.contentHash,
      buyerPrivateKey: buyerKeys.buyerKeyFor(delivered.buyerPublicKey)!.privateKey,
      encryptedKey: delivered.encryptedKey!,
      encryptedFile,
    });
    expect(opened.kind).to.equal("Dataset");
    if (opened.kind !== "Dataset") return;
    expect(opened.valid).to.equal(true);
    expect(opened.readings).to.equal(20);
    expect(opened.batches[0].anchoredAt > 0n).to.equal(true);

    // Another key cannot open it; an exported key file restores it in another browser.
    const stranger = new KeyStore(Number(fx.chainId), buyer.address, memoryStorage()).buyerKey();
    const refused = await rejection(
      openPurchase({
        market,
        registry,
        domain,
        listingId,
        kind: "Dataset",
        contentHash: listing.contentHash,
        buyerPrivateKey: stranger.privateKey,
        encryptedKey: delivered.encryptedKey!,
        encryptedFile,
      }),
    );
    expect(refused.message).to.match(/does not decrypt with this private key/);
    const elsewhere = new KeyStore(Number(fx.chainId), buyer.address, memoryStorage());
    expect(elsewhere.importFile(buyerKeys.exportFile())).to.equal(1);
    expect(elsewhere.buyerKeyFor(delivered.buyerPublicKey)!.privateKey).to.equal(buyerKey.privateKey);
    expect(() =>
      elsewhere.importFile(JSON.stringify({ schema: "triad.web-keys/v1", chainId: 1, buyerKeys: [], contentKeys: [] })),
    ).to.throw(/for chain 1/);

    // A stream's manifest names the gateway and the devices; its plaintext hash is the listing's content hash.
    const stream = prepareStreamFile({ gatewayUrl: "http://127.0.0.1:9000/", devices: [deviceKey.address] });
    expect(JSON.parse(new TextDecoder().decode(stream.plaintext))).to.deep.include({
      gateway: "http://127.0.0.1:9000",
      device: deviceKey.address,
    });
  });
});
