import { writeFileSync } from "node:fs";
import { Wallet } from "ethers";
import { DeviceRegistry__factory } from "@triad/contracts";
import {
  AI4I_SCHEMA,
  DeviceStatus,
  buildEvidenceBundle,
  deviceRegistryDomain,
  enumName,
  evidenceHash,
  parseAi4iCsv,
  serializeEvidence,
  signAi4iRows,
} from "@triad/sdk";
import { readCsv } from "./devices.ts";
import type { CommandResult, CommandSpec } from "./lib/command.ts";
import { fail, fileError, parsePrivateKey, parseUint } from "./lib/common.ts";
import type { Context } from "./lib/context.ts";

/** Evidence bundles for claims: evidence:build (claim:file publishes them to the oracle's evidence store). */

export interface EvidenceBuildArgs {
  deviceKey: string;
  csv: string;
  incidentAt?: string;
  out: string;
  startSeq?: string;
  interval?: string;
}

export async function evidenceBuild(ctx: Context, args: EvidenceBuildArgs): Promise<CommandResult> {
  const key = new Wallet(parsePrivateKey(args.deviceKey, "device-key"));
  const incidentAt =
    args.incidentAt === undefined
      ? await ctx.latestTimestamp()
      : parseUint(args.incidentAt, "incident-at", { min: 1n, max: 2n ** 53n - 1n });
  const interval = parseUint(args.interval ?? "60", "interval", { min: 1n, max: 86_400n });
  const rows = parseAi4iCsv(readCsv(args.csv), args.csv);
  if (rows.length === 0) fail(`${args.csv} has no data rows`);
  const first = incidentAt - interval * BigInt(rows.length - 1);
  if (first < 0n) fail(`--incident-at ${incidentAt} is too early for ${rows.length} readings ${interval} s apart`);
  const record = await ctx.deployment(["DeviceRegistry"]);
  const registryAddress = record.contracts.DeviceRegistry!;
  const registry = DeviceRegistry__factory.connect(registryAddress, ctx.provider);
  const device = await registry.getDevice(key.address);
  if (enumName(DeviceStatus, device.status) === "None") fail(`device ${key.address} is not registered on chain ${record.chainId}`);
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
    fail(`cannot write --out ${args.out}: ${fileError(err)}`);
  }
  const hash = evidenceHash(bytes);
  return {
    data: { out: args.out, evidenceHash: hash, device: key.address, readings: readings.length, incidentAt, bytes: bytes.length },
    lines: [
      `Wrote ${args.out}: ${readings.length} readings signed by ${key.address}, incident at ${new Date(Number(incidentAt) * 1000).toISOString()}`,
      `  evidence hash ${hash}`,
    ],
  };
}

export const evidenceCommands: CommandSpec[] = [
  {
    name: "evidence:build",
    group: "Policies and claims",
    summary:
      "Signs each row of an AI4I CSV as the device's reading (timestamps spread up to --incident-at) and writes a triad.evidence/v1 bundle",
    options: [
      { name: "device-key", value: "<hex>", description: "The device's private key (hex); it signs each reading", required: true },
      {
        name: "csv",
        value: "<file>",
        description: "CSV file with the AI4I 2020 columns and header (the telemetry around the incident)",
        required: true,
      },
      {
        name: "incident-at",
        value: "<unix-time>",
        description: "Unix time (seconds) of the incident the claim is about (default: the chain's latest block time)",
      },
      { name: "out", value: "<file>", description: "Where to write the bundle (JSON)", required: true },
      { name: "start-seq", value: "<n>", description: "Sequence number of the first row (default: the device's next unanchored seq)" },
      {
        name: "interval",
        value: "<seconds>",
        description: "Seconds between readings; the last reading is at --incident-at",
        default: "60",
      },
    ],
    run: evidenceBuild,
  },
];
