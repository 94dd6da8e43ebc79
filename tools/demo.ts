/**
 * `npm run demo`: the whole Triad story on Hardhat's in-process chain, through the same code paths users run.
 * Prints progress lines and a final summary (what happened, gas per operation, time).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  AI4I_SCHEMA,
  anchorReadings,
  buildEvidenceBundle,
  buyPolicy,
  fileClaim,
  serializeEvidence,
  settleClaim,
  buildReadingDataset,
  contentHash,
  createListing,
  deliverContentKey,
  deliveredKeyOf,
  encryptFile,
  encryptionPublicKey,
  generateContentKey,
  openPurchasedFile,
  parseReadingDataset,
  prepareReadingBatch,
  purchaseListing,
  verifyAnchoredReadings,
  buildReadingTree,
  deviceRegistryDomain,
  parseAi4iCsv,
  readingDigest,
  readingProof,
  recoverReading,
  registerDevice,
  signAi4iRows,
  type DeviceKey,
  type SignedReading,
} from "@triad/sdk/node";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import pino from "pino";
import { createOracle } from "@triad/oracle";
import { startEvidenceServer } from "@triad/oracle";
import { loadModel } from "@triad/oracle/model";
import { LOCAL_COMMITTEE_ACCOUNTS, connection, deployTriad, ethers } from "@triad/devkit";
import { GasLog, step, table } from "./lib/report.ts";

const DEVICES = 3;
const READINGS_PER_DEVICE = 200;
const BATCH_SIZE = 50;
const CSV = path.join(import.meta.dirname, "..", "data", "ai4i2020", "ai4i2020-train.csv");

async function main() {
  const t0 = Date.now();
  const gas = new GasLog();
  const signers = await ethers.getSigners();
  const [, operator, buyer, lp] = signers;

  step("Deploying the Triad suite (Ignition) on the in-process Hardhat chain");
  const { registry, market, token, pool, claims, committee, productId, modelHash, chainId } = await deployTriad();
  const registryAddress = await registry.getAddress();
  const domain = deviceRegistryDomain(chainId, registryAddress);
  step(`DeviceRegistry at ${registryAddress} (chain ${chainId})`);

  const rows = parseAi4iCsv(readFileSync(CSV, "utf8"), "ai4i2020-train.csv");
  step(`Loaded ${rows.length.toLocaleString("en-US")} AI4I 2020 telemetry rows`);

  const asOwner = registry.connect(operator);
  const devices: { key: DeviceKey; address: string; readings: SignedReading[]; roots: string[] }[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const key = ethers.Wallet.createRandom();
    const { device, receipt } = await registerDevice(asOwner, { deviceKey: key, model: "cnc-mill", firmware: "1.4.2" });
    gas.add("register device", receipt);
    step(`Registered device ${i + 1}/${DEVICES} ${device} (its key signed the binding)`);
    devices.push({ key, address: device, readings: [], roots: [] });
  }

  const start = BigInt((await ethers.provider.getBlock("latest"))!.timestamp) - BigInt(READINGS_PER_DEVICE * 60);
  for (const [i, d] of devices.entries()) {
    d.readings = await signAi4iRows({
      deviceKey: d.key,
      domain,
      rows: rows.slice(i * READINGS_PER_DEVICE, (i + 1) * READINGS_PER_DEVICE),
      startSeq: 1n,
      startTimestamp: start,
    });
    for (let b = 0; b < d.readings.length; b += BATCH_SIZE) {
      const batch = d.readings.slice(b, b + BATCH_SIZE);
      const anchored = await anchorReadings(asOwner, { domain, readings: batch, uri: `triad://readings/${d.address}/${b / BATCH_SIZE}` });
      gas.add(`anchor batch (${BATCH_SIZE} readings)`, anchored.receipt);
      d.roots.push(anchored.root);
    }
    step(`Device ${i + 1}: signed ${d.readings.length} readings, anchored ${d.roots.length} Merkle roots`);
  }

  // Anyone can check that a reading existed by its anchor's block time, and that the device signed it.
  const probe = devices[1].readings[123];
  const probeBatch = Math.floor(123 / BATCH_SIZE);
  const digest = readingDigest(domain, probe);
  const batchDigests = devices[1].readings
    .slice(probeBatch * BATCH_SIZE, (probeBatch + 1) * BATCH_SIZE)
    .map((r) => readingDigest(domain, r));
  const proof = readingProof(buildReadingTree(batchDigests), digest);
  const onChain = await registry.verifyReading(devices[1].address, devices[1].roots[probeBatch], digest, proof);
  const signer = recoverReading(domain, probe);
  const anchor = await registry.anchorOf(devices[1].address, devices[1].roots[probeBatch]);
  if (!onChain || signer !== devices[1].address) throw new Error("reading verification failed");
  step(
    `Verified reading seq ${probe.seq} of device 2: signed by the device, in batch anchored at ${new Date(Number(anchor.anchoredAt) * 1000).toISOString()}`,
  );

  // Operators react to a suspicious device: suspend, investigate, resume; a compromised one is revoked for good.
  gas.add("suspend device", await (await asOwner.suspend(devices[2].address)).wait());
  gas.add("resume device", await (await asOwner.resume(devices[2].address)).wait());
  gas.add("revoke device", await (await asOwner.revoke(devices[2].address)).wait());
  step("Device 3 suspended, resumed, then revoked (its key is treated as compromised)");

  // ---------------------------------------------------------------- marketplace
  const decimals = Number(await token.decimals());
  const units = (n: number) => BigInt(Math.round(n * 10 ** decimals));
  const fmt = (v: bigint) => (Number(v) / 10 ** decimals).toLocaleString("en-US", { maximumFractionDigits: decimals });
  const seller = market.connect(operator);
  const asBuyer = market.connect(buyer);

  // The seller ships device 1's signed readings with their Merkle proofs, encrypted under a fresh content key.
  const seller1 = devices[0];
  const batches = [];
  for (let b = 0; b < seller1.readings.length; b += BATCH_SIZE) {
    const prepared = prepareReadingBatch(domain, seller1.readings.slice(b, b + BATCH_SIZE));
    if (prepared.root !== seller1.roots[b / BATCH_SIZE]) throw new Error("batch root differs from the anchored one");
    batches.push(prepared);
  }
  const datasetBytes = Buffer.from(
    JSON.stringify(buildReadingDataset({ chainId, registry: registryAddress, sensorSchema: AI4I_SCHEMA, batches })),
  );
  const datasetKey = generateContentKey();
  const encryptedDataset = encryptFile(datasetBytes, datasetKey);
  const dataset = await createListing(seller, {
    kind: "dataset",
    price: units(25),
    deliveryWindow: 86_400n,
    contentHash: contentHash(datasetBytes),
    termsHash: ethers.id("CC BY 4.0, attribution: Triad demo machine fleet"),
    metadataURI: "triad://market/datasets/cnc-mill-telemetry",
    devices: [seller1.address],
    anchors: seller1.roots,
  });
  gas.add("market: list dataset", dataset.receipt);

  const manifest = Buffer.from(
    JSON.stringify({
      schema: "triad.stream/v1",
      device: devices[1].address,
      sensorSchema: AI4I_SCHEMA,
      endpoint: "wss://stream.example/cnc-mill-2",
    }),
  );
  const streamKey = generateContentKey();
  const encryptedManifest = encryptFile(manifest, streamKey);
  const stream = await createListing(seller, {
    kind: "stream",
    price: units(5),
    period: 30n * 86_400n,
    deliveryWindow: 3_600n,
    contentHash: contentHash(manifest),
    termsHash: ethers.id("research use only"),
    metadataURI: "triad://market/streams/cnc-mill-2",
    devices: [devices[1].address],
  });
  gas.add("market: list stream", stream.receipt);
  step(
    `Listed dataset #${dataset.listingId} (${seller1.readings.length} signed readings, 25 tUSD) and stream #${stream.listingId} (5 tUSD / 30 days)`,
  );

  // The buyer (an AI developer) pays into escrow and records an encryption key; the seller delivers the content keys.
  const buyerSecret = ethers.Wallet.createRandom().privateKey;
  const buyerPublicKey = encryptionPublicKey(buyerSecret);
  const bought = await purchaseListing(asBuyer, token.connect(buyer), { listingId: dataset.listingId, buyerPublicKey });
  const sub = await purchaseListing(asBuyer, token.connect(buyer), { listingId: stream.listingId, buyerPublicKey });
  gas.add("market: buy", bought.receipt);
  gas.add("market: buy", sub.receipt);
  const deliveredDataset = await deliverContentKey(seller, { purchaseId: bought.purchaseId, contentKey: datasetKey });
  const deliveredStream = await deliverContentKey(seller, { purchaseId: sub.purchaseId, contentKey: streamKey });
  gas.add("market: deliver key", deliveredDataset.receipt);
  gas.add("market: deliver key", deliveredStream.receipt);
  step(
    `Buyer paid ${fmt(bought.amount + sub.amount)} tUSD into escrow; seller delivered both keys (fee ${fmt(deliveredDataset.fee + deliveredStream.fee)} tUSD)`,
  );

  // The buyer decrypts, checks the content hash, then checks every reading against its anchored root.
  const openedDataset = openPurchasedFile({
    buyerPrivateKey: buyerSecret,
    encryptedKey: (await deliveredKeyOf(asBuyer, bought.purchaseId))!,
    encryptedFile: encryptedDataset,
    contentHash: (await market.getListing(dataset.listingId)).contentHash,
  });
  let verifiedReadings = 0;
  for (const batch of parseReadingDataset(openedDataset).batches) {
    const check = await verifyAnchoredReadings(registry, {
      domain,
      device: batch.readings[0].reading.device,
      root: batch.root,
      readings: batch.readings,
      listing: { marketplace: market, listingId: dataset.listingId },
      onChainProofs: false,
    });
    if (!check.valid) throw new Error(`dataset verification failed: ${check.failures[0].reason}`);
    verifiedReadings += batch.readings.length;
  }
  openPurchasedFile({
    buyerPrivateKey: buyerSecret,
    encryptedKey: (await deliveredKeyOf(asBuyer, sub.purchaseId))!,
    encryptedFile: encryptedManifest,
    contentHash: (await market.getListing(stream.listingId)).contentHash,
  });
  const access = await market.accessOf(stream.listingId, buyer.address);
  const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  const streamOpen = await market.hasAccess(stream.listingId, buyer.address, now);
  const streamAfter = await market.hasAccess(stream.listingId, buyer.address, access.expiry);
  if (!streamOpen || streamAfter) throw new Error("stream access window is wrong");
  step(`Buyer decrypted the dataset, matched its content hash and verified all ${verifiedReadings} readings against the anchored roots`);
  step(`Stream manifest decrypted and verified; access until ${new Date(Number(access.expiry) * 1000).toISOString()}, none after`);
  const withdrawn = await market.withdrawable(operator.address);
  gas.add("market: withdraw", await (await seller.withdraw(operator.address)).wait());
  step(`Seller withdrew ${fmt(withdrawn)} tUSD of proceeds`);

  // ---------------------------------------------------------------- insurance
  const lpDeposit = units(100_000);
  await (await token.connect(lp).approve(await pool.getAddress(), lpDeposit)).wait();
  gas.add("pool: deposit (LP)", await (await pool.connect(lp).deposit(lpDeposit, lp.address)).wait());
  step(`LP deposited ${fmt(lpDeposit)} tUSD into the ERC-4626 insurance pool`);

  const holder = claims.connect(operator);
  const insured = [devices[0], devices[1]];
  const policies: bigint[] = [];
  for (const d of insured) {
    const bought = await buyPolicy(holder, token.connect(operator), {
      productId,
      device: d.address,
      coverage: units(5_000),
      durationSeconds: 30n * 86_400n,
    });
    gas.add("insurance: buy policy", bought.receipt);
    policies.push(bought.policyId);
  }
  step(
    `Owner bought policies #${policies.join(", #")} (5,000 tUSD cover, 30 days, premium ${fmt(await claims.quotePremium(productId, units(5_000), 30n * 86_400n))} tUSD each)`,
  );
  const product = await claims.getProduct(productId);
  await advanceTime(Number(product.waitingPeriod) + 60);
  step(`${Number(product.waitingPeriod) / 3600} h waiting period passed (chain time advanced)`);

  // Evidence: device-signed telemetry around the incident. A genuine failure (real AI4I rows labelled as heat
  // dissipation / power failures) and a fraudulent claim backed by normal telemetry.
  const failures = rows.filter((r) => r.modes.HDF === 1 || r.modes.PWF === 1).slice(0, 4);
  const normal = rows.filter((r) => r.failure === 0).slice(1_000, 1_008);
  const store = await startEvidenceServer({ port: 0 });
  cleanups.push(() => store.close());
  const incidentAt = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  const evidenceFor = async (d: (typeof devices)[number], telemetry: typeof rows) => {
    const readings = await signAi4iRows({
      deviceKey: d.key,
      domain,
      rows: telemetry,
      startSeq: BigInt(d.readings.length) + 1n,
      startTimestamp: incidentAt - 30n * BigInt(telemetry.length - 1),
      intervalSeconds: 30n,
    });
    return store.put(serializeEvidence(buildEvidenceBundle({ chainId, registry: registryAddress, incidentAt, readings })));
  };
  const genuineEvidence = await evidenceFor(devices[0], [...normal.slice(0, 4), ...failures]);
  const fraudEvidence = await evidenceFor(devices[1], normal);
  const claimAmount = units(1_500);
  const genuine = await fileClaim(holder, token.connect(operator), {
    policyId: policies[0],
    amount: claimAmount,
    incidentAt,
    evidenceHash: genuineEvidence.hash,
    evidenceURI: genuineEvidence.uri,
  });
  const fraud = await fileClaim(holder, token.connect(operator), {
    policyId: policies[1],
    amount: claimAmount,
    incidentAt,
    evidenceHash: fraudEvidence.hash,
    evidenceURI: fraudEvidence.uri,
  });
  gas.add("insurance: file claim", genuine.receipt);
  gas.add("insurance: file claim", fraud.receipt);
  step(`Filed claim #${genuine.claimId} (failure telemetry) and claim #${fraud.claimId} (normal telemetry), evidence on ${store.url}`);

  // The committee: three members run the real oracle daemon (the code of \`npm run oracle -- run\`); 2 of 3 decide.
  const model = await loadModel(undefined, { backend: "auto", expectedHash: modelHash });
  const checkpoints = mkdtempSync(path.join(os.tmpdir(), "triad-demo-"));
  const addresses = { claims: await claims.getAddress(), registry: registryAddress, committee: await committee.getAddress() };
  const daemons = LOCAL_COMMITTEE_ACCOUNTS.map((i) =>
    createOracle({
      provider: ethers.provider,
      signer: signers[i],
      addresses,
      model,
      config: {
        confirmations: 0,
        pollIntervalMs: 100,
        metricsPort: undefined, // no /healthz server for in-process demo daemons
        checkpointFile: path.join(checkpoints, `member-${i}.json`),
        evidence: { schemes: ["http"], hosts: ["127.0.0.1"], maxBytes: 1 << 20, timeoutMs: 5_000, retries: 1, retryDelayMs: 100 },
      },
      logger: pino({ level: "silent" }),
    }),
  );
  cleanups.push(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    rmSync(checkpoints, { recursive: true, force: true });
  });
  await Promise.all(daemons.map((d) => d.start()));
  const t1 = Date.now();
  step(
    `Oracle committee started: ${LOCAL_COMMITTEE_ACCOUNTS.length} daemons, threshold ${await committee.threshold()}, model ${modelHash.slice(0, 10)}… on tfjs ${model.backend}`,
  );
  const decided = async () =>
    (await Promise.all([genuine.claimId, fraud.claimId].map((id) => claims.getClaim(id)))).every((c) => c.status !== 1n);
  for (let i = 0; i < 300 && !(await decided()); i++) await new Promise((r) => setTimeout(r, 100));
  await cleanups.pop()!();
  if (!(await decided())) throw new Error("the oracle committee did not decide the claims within 30 s");
  const verdictMs = Date.now() - t1;
  for (const e of await claims.queryFilter(claims.filters.VerdictSigned())) {
    gas.add("insurance: submitVerdict (member)", await e.getTransactionReceipt());
  }
  const [g, f] = await Promise.all([claims.getClaim(genuine.claimId), claims.getClaim(fraud.claimId)]);
  if (!g.approved || f.approved) throw new Error("unexpected verdicts");
  step(
    `Committee decided in ${(verdictMs / 1000).toFixed(1)} s: claim #${genuine.claimId} APPROVED (score ${(Number(g.scoreBps) / 100).toFixed(2)} %), claim #${fraud.claimId} REJECTED (score ${(Number(f.scoreBps) / 100).toFixed(2)} %)`,
  );

  await advanceTime(Number(product.appealWindow) + 1);
  step(`${Number(product.appealWindow) / 3600} h appeal window passed without an appeal`);
  const before = await token.balanceOf(operator.address);
  const paid = await settleClaim(claims, genuine.claimId);
  const closed = await settleClaim(claims, fraud.claimId);
  gas.add("insurance: settle", paid.receipt);
  gas.add("insurance: settle", closed.receipt);
  const received = (await token.balanceOf(operator.address)) - before;
  step(
    `Settled: claim #${genuine.claimId} paid ${fmt(paid.paid)} tUSD (claim ${fmt(claimAmount)} − deductible ${fmt(product.deductible)}) + deposit back; claim #${fraud.claimId} closed, its deposit forfeited to the pool`,
  );

  console.log("\nSummary");
  console.log(
    table([
      ["what", "result"],
      ["devices registered", `${DEVICES} (device-signed EIP-712 bindings)`],
      ["readings signed", `${DEVICES * READINGS_PER_DEVICE} (EIP-712 Reading, real AI4I rows)`],
      ["batches anchored", `${devices.reduce((n, d) => n + d.roots.length, 0)} Merkle roots`],
      ["reading proof", "verified on-chain and signature recovered off-chain"],
      ["marketplace", `dataset + 30-day stream sold; keys delivered; ${verifiedReadings} readings verified by the buyer`],
      ["insurance pool", `${fmt(await pool.totalAssets())} tUSD assets, ${fmt(await pool.lockedAssets())} tUSD locked as cover`],
      [
        "genuine claim",
        `#${genuine.claimId} approved by a ${await committee.threshold()}-of-${LOCAL_COMMITTEE_ACCOUNTS.length} committee; holder received ${fmt(received)} tUSD (payout + deposit)`,
      ],
      ["fraudulent claim", `#${fraud.claimId} rejected by the AI oracle (normal telemetry), deposit forfeited`],
    ]),
  );
  console.log("\nGas (whole transaction, from receipts)");
  console.log(table(gas.rows()));
  console.log(`\nDone in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
}

/** Moves the chain's clock forward by `seconds` and mines a block. */
async function advanceTime(seconds: number): Promise<void> {
  await connection.provider.request({ method: "evm_increaseTime", params: [seconds] });
  await connection.provider.request({ method: "evm_mine", params: [] });
}

/** Things to stop however the demo ends (servers, daemons), last started first. */
const cleanups: (() => Promise<void>)[] = [];

await main()
  .catch((err) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.DEBUG) console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });
