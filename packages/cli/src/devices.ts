import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { Wallet } from "ethers";
import { DeviceRegistry__factory } from "@triad/contracts";
import {
  AI4I_SCHEMA,
  DeviceStatus,
  anchorReadings,
  deviceRegistryDomain,
  enumName,
  parseAi4iCsv,
  registerDevice,
  sensorSchemaId,
  signAi4iRows,
  buildReadingDataset,
  prepareReadingBatch,
} from "@triad/sdk";
import type { CommandResult, CommandSpec } from "./lib/command.ts";
import { fail, fileError, parseAddress, parsePrivateKey, parseUint } from "./lib/common.ts";
import type { Context } from "./lib/context.ts";

/** Devices and their readings: device:register, device:show, device:suspend / resume / revoke, readings:anchor. */

/** The DeviceRegistry of the deployment, connected to the acting account (or, for reads, to `runner`). */
async function registryAs(ctx: Context, as: "signer" | "reader") {
  const record = await ctx.deployment(["DeviceRegistry"]);
  const runner = as === "signer" ? await ctx.signer() : await ctx.reader();
  const registry = DeviceRegistry__factory.connect(record.contracts.DeviceRegistry!, runner);
  return { registry, runner, record };
}

export function readCsv(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    fail(`cannot read --csv ${file}: ${fileError(err)}`);
  }
}

// ------------------------------------------------------------------ commands

export interface DeviceRegisterArgs {
  deviceKey: string;
  metadataUri?: string;
  schema: string;
}

export async function deviceRegister(ctx: Context, args: DeviceRegisterArgs): Promise<CommandResult> {
  const key = new Wallet(parsePrivateKey(args.deviceKey, "device-key"));
  const schema = args.schema ?? AI4I_SCHEMA;
  if (!/^[\w.\-/]{1,64}$/.test(schema)) fail(`--schema must be a schema id such as ${AI4I_SCHEMA}, got "${schema}"`);
  const { registry } = await registryAs(ctx, "signer");
  const existing = await registry.ownerAndStatus(key.address);
  const existingStatus = enumName(DeviceStatus, existing.status);
  if (existingStatus !== "None") fail(`device ${key.address} is already registered (owner ${existing.owner}, ${existingStatus})`);
  const { device, metadata, receipt } = await registerDevice(registry, {
    deviceKey: key,
    metadataURI: args.metadataUri,
    sensorSchema: schema,
  });
  const owner = await (await ctx.signer()).getAddress();
  return {
    data: { device, owner, sensorSchema: metadata.sensorSchema, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Registered device ${device}`, `  owner ${owner}, schema ${metadata.sensorSchema}, gas ${receipt.gasUsed}`],
  };
}

export async function deviceShow(ctx: Context, args: { device: string }): Promise<CommandResult> {
  const device = parseAddress(args.device, "device");
  const { registry } = await registryAs(ctx, "reader");
  const d = await registry.getDevice(device);
  const status = enumName(DeviceStatus, d.status);
  if (status === "None") fail(`device ${device} is not registered`);
  const schema = d.sensorSchema === sensorSchemaId(AI4I_SCHEMA) ? AI4I_SCHEMA : d.sensorSchema;
  const data = {
    device,
    owner: d.owner,
    status,
    adminHold: d.adminHold,
    sensorSchema: schema,
    metadataHash: d.metadataHash,
    metadataURI: d.metadataURI,
    registeredAt: Number(d.registeredAt),
    nextSeq: d.nextSeq,
    pendingOwner: await registry.pendingOwner(device),
  };
  return {
    data,
    lines: [
      `Device ${device}`,
      `  status      ${data.status}${d.adminHold ? " (admin hold)" : ""}`,
      `  owner       ${d.owner}`,
      `  schema      ${schema}`,
      `  metadata    ${d.metadataURI} (${d.metadataHash})`,
      `  registered  ${new Date(data.registeredAt * 1000).toISOString()}`,
      `  next seq    ${d.nextSeq}`,
    ],
  };
}

/** device:suspend / device:resume / device:revoke: one status change by the owner or an admin. */
async function changeStatus(ctx: Context, args: { device: string }, fn: "suspend" | "resume" | "revoke"): Promise<CommandResult> {
  const device = parseAddress(args.device, "device");
  const { registry } = await registryAs(ctx, "signer");
  const receipt = (await (await registry[fn](device)).wait())!;
  const status = enumName(DeviceStatus, (await registry.ownerAndStatus(device)).status);
  return {
    data: { device, status, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Device ${device} is now ${status} (gas ${receipt.gasUsed})`],
  };
}

export const deviceSuspend = (ctx: Context, args: { device: string }) => changeStatus(ctx, args, "suspend");
export const deviceResume = (ctx: Context, args: { device: string }) => changeStatus(ctx, args, "resume");
export const deviceRevoke = (ctx: Context, args: { device: string }) => changeStatus(ctx, args, "revoke");

export interface ReadingsAnchorArgs {
  deviceKey: string;
  csv: string;
  startSeq?: string;
  uri?: string;
  out?: string;
  force?: boolean;
}

