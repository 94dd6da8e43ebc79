/**
 * `npm run demo`: the whole Triad story on Hardhat's in-process chain, through the same code paths users run.
 * Prints progress lines and a final summary (what happened, gas per operation, time).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import hre from "hardhat";
import {
  anchorReadings,
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
} from "../sdk";
import { deployTriad } from "./lib/deploy";
import { GasLog, step, table } from "./lib/report";

const DEVICES = 3;
const READINGS_PER_DEVICE = 200;
const BATCH_SIZE = 50;
const CSV = path.join(__dirname, "..", "data", "ai4i2020", "ai4i2020-train.csv");

async function main() {
  const t0 = Date.now();
  const gas = new GasLog();
  const { ethers } = hre;
  const [, operator] = await ethers.getSigners();

  step("Deploying the Triad suite (Ignition) on the in-process Hardhat chain");
  const { registry, chainId } = await deployTriad(hre);
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
  const batchDigests = devices[1].readings.slice(probeBatch * BATCH_SIZE, (probeBatch + 1) * BATCH_SIZE).map((r) => readingDigest(domain, r));
  const proof = readingProof(buildReadingTree(batchDigests), digest);
  const onChain = await registry.verifyReading(devices[1].roots[probeBatch], digest, proof);
  const signer = recoverReading(domain, probe);
  const anchor = await registry.anchorOf(devices[1].roots[probeBatch]);
  if (!onChain || signer !== devices[1].address) throw new Error("reading verification failed");
  step(`Verified reading seq ${probe.seq} of device 2: signed by the device, in batch anchored at ${new Date(Number(anchor.anchoredAt) * 1000).toISOString()}`);

  // Operators react to a suspicious device: suspend, investigate, resume; a compromised one is revoked for good.
  gas.add("suspend device", await (await asOwner.suspend(devices[2].address)).wait());
  gas.add("resume device", await (await asOwner.resume(devices[2].address)).wait());
  gas.add("revoke device", await (await asOwner.revoke(devices[2].address)).wait());
  step("Device 3 suspended, resumed, then revoked (its key is treated as compromised)");

  console.log("\nSummary");
  console.log(
    table([
      ["what", "result"],
      ["devices registered", `${DEVICES} (device-signed EIP-712 bindings)`],
      ["readings signed", `${DEVICES * READINGS_PER_DEVICE} (EIP-712 Reading, real AI4I rows)`],
      ["batches anchored", `${devices.reduce((n, d) => n + d.roots.length, 0)} Merkle roots`],
      ["reading proof", "verified on-chain and signature recovered off-chain"],
    ]),
  );
  console.log("\nGas (whole transaction, from receipts)");
  console.log(table(gas.rows()));
  console.log(`\nDone in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env.DEBUG) console.error(err);
  process.exitCode = 1;
});
