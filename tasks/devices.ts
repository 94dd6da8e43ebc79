import { readFileSync } from "node:fs";
import { task } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import {
  AI4I_SCHEMA,
  anchorReadings,
  deviceRegistryDomain,
  parseAi4iCsv,
  registerDevice,
  sensorSchemaId,
  signAi4iRows,
} from "../sdk";
import { action, deploymentFor, fail, output, parseAddress, parsePrivateKey, parseUint, signerFor } from "./lib/common";

const STATUS = ["None", "Active", "Suspended", "Revoked"] as const;

async function registryAs(hre: HardhatRuntimeEnvironment, from: string | undefined) {
  const record = await deploymentFor(hre, ["DeviceRegistry"]);
  const signer = await signerFor(hre, from);
  const registry = await hre.ethers.getContractAt("DeviceRegistry", record.contracts.DeviceRegistry!, signer);
  return { registry, signer, record };
}

interface Common {
  from?: string;
  json: boolean;
}

task("device:register", "Registers a device: its own key signs the binding to the owner (the --from account)")
  .addParam("deviceKey", "The device's private key (hex); it signs the EIP-712 DeviceBinding")
  .addOptionalParam("metadataUri", "Where the device metadata document lives")
  .addOptionalParam("schema", "Sensor schema id", AI4I_SCHEMA)
  .addOptionalParam("from", "Owner account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { deviceKey: string; metadataUri?: string; schema: string }, hre) => {
      const key = new hre.ethers.Wallet(parsePrivateKey(args.deviceKey, "device-key"));
      if (!/^[\w.\-/]{1,64}$/.test(args.schema)) fail(`--schema must be a schema id such as ${AI4I_SCHEMA}, got "${args.schema}"`);
      const { registry, signer } = await registryAs(hre, args.from);
      const existing = await registry.ownerAndStatus(key.address);
      if (existing.status !== 0n) fail(`device ${key.address} is already registered (owner ${existing.owner}, ${STATUS[Number(existing.status)]})`);
      const { device, metadata, receipt } = await registerDevice(registry, {
        deviceKey: key,
        metadataURI: args.metadataUri,
        sensorSchema: args.schema,
      });
      const owner = await signer.getAddress();
      output(args.json, { device, owner, sensorSchema: metadata.sensorSchema, txHash: receipt.hash, gasUsed: receipt.gasUsed }, [
        `Registered device ${device}`,
        `  owner ${owner}, schema ${metadata.sensorSchema}, gas ${receipt.gasUsed}`,
      ]);
    }),
  );

task("device:show", "Shows a device's owner, status, schema, metadata and next anchor seq")
  .addParam("device", "Device address")
  .addOptionalParam("from", "Account to read as (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { device: string }, hre) => {
      const device = parseAddress(hre, args.device, "device");
      const { registry } = await registryAs(hre, args.from);
      const d = await registry.getDevice(device);
      if (d.status === 0n) fail(`device ${device} is not registered`);
      const schema = d.sensorSchema === sensorSchemaId(AI4I_SCHEMA) ? AI4I_SCHEMA : d.sensorSchema;
      const view = {
        device,
        owner: d.owner,
        status: STATUS[Number(d.status)],
        adminHold: d.adminHold,
        sensorSchema: schema,
        metadataHash: d.metadataHash,
        metadataURI: d.metadataURI,
        registeredAt: Number(d.registeredAt),
        nextSeq: d.nextSeq,
        pendingOwner: await registry.pendingOwner(device),
      };
      output(args.json, view, [
        `Device ${device}`,
        `  status      ${view.status}${d.adminHold ? " (admin hold)" : ""}`,
        `  owner       ${d.owner}`,
        `  schema      ${schema}`,
        `  metadata    ${d.metadataURI} (${d.metadataHash})`,
        `  registered  ${new Date(view.registeredAt * 1000).toISOString()}`,
        `  next seq    ${d.nextSeq}`,
      ]);
    }),
  );

for (const [name, verb, fn] of [
  ["device:suspend", "Suspends an Active device (owner or admin)", "suspend"],
  ["device:resume", "Resumes a Suspended device (owner, or admin after an admin suspension)", "resume"],
  ["device:revoke", "Revokes a device for good (owner or admin)", "revoke"],
] as const) {
  task(name, verb)
    .addParam("device", "Device address")
    .addOptionalParam("from", "Owner or admin account: index or address of a local account (default: the first)")
    .addFlag("json", "Print one JSON object instead of human output")
    .setAction(
      action(async (args: Common & { device: string }, hre) => {
        const device = parseAddress(hre, args.device, "device");
        const { registry } = await registryAs(hre, args.from);
        const receipt = (await (await registry[fn](device)).wait())!;
        const status = STATUS[Number((await registry.ownerAndStatus(device)).status)];
        output(args.json, { device, status, txHash: receipt.hash, gasUsed: receipt.gasUsed }, [
          `Device ${device} is now ${status} (gas ${receipt.gasUsed})`,
        ]);
      }),
    );
}

task("readings:anchor", "Signs the rows of an AI4I CSV as the device's readings and anchors them as one Merkle batch")
  .addParam("deviceKey", "The device's private key (hex); it signs each reading")
  .addParam("csv", "CSV file with the AI4I 2020 columns and header")
  .addOptionalParam("startSeq", "Sequence number of the first row (default: the device's next free seq)")
  .addOptionalParam("uri", "Where the batch's readings will be published")
  .addOptionalParam("from", "Owner or gateway account: index or address of a local account (default: the first)")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: Common & { deviceKey: string; csv: string; startSeq?: string; uri?: string }, hre) => {
      const key = new hre.ethers.Wallet(parsePrivateKey(args.deviceKey, "device-key"));
      const rows = parseAi4iCsv(readCsv(args.csv), args.csv);
      if (rows.length === 0) fail(`${args.csv} has no data rows`);
      const { registry, record } = await registryAs(hre, args.from);
      const d = await registry.getDevice(key.address);
      if (d.status === 0n) fail(`device ${key.address} is not registered (run device:register first)`);
      const startSeq = args.startSeq === undefined ? d.nextSeq : parseUint(args.startSeq, "start-seq", { max: 2n ** 63n });
      const domain = deviceRegistryDomain(record.chainId, record.contracts.DeviceRegistry!);
      const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
      const readings = await signAi4iRows({
        deviceKey: key,
        domain,
        rows,
        startSeq,
        startTimestamp: now - 60n * BigInt(rows.length),
      });
      const uri = args.uri ?? `triad://readings/${key.address}/${startSeq}`;
      const res = await anchorReadings(registry, { domain, readings, uri });
      output(
        args.json,
        { device: key.address, root: res.root, fromSeq: res.fromSeq, toSeq: res.toSeq, readings: readings.length, uri, txHash: res.receipt.hash, gasUsed: res.receipt.gasUsed },
        [`Anchored ${readings.length} readings of ${key.address} (seq ${res.fromSeq}..${res.toSeq})`, `  root ${res.root}, gas ${res.receipt.gasUsed}`],
      );
    }),
  );

export function readCsv(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    fail(`cannot read --csv ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