export async function readingsAnchor(ctx: Context, args: ReadingsAnchorArgs): Promise<CommandResult> {
  const key = new Wallet(parsePrivateKey(args.deviceKey, "device-key"));
  const rows = parseAi4iCsv(readCsv(args.csv), args.csv);
  if (rows.length === 0) fail(`${args.csv} has no data rows`);
  const { registry, record } = await registryAs(ctx, "signer");
  const d = await registry.getDevice(key.address);
  if (enumName(DeviceStatus, d.status) === "None") fail(`device ${key.address} is not registered (run device:register first)`);
  const startSeq = args.startSeq === undefined ? d.nextSeq : parseUint(args.startSeq, "start-seq", { max: 2n ** 63n });
  const domain = deviceRegistryDomain(record.chainId, record.contracts.DeviceRegistry!);
  const now = await ctx.latestTimestamp();
  const readings = await signAi4iRows({
    deviceKey: key,
    domain,
    rows,
    startSeq,
    startTimestamp: now - 60n * BigInt(rows.length),
  });
  const uri = args.uri ?? `triad://readings/${key.address}/${startSeq}`;
  // The signed readings with their proofs are kept (triad.dataset/v1), so they can be sold and proved later: the
  // chain holds only the root. Checked before the transaction, so a refused overwrite costs nothing.
  const lastSeq = startSeq + BigInt(readings.length) - 1n;
  const out = args.out ?? `${args.csv.replace(/\.csv$/i, "")}.seq${startSeq}-${lastSeq}.readings.json`;
  if (existsSync(out) && !args.force) fail(`${out} already exists: move it away, choose another --out or pass --force`);
  const batch = prepareReadingBatch(domain, readings);
  const res = await anchorReadings(registry, { domain, readings, uri });
  const dataset = buildReadingDataset({
    chainId: record.chainId,
    registry: record.contracts.DeviceRegistry!,
    sensorSchema: AI4I_SCHEMA,
    batches: [{ root: res.root, entries: batch.entries }],
  });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(dataset, null, 2) + "\n");
    renameSync(tmp, out);
  } catch (err) {
    fail(`the batch is anchored (root ${res.root}) but its readings could not be written to ${out}: ${fileError(err)}`);
  }
  return {
    data: {
      device: key.address,
      root: res.root,
      fromSeq: res.fromSeq,
      toSeq: res.toSeq,
      readings: readings.length,
      uri,
      txHash: res.receipt.hash,
      gasUsed: res.receipt.gasUsed,
      readingsFile: out,
    },
    lines: [
      `Anchored ${readings.length} readings of ${key.address} (seq ${res.fromSeq}..${res.toSeq})`,
      `  root ${res.root}, gas ${res.receipt.gasUsed}`,
      `  signed readings with their proofs (triad.dataset/v1): ${out}`,
    ],
  };
}

// ------------------------------------------------------------------ command line

const GROUP = "Devices and readings";
const DEVICE = { name: "device", value: "<address>", description: "Device address", required: true } as const;

export const deviceCommands: CommandSpec[] = [
  {
    name: "device:register",
    group: GROUP,
    summary: "Registers a device: its own key signs the binding to the owner (the acting account)",
    account: "Owner",
    options: [
      {
        name: "device-key",
        value: "<hex>",
        description: "The device's private key (hex); it signs the EIP-712 DeviceBinding",
        required: true,
      },
      {
        name: "metadata-uri",
        value: "<uri>",
        description: "Where the device metadata document lives (default: triad://devices/<address>)",
      },
      { name: "schema", value: "<id>", description: "Sensor schema id", default: AI4I_SCHEMA },
    ],
    run: deviceRegister,
  },
  {
    name: "device:show",
    group: GROUP,
    summary: "Shows a device's owner, status, schema, metadata and next anchor seq",
    account: "Account to read as",
    options: [DEVICE],
    run: deviceShow,
  },
  {
    name: "device:suspend",
    group: GROUP,
    summary: "Suspends an Active device (owner or admin)",
    account: "Owner or admin",
    options: [DEVICE],
    run: deviceSuspend,
  },
  {
    name: "device:resume",
    group: GROUP,
    summary: "Resumes a Suspended device (owner, or admin after an admin suspension)",
    account: "Owner or admin",
    options: [DEVICE],
    run: deviceResume,
  },
  {
    name: "device:revoke",
    group: GROUP,
    summary: "Revokes a device for good (owner or admin)",
    account: "Owner or admin",
    options: [DEVICE],
    run: deviceRevoke,
  },
  {
    name: "readings:anchor",
    group: GROUP,
    summary: "Signs the rows of an AI4I CSV as the device's readings and anchors them as one Merkle batch",
    account: "Owner or gateway",
    options: [
      { name: "device-key", value: "<hex>", description: "The device's private key (hex); it signs each reading", required: true },
      { name: "csv", value: "<file>", description: "CSV file with the AI4I 2020 columns and header", required: true },
      { name: "start-seq", value: "<n>", description: "Sequence number of the first row (default: the device's next free seq)" },
      {
        name: "uri",
        value: "<uri>",
        description: "Where the batch's readings will be published (default: triad://readings/<device>/<seq>)",
      },
      {
        name: "out",
        value: "<file>",
        description: "Where to keep the signed readings with their proofs, triad.dataset/v1 (default: <csv>.seq<from>-<to>.readings.json)",
      },
      { name: "force", type: "boolean", description: "Overwrite --out if it exists" },
    ],
    run: readingsAnchor,
  },
];
