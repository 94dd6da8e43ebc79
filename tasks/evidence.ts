import { writeFileSync } from "node:fs";
import { task } from "hardhat/config";
import { AI4I_SCHEMA, buildEvidenceBundle, deviceRegistryDomain, evidenceHash, parseAi4iCsv, serializeEvidence, signAi4iRows } from "../sdk";
import { action, deploymentFor, fail, output, parsePrivateKey, parseUint } from "./lib/common";
import { readCsv } from "./devices";

task("evidence:build", "Signs each row of an AI4I CSV as the device's reading (timestamps spread up to --incident-at) and writes a triad.evidence/v1 bundle")
  .addParam("deviceKey", "The device's private key (hex); it signs each reading")
  .addParam("csv", "CSV file with the AI4I 2020 columns and header (the telemetry around the incident)")
  .addOptionalParam("incidentAt", "Unix time (seconds) of the incident the claim is about (default: the chain's latest block time)")
  .addParam("out", "Where to write the bundle (JSON)")
  .addOptionalParam("startSeq", "Sequence number of the first row (default: the device's next unanchored seq)")
  .addOptionalParam("interval", "Seconds between readings; the last reading is at --incident-at", "60")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: { deviceKey: string; csv: string; incidentAt?: string; out: string; startSeq?: string; interval: string; json: boolean }, hre) => {
      const key = new hre.ethers.Wallet(parsePrivateKey(args.deviceKey, "device-key"));
      const incidentAt =
        args.incidentAt === undefined
          ? BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp)
          : parseUint(args.incidentAt, "incident-at", { min: 1n, max: 2n ** 53n - 1n });
      const interval = parseUint(args.interval, "interval", { min: 1n, max: 86_400n });
      const rows = parseAi4iCsv(readCsv(args.csv), args.csv);
      if (rows.length === 0) fail(`${args.csv} has no data rows`);
      const first = incidentAt - interval * BigInt(rows.length - 1);
      if (first < 0n) fail(`--incident-at ${incidentAt} is too early for ${rows.length} readings ${interval} s apart`);
      const record = await deploymentFor(hre, ["DeviceRegistry"]);
      const registryAddress = record.contracts.DeviceRegistry!;
      const registry = await hre.ethers.getContractAt("DeviceRegistry", registryAddress);
      const device = await registry.getDevice(key.address);
      if (device.status === 0n) fail(`device ${key.address} is not registered on chain ${record.chainId}`);
      const startSeq = args.startSeq === undefined ? device.nextSeq : parseUint(args.startSeq, "start-seq", { max: 2n ** 53n - 1n });

      const readings = await signAi4iRows({
        deviceKey: key,
        domain: deviceRegistryDomain(record.chainId, registryAddress),
        rows,
        startSeq,
        startTimestamp: first,
        intervalSeconds: interval,
      });
      const bytes = serializeEvidence(
        buildEvidenceBundle({ chainId: record.chainId, registry: registryAddress, incidentAt, readings, sensorSchema: AI4I_SCHEMA }),
      );
      try {
        writeFileSync(args.out, bytes);
      } catch (err) {
        fail(`cannot write --out ${args.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const hash = evidenceHash(bytes);
      output(args.json, { out: args.out, evidenceHash: hash, device: key.address, readings: readings.length, incidentAt, bytes: bytes.length }, [
        `Wrote ${args.out}: ${readings.length} readings signed by ${key.address}, incident at ${new Date(Number(incidentAt) * 1000).toISOString()}`,
        `  evidence hash ${hash}`,
      ]);
    }),
  );
