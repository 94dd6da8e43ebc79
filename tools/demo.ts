/**
 * `npm run demo`: the whole Triad story on Hardhat's in-process chain, through the same code paths users run.
 * Prints progress lines and a final summary (what happened, gas per operation, time).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  AI4I_SCHEMA,
  anchorReadings,
  buildReadingDataset,
  buildStreamManifest,
  buyPolicy,
  claimReason,
  contentHash,
  createListing,
  deliverContentKey,
  deliveredKeyOf,
  deviceRegistryDomain,
  encryptFile,
  encryptionPublicKey,
  fileClaim,
  generateContentKey,
  openPurchasedFile,
  parseEvidence,
  parseReadingDataset,
  parseStreamManifest,
  prepareReadingBatch,
  purchaseListing,
  recoverReading,
  registerDevice,
  settleClaim,
  subscribeToStream,
  telemetryToValues,
  verifyAnchoredReadings,
  type SignedReading,
} from "@triad/sdk/node";
import mqtt from "mqtt";
import pino from "pino";
import { createDeviceAgent, MachineSimulator } from "@triad/device";
import { parseConfig as parseGatewayConfig, startGateway } from "@triad/gateway";
import { createOracle } from "@triad/oracle";
import { startEvidenceServer } from "@triad/oracle";
import { loadModel } from "@triad/oracle/model";
import { LOCAL_COMMITTEE_ACCOUNTS, connection, deployTriad, ethers, serveChainOverHttp } from "@triad/devkit";
import { GasLog, step, table } from "./lib/report.ts";

const DEVICES = 3;
/** Minutes (one reading each) the live devices run. */
const LIVE_STEPS = 200;
/** Simulated minutes between two anchoring rounds of the gateway. */
const ANCHOR_EVERY = 20;
const BATCH_SIZE = 50;

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

  const asOwner = registry.connect(operator);
  const devices: { key: ReturnType<typeof ethers.Wallet.createRandom>; address: string }[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const key = ethers.Wallet.createRandom();
    const { device, receipt } = await registerDevice(asOwner, { deviceKey: key, model: "cnc-mill", firmware: "1.4.2" });
    gas.add("register device", receipt);
    step(`Registered device ${i + 1}/${DEVICES} ${device} (its key signed the binding)`);
    devices.push({ key, address: device });
  }
  // Operators react to a suspicious device: suspend, investigate, resume; a compromised one is revoked for good.
  gas.add("suspend device", await (await asOwner.suspend(devices[2].address)).wait());
  gas.add("resume device", await (await asOwner.resume(devices[2].address)).wait());
  gas.add("revoke device", await (await asOwner.revoke(devices[2].address)).wait());
  step("Device 3 suspended, resumed, then revoked (its key is treated as compromised)");

  // ---------------------------------------------------------------- insurance cover, bought before the machines run
  const decimals = Number(await token.decimals());
  const units = (n: number) => BigInt(Math.round(n * 10 ** decimals));
  const fmt = (v: bigint) => (Number(v) / 10 ** decimals).toLocaleString("en-US", { maximumFractionDigits: decimals });
  const lpDeposit = units(100_000);
  await (await token.connect(lp).approve(await pool.getAddress(), lpDeposit)).wait();
  gas.add("pool: deposit (LP)", await (await pool.connect(lp).deposit(lpDeposit, lp.address)).wait());
  step(`LP deposited ${fmt(lpDeposit)} tUSD into the ERC-4626 insurance pool`);
  const holder = claims.connect(operator);
  const policies: bigint[] = [];
  for (const d of devices.slice(0, 2)) {
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
    `Owner bought policies #${policies.join(", #")} for devices 1 and 2 (5,000 tUSD cover, 30 days, premium ${fmt(await claims.quotePremium(productId, units(5_000), 30n * 86_400n))} tUSD each)`,
  );
  const product = await claims.getProduct(productId);
  await advanceTime(Number(product.waitingPeriod) + 60);
  step(`${Number(product.waitingPeriod) / 3600} h waiting period passed (chain time advanced)`);
  // The machines below report once a minute for a few simulated hours. The demo runs that time fast: one clock, the
  // simulation's, is the devices' and the gateway's, and the chain's block time is moved along with it before each
  // anchoring round (on a real network all three are simply the time of day).
  let simMs = (await ethers.provider.getBlock("latest"))!.timestamp * 1000;
  const now = () => simMs;

  // ---------------------------------------------------------------- the live pipeline
  const work = mkdtempSync(path.join(os.tmpdir(), "triad-demo-"));
  cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
  const rpc = await serveChainOverHttp();
  cleanups.push(() => rpc.close());
  const gatewayKey = ethers.Wallet.createRandom();
  await (await operator.sendTransaction({ to: gatewayKey.address, value: ethers.parseEther("10") })).wait();
  gas.add("authorise gateway", await (await asOwner.setGateway(gatewayKey.address, true)).wait());
  const gateway = await startGateway(
    parseGatewayConfig({
      TRIAD_GATEWAY_RPC_URL: rpc.url,
      TRIAD_GATEWAY_REGISTRY_ADDRESS: registryAddress,
      TRIAD_GATEWAY_MARKETPLACE: await market.getAddress(),
      TRIAD_GATEWAY_MQTT_PORT: "0",
      TRIAD_GATEWAY_HTTP_PORT: "0",
      TRIAD_GATEWAY_DATABASE_URL: `sqlite:${path.join(work, "gateway.sqlite")}`,
      TRIAD_GATEWAY_REGISTRY_POLL_MS: "200",
      TRIAD_GATEWAY_PRIVATE_KEY: gatewayKey.privateKey,
      TRIAD_GATEWAY_ANCHOR_INTERVAL_S: "86400", // rounds are driven by the simulation's clock (anchorRound below)
      TRIAD_GATEWAY_MONITOR: "true",
    }),
    { logger: pino({ level: "silent" }), now },
  );
  cleanups.push(() => gateway.stop());
  step(
    `Gateway started: embedded MQTT broker ${gateway.mqttUrl}, HTTP API ${gateway.httpUrl}, SQLite store, fleet anchoring by ${gatewayKey.address} (authorised by the owner), AI monitor on`,
  );

  // Anyone may watch the alerts topic; the owner's maintenance team does.
  const alerts: { device: string; state: string; seq: string; riskBps?: number }[] = [];
  const watcher = await mqtt.connectAsync(gateway.mqttUrl, { clientId: "demo-maintenance", reconnectPeriod: 0 });
  cleanups.push(() => watcher.endAsync());
  await watcher.subscribeAsync(`triad/v1/${chainId}/+/alerts`, { qos: 1 });
  watcher.on("message", (_topic, message) => alerts.push(JSON.parse(message.toString("utf8"))));

  // ---------------------------------------------------------------- marketplace: a live stream of device 2
  const seller = market.connect(operator);
  const asBuyer = market.connect(buyer);
  const manifest = buildStreamManifest({ gateway: gateway.httpUrl, devices: [devices[1].address], sensorSchema: AI4I_SCHEMA });
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
  const buyerSecret = ethers.Wallet.createRandom().privateKey;
  const buyerPublicKey = encryptionPublicKey(buyerSecret);
  const sub = await purchaseListing(asBuyer, token.connect(buyer), { listingId: stream.listingId, buyerPublicKey });
  gas.add("market: buy", sub.receipt);
  const deliveredStream = await deliverContentKey(seller, { purchaseId: sub.purchaseId, contentKey: streamKey });
  gas.add("market: deliver key", deliveredStream.receipt);
  const openedManifest = parseStreamManifest(
    openPurchasedFile({
      buyerPrivateKey: buyerSecret,
      encryptedKey: (await deliveredKeyOf(asBuyer, sub.purchaseId))!,
      encryptedFile: encryptedManifest,
      contentHash: (await market.getListing(stream.listingId)).contentHash,
    }),
  );
  const streamed: SignedReading[] = [];
  let streamInvalid = 0;
  const subscription = await subscribeToStream({
    gatewayUrl: openedManifest.gateway,
    listingId: stream.listingId,
    signer: buyer,
    domain,
    onReading: ({ reading }) => streamed.push(reading),
    onInvalidReading: () => streamInvalid++,
  });
  cleanups.push(async () => subscription.close());
  step(
    `Stream #${stream.listingId} of device 2 listed (5 tUSD / 30 days), bought, key delivered; the buyer decrypted the manifest and subscribed at ${openedManifest.gateway} (challenge signed, access checked on-chain)`,
  );

  // ---------------------------------------------------------------- the machines run
  step(
    `Devices publish one signed reading per simulated minute over MQTT for ${LIVE_STEPS} minutes: device 1 (machine simulator) drifts into a heat-dissipation failure, device 2 runs normally, revoked device 3 tries too; the gateway anchors every ${ANCHOR_EVERY} minutes`,
  );
  const quiet = pino({ level: "silent" });
  const agents = devices.map((d) =>
    createDeviceAgent({
      key: d.key,
      chainId,
      registry: registryAddress,
      mqttUrl: gateway.mqttUrl,
      stateDir: work,
      clock: () => now() / 1000,
      logger: quiet,
    }),
  );
  cleanups.push(async () => {
    await Promise.all(agents.map((a) => a.close({ drainMs: 0 })));
  });
  await Promise.all(agents.map((a) => a.waitConnected()));
  // Seeds picked so that the healthy machine has no failure in its run and machine 1's first failure is the episode's
  // (the simulator reproduces the data set's ~3 % failure rate, so most seeds show some).
  const machines = [
    new MachineSimulator({ scenario: "heat-dissipation", seed: 57, episodeStart: 100, noRandomFailures: true }),
    new MachineSimulator({ scenario: "normal", seed: 130, noRandomFailures: true }),
    new MachineSimulator({ seed: 42 }),
  ];
  const truth: boolean[][] = [[], [], []];
  const anchorRound = async () => {
    await Promise.all(agents.slice(0, 2).map((a) => a.drain(30_000)));
    const latest = (await ethers.provider.getBlock("latest"))!.timestamp;
    await connection.provider.request({
      method: "evm_setNextBlockTimestamp",
      params: [Math.max(Math.floor(simMs / 1000) + 1, latest + 1)],
    });
    await gateway.anchorer!.flush();
  };
  for (let minute = 1; minute <= LIVE_STEPS; minute++) {
    simMs += 60_000;
    for (let i = 0; i < 2; i++) {
      const s = machines[i].next();
      truth[i].push(s.truth.failure);
      agents[i].publish(telemetryToValues(s.telemetry));
    }
    if (minute <= 5) agents[2].publish(telemetryToValues(machines[2].next().telemetry));
    // The minute's readings reach the gateway within the minute (its clock-skew check uses the simulation's clock).
    await Promise.all(agents.slice(0, 2).map((a) => a.drain(30_000)));
    if (minute % ANCHOR_EVERY === 0) await anchorRound();
  }
  await anchorRound();
  await waitUntil(() => Object.values(agents[2].stats().rejections).reduce((a, b) => a + b, 0) >= 5, "device 3's rejections", 10_000);
  const rejected = agents[2].stats().rejections;
  const counts = await gateway.store.counts();
  step(
    `Gateway verified and durably stored ${counts.readings} readings (each acknowledged only after its commit); refused device 3's ${Object.values(rejected).reduce((a, b) => a + b, 0)} (${Object.keys(rejected).join(", ")}), told on its rejections topic`,
  );
  const anchorEvents = await registry.queryFilter(registry.filters.FleetAnchored(gatewayKey.address));
  for (const e of anchorEvents) gas.add("gateway: anchorFleet (one per interval)", await e.getTransactionReceipt());
  const sizes = anchorEvents.map((e) => Number(e.args.count));
  step(
    `Gateway anchored all ${counts.readings} readings in ${anchorEvents.length} fleet roots of ${Math.min(...sizes)}–${Math.max(...sizes)} readings, one transaction each whatever the fleet`,
  );

  // Anyone can check a reading: signed by the device, proved under a root the device's owner authorised the gateway for.
  const page = (await (await fetch(`${gateway.httpUrl}/v1/devices/${devices[0].address}/readings?limit=1000`)).json()) as {
    readings: {
      seq: string;
      timestamp: string;
      values: string[];
      signature: string;
      proof: string[];
      anchor: { root: string; anchoredAt: string };
    }[];
  };
  const probe = page.readings[123];
  const probeOk = await registry.verifyFleetReading(
    gatewayKey.address,
    probe.anchor.root,
    devices[0].address,
    BigInt(probe.seq),
    BigInt(probe.timestamp),
    probe.values.map(BigInt),
    probe.proof,
  );
  const signer = recoverReading(domain, {
    device: devices[0].address,
    seq: BigInt(probe.seq),
    timestamp: BigInt(probe.timestamp),
    values: probe.values.map(BigInt),
    signature: probe.signature,
  });
  if (!probeOk || signer !== devices[0].address) throw new Error("reading verification failed");
  step(
    `Verified reading seq ${probe.seq} of device 1 from the gateway's API: signed by the device, proof checked on-chain (verifyFleetReading), anchored ${probe.anchor.anchoredAt}`,
  );

  // The AI monitor: raised before the failure, from the live readings.
  await waitUntil(() => alerts.some((a) => a.device === devices[0].address && a.state === "raised"), "the monitor's alert", 10_000);
  const raised = alerts.find((a) => a.device === devices[0].address && a.state === "raised")!;
  const firstFailureSeq = truth[0].indexOf(true) + 1;
  if (firstFailureSeq === 0) throw new Error("the simulated machine never failed");
  const alertSeq = Number(raised.seq);
  if (alertSeq > firstFailureSeq) throw new Error(`the alert (seq ${alertSeq}) came after the failure (seq ${firstFailureSeq})`);
  const falseAlarms = alerts.filter((a) => a.device === devices[1].address && a.state === "raised").length;
  step(
    `AI monitor raised a failure-risk alert for device 1 at reading seq ${alertSeq}, ${plural(firstFailureSeq - alertSeq, "reading")} before the machine's first failure reading (seq ${firstFailureSeq}); device 2 (healthy): ${plural(falseAlarms, "alert")}`,
  );

  // The stream buyer received device 2's readings live.
  await waitUntil(() => streamed.length >= LIVE_STEPS, "the stream's readings", 10_000);
  if (streamInvalid > 0 || streamed.some((r) => r.device !== devices[1].address))
    throw new Error("the stream delivered a reading it should not");
  subscription.close();
  step(
    `Stream buyer received all ${streamed.length} of device 2's readings live, each device-signature-verified; nothing of devices 1 or 3`,
  );

  // ---------------------------------------------------------------- marketplace: a data set of device 1's telemetry
  // The owner takes device 1's readings from the gateway and anchors them as its own per-device batches (what
  // `triad readings:anchor` does), so the listing can name the roots, then ships them with proofs, encrypted.
  const history: SignedReading[] = page.readings.map((r) => ({
    device: devices[0].address,
    seq: BigInt(r.seq),
    timestamp: BigInt(r.timestamp),
    values: r.values.map(BigInt),
    signature: r.signature,
  }));
  const batches = [];
  const roots: string[] = [];
  for (let b = 0; b < history.length; b += BATCH_SIZE) {
    const readings = history.slice(b, b + BATCH_SIZE);
    const anchored = await anchorReadings(asOwner, {
      domain,
      readings,
      uri: `${gateway.httpUrl}/v1/devices/${devices[0].address}/readings`,
    });
    gas.add(`anchor batch (${BATCH_SIZE} readings, per device)`, anchored.receipt);
    const prepared = prepareReadingBatch(domain, readings);
    if (prepared.root !== anchored.root) throw new Error("batch root differs from the anchored one");
    batches.push(prepared);
    roots.push(anchored.root);
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
    devices: [devices[0].address],
    anchors: roots,
  });
  gas.add("market: list dataset", dataset.receipt);
  const bought = await purchaseListing(asBuyer, token.connect(buyer), { listingId: dataset.listingId, buyerPublicKey });
  gas.add("market: buy", bought.receipt);
  const deliveredDataset = await deliverContentKey(seller, { purchaseId: bought.purchaseId, contentKey: datasetKey });
  gas.add("market: deliver key", deliveredDataset.receipt);
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
  step(
    `Dataset #${dataset.listingId} (device 1's ${history.length} readings from the gateway, ${roots.length} roots, 25 tUSD) sold; the buyer decrypted it and verified every reading against the anchored roots`,
  );
  const withdrawn = await market.withdrawable(operator.address);
  gas.add("market: withdraw", await (await seller.withdraw(operator.address)).wait());
  step(`Seller withdrew ${fmt(withdrawn)} tUSD of proceeds (fee ${fmt(deliveredDataset.fee + deliveredStream.fee)} tUSD to the treasury)`);

  // ---------------------------------------------------------------- insurance: claims on the gateway's telemetry
  // Device 1 failed (the machine's first failure reading); device 2's owner files a claim on normal telemetry.
  const store = await startEvidenceServer({ port: 0 });
  cleanups.push(() => store.close());
  const failureReading = history[firstFailureSeq - 1];
  const normalReading = (await gateway.store.readings({ device: devices[1].address, limit: 1000 }))[149];
  // The bundle covers the model's window around the incident (plus the readings just outside it, for completeness).
  const model = await loadModel(undefined, { backend: "auto", expectedHash: modelHash });
  const { beforeSeconds, afterSeconds } = model.metadata.window;
  const evidenceFor = async (device: string, incidentAt: bigint) => {
    const res = await fetch(
      `${gateway.httpUrl}/v1/devices/${device}/evidence?incidentAt=${incidentAt}&before=${beforeSeconds}&after=${afterSeconds}`,
    );
    if (res.status !== 200) throw new Error(`the gateway served no evidence for ${device}: ${await res.text()}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { incidentAt, ...(await store.put(bytes)), readings: parseEvidence(bytes).readings.length };
  };
  const genuineEvidence = await evidenceFor(devices[0].address, failureReading.timestamp);
  const fraudEvidence = await evidenceFor(devices[1].address, normalReading.timestamp);
  const claimAmount = units(1_500);
  const genuine = await fileClaim(holder, token.connect(operator), {
    policyId: policies[0],
    amount: claimAmount,
    incidentAt: genuineEvidence.incidentAt,
    evidenceHash: genuineEvidence.hash,
    evidenceURI: genuineEvidence.uri,
  });
  const fraud = await fileClaim(holder, token.connect(operator), {
    policyId: policies[1],
    amount: claimAmount,
    incidentAt: fraudEvidence.incidentAt,
    evidenceHash: fraudEvidence.hash,
    evidenceURI: fraudEvidence.uri,
  });
  gas.add("insurance: file claim", genuine.receipt);
  gas.add("insurance: file claim", fraud.receipt);
  step(
    `Filed claim #${genuine.claimId} (device 1, incident = its failure reading, ${genuineEvidence.readings} readings of evidence from the gateway) and claim #${fraud.claimId} (device 2, normal telemetry, ${fraudEvidence.readings} readings); evidence published on ${store.url}`,
  );

  // The committee: three members run the real oracle daemon (the code of \`npm run oracle -- run\`); 2 of 3 decide.
  // Loading TensorFlow.js and starting the daemons takes several seconds: say so rather than go quiet.
  step(`Starting the oracle committee: loading the AI model (TensorFlow.js) and ${LOCAL_COMMITTEE_ACCOUNTS.length} daemons…`);
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
        evidence: {
          schemes: ["http"],
          hosts: [new URL(store.url).host],
          maxBytes: 1 << 20,
          timeoutMs: 5_000,
          retries: 1,
          retryDelayMs: 100,
        },
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
  if (!g.approved || f.approved)
    throw new Error(
      `unexpected verdicts: claim #${genuine.claimId} score ${g.scoreBps} bps approved=${g.approved}, claim #${fraud.claimId} score ${f.scoreBps} bps approved=${f.approved}`,
    );
  step(
    `Committee decided in ${(verdictMs / 1000).toFixed(1)} s: claim #${genuine.claimId} APPROVED (score ${(Number(g.scoreBps) / 100).toFixed(2)} %), claim #${fraud.claimId} REJECTED (score ${(Number(f.scoreBps) / 100).toFixed(2)} %, reason ${claimReason(f.reason).name}: ${claimReason(f.reason).sentence})`,
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
      ["devices registered", `${DEVICES} (device-signed EIP-712 bindings); device 3 revoked`],
      ["live telemetry", `${counts.readings} signed readings over MQTT, verified and stored by the gateway; device 3's refused`],
      ["fleet anchoring", `${anchorEvents.length} roots (one transaction each) cover every stored reading; a proof checked on-chain`],
      [
        "AI monitor",
        `alert at seq ${alertSeq}, ${plural(firstFailureSeq - alertSeq, "reading")} before device 1's failure; ${plural(falseAlarms, "alert")} for the healthy machine`,
      ],
      ["live stream", `${streamed.length} readings of device 2 delivered to the paying subscriber, signatures verified`],
      ["marketplace", `dataset of gateway readings sold; ${verifiedReadings} readings verified by the buyer`],
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

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** Polls `condition` every 50 ms; throws naming `what` after `timeoutMs`. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
  }
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
