import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { Wallet, ZeroAddress, getAddress } from "ethers";
import { DeviceRegistry__factory } from "@triad/contracts";
import {
  AI4I_SCHEMA,
  DeviceStatus,
  anchorReadings,
  deviceRegistryDomain,
  enumName,
  formatTimestamp,
  listAnchors,
  listDevices,
  listGateways,
  type GatewayAuthorisation,
  parseAi4iCsv,
  registerDevice,
  sensorSchemaId,
  signAi4iRows,
  buildReadingDataset,
  prepareReadingBatch,
} from "@triad/sdk";
import type { CommandResult, CommandSpec } from "./lib/command.ts";
import { fail, fileError, parseAddress, parsePrivateKey, parseUint, refuse } from "./lib/common.ts";
import type { Context } from "./lib/context.ts";

/**
 * Devices and their readings: device:register, device:show, device:list, device:suspend / resume / revoke,
 * device:gateway, readings:anchor, readings:list.
 */

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
    fail(`cannot read --csv ${file}: ${fileError(err)}`, "FILE_ERROR");
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
  if (existingStatus !== "None") refuse(`device ${key.address} is already registered (owner ${existing.owner}, ${existingStatus})`);
  const { device, metadata, receipt } = await ctx.step(`Registering device ${key.address}`, () =>
    registerDevice(registry, { deviceKey: key, metadataURI: args.metadataUri, sensorSchema: schema }),
  );
  const owner = await (await ctx.signer()).getAddress();
  return {
    data: { device, owner, sensorSchema: metadata.sensorSchema, txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: [`Registered device ${device}`, `  owner ${owner}, schema ${metadata.sensorSchema}, gas ${receipt.gasUsed}`],
  };
}

export async function deviceShow(ctx: Context, args: { device: string }): Promise<CommandResult> {
  const device = parseAddress(args.device, "device");
  const { registry, record } = await registryAs(ctx, "reader");
  const d = await registry.getDevice(device);
  const status = enumName(DeviceStatus, d.status);
  if (status === "None") fail(`device ${device} is not registered`, "NOT_FOUND", { device });
  const now = await ctx.latestTimestamp();
  const schema = d.sensorSchema === sensorSchemaId(AI4I_SCHEMA) ? AI4I_SCHEMA : d.sensorSchema;
  const range = await ctx.scanRange(record, "gateway authorisations");
  const gateways = await listGateways(registry.connect(ctx.provider), range, { owner: d.owner });
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
    gateways: gateways.map((g) => ({ gateway: g.gateway, since: Number(g.since) })),
  };
  return {
    data,
    lines: [
      `Device ${device}`,
      `  status      ${data.status}${d.adminHold ? " (admin hold)" : ""}`,
      `  owner       ${d.owner}`,
      `  schema      ${schema}`,
      `  metadata    ${d.metadataURI} (${d.metadataHash})`,
      `  registered  ${formatTimestamp(data.registeredAt, now)}`,
      `  next seq    ${d.nextSeq} (readings:list --device ${device} shows its anchored batches)`,
      `  gateways    ${gatewayList(gateways, now) || "none: only the owner anchors its readings (device:gateway authorises a gateway)"}`,
    ],
  };
}

/** device:suspend / device:resume / device:revoke: one status change by the owner or an admin. */
async function changeStatus(ctx: Context, args: { device: string }, fn: "suspend" | "resume" | "revoke"): Promise<CommandResult> {
  const device = parseAddress(args.device, "device");
  const { registry } = await registryAs(ctx, "signer");
  if (enumName(DeviceStatus, (await registry.ownerAndStatus(device)).status) === "None") {
    fail(`device ${device} is not registered`, "NOT_FOUND", { device });
  }
  const receipt = await ctx.step(`Sending ${fn} of device ${device}`, async () => (await (await registry[fn](device)).wait())!);
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
  if (enumName(DeviceStatus, d.status) === "None") {
    fail(`device ${key.address} is not registered (run device:register first)`, "NOT_FOUND", { device: key.address });
  }
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
  if (existsSync(out) && !args.force)
    fail(`${out} already exists: move it away, choose another --out or pass --force`, "FILE_EXISTS", { file: out });
  const batch = prepareReadingBatch(domain, readings);
  const res = await ctx.step(`Anchoring ${readings.length} readings of ${key.address}`, () =>
    anchorReadings(registry, { domain, readings, uri }),
  );
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
    fail(`the batch is anchored (root ${res.root}) but its readings could not be written to ${out}: ${fileError(err)}`, "FILE_ERROR");
  }
  return {
    data: {
      device: key.address,
      root: res.root,
      fromSeq: res.fromSeq,
      toSeq: res.toSeq,
      readings: readings.length,
      uri,
      firstTimestamp: readings[0].timestamp,
      lastTimestamp: readings[readings.length - 1].timestamp,
      txHash: res.receipt.hash,
      gasUsed: res.receipt.gasUsed,
      readingsFile: out,
    },
    lines: [
      `Anchored ${readings.length} readings of ${key.address} (seq ${res.fromSeq}..${res.toSeq}, one a minute from ${formatTimestamp(readings[0].timestamp, now)} to ${formatTimestamp(readings[readings.length - 1].timestamp, now)})`,
      `  root ${res.root}, gas ${res.receipt.gasUsed}`,
      `  signed readings with their proofs (triad.dataset/v1): ${out}`,
    ],
  };
}

/** device:list: the devices an owner holds (default: the acting account), or every device with --all. */
export async function deviceList(ctx: Context, args: { owner?: string; all?: boolean }): Promise<CommandResult> {
  if (args.all && args.owner !== undefined) fail("give either --owner or --all");
  const record = await ctx.deployment(["DeviceRegistry"]);
  const registry = DeviceRegistry__factory.connect(record.contracts.DeviceRegistry!, ctx.provider);
  const owner = args.all ? undefined : args.owner !== undefined ? parseAddress(args.owner, "owner") : await ctx.account();
  const range = await ctx.scanRange(record, "device registrations");
  const [devices, gateways] = await ctx.step("Reading the device registry's events", () =>
    Promise.all([listDevices(registry, range, { owner }), listGateways(registry, range, { owner })]),
  );
  const now = await ctx.latestTimestamp();
  const whose = owner === undefined ? "registered" : `owned by ${owner}`;
  const gatewaysOf = (o: string) => gateways.filter((g) => g.owner === getAddress(o));
  return {
    data: {
      owner: owner ?? null,
      devices: devices.map((d) => ({
        ...d,
        registeredAt: Number(d.registeredAt),
        gateways: gatewaysOf(d.owner).map((g) => ({ gateway: g.gateway, since: Number(g.since) })),
      })),
    },
    lines:
      devices.length === 0
        ? [`No devices ${whose}${owner === undefined ? "" : " (device:register adds one; --all lists everyone's)"}`]
        : [
            `${devices.length} device${devices.length === 1 ? "" : "s"} ${whose}:`,
            ...devices.map((d) => {
              const theirs =
                owner === undefined && gatewaysOf(d.owner).length > 0 ? `, gateways ${gatewayList(gatewaysOf(d.owner), now)}` : "";
              return `  ${d.device}  ${d.status}${d.adminHold ? " (admin hold)" : ""}, ${d.sensorSchema}, next seq ${d.nextSeq}, registered ${formatTimestamp(d.registeredAt, now)}${owner === undefined ? `, owner ${d.owner}` : ""}${theirs}`;
            }),
            ...(owner === undefined
              ? []
              : [
                  `  gateways that may anchor their readings: ${gatewayList(gatewaysOf(owner), now) || "none (device:gateway authorises one)"}`,
                ]),
          ],
  };
}

/** "0x… (since <date>), 0x… (since <date>)"; empty without gateways. */
function gatewayList(gateways: readonly GatewayAuthorisation[], now: bigint): string {
  return gateways.map((g) => `${g.gateway} (since ${formatTimestamp(g.since, now)})`).join(", ");
}

export interface DeviceGatewayArgs {
  gateway: string;
  revoke?: boolean;
}

/**
 * device:gateway: the acting account (a device owner) authorises a gateway account to anchor readings of every device
 * it owns (`DeviceRegistry.setGateway`), or with --revoke takes that back. Anchors count by the authorisation at their
 * own time (docs/protocol.md §4.4, §6.3): a revocation does not undo earlier anchors, an authorisation does not make
 * earlier anchors count.
 */
export async function deviceGateway(ctx: Context, args: DeviceGatewayArgs): Promise<CommandResult> {
  const gateway = parseAddress(args.gateway, "gateway");
  if (gateway === ZeroAddress) fail("--gateway cannot be the zero address");
  const authorise = !args.revoke;
  const { registry } = await registryAs(ctx, "signer");
  const owner = await ctx.account();
  const current = await registry.isGateway(owner, gateway);
  if (current === authorise) {
    return {
      data: { owner, gateway, authorised: current, changed: false },
      lines: [
        authorise
          ? `Gateway ${gateway} is already authorised to anchor readings of the devices of ${owner}: nothing sent`
          : `Gateway ${gateway} is not authorised by ${owner}: nothing to revoke, nothing sent`,
      ],
    };
  }
  const receipt = await ctx.step(
    `${authorise ? "Authorising" : "Revoking"} gateway ${gateway}`,
    async () => (await (await registry.setGateway(gateway, authorise)).wait())!,
  );
  const at = BigInt((await receipt.getBlock()).timestamp);
  const now = await ctx.latestTimestamp();
  return {
    data: { owner, gateway, authorised: authorise, changed: true, since: Number(at), txHash: receipt.hash, gasUsed: receipt.gasUsed },
    lines: authorise
      ? [
          `Gateway ${gateway} may now anchor readings of every device of ${owner} (gas ${receipt.gasUsed})`,
          `  its anchors count from ${formatTimestamp(at, now)} on; device:gateway --gateway ${gateway} --revoke takes it back`,
        ]
      : [
          `Gateway ${gateway} may no longer anchor readings of the devices of ${owner} (gas ${receipt.gasUsed})`,
          `  anchors it made until ${formatTimestamp(at, now)} still count; later ones do not`,
        ],
  };
}

/** readings:list: the anchored batches of a device's readings (BatchAnchored events), with their seq ranges. */
export async function readingsList(ctx: Context, args: { device: string }): Promise<CommandResult> {
  const device = parseAddress(args.device, "device");
  const record = await ctx.deployment(["DeviceRegistry"]);
  const registry = DeviceRegistry__factory.connect(record.contracts.DeviceRegistry!, ctx.provider);
  const d = await registry.getDevice(device);
  if (enumName(DeviceStatus, d.status) === "None") fail(`device ${device} is not registered`, "NOT_FOUND", { device });
  const range = await ctx.scanRange(record, "anchors");
  const anchors = await ctx.step(`Reading the anchors of ${device}`, () => listAnchors(registry, range, { device }));
  const now = await ctx.latestTimestamp();
  const total = anchors.reduce((n, a) => n + a.readings, 0n);
  return {
    data: {
      device,
      nextSeq: d.nextSeq,
      readings: total,
      anchors: anchors.map((a) => ({ ...a, anchoredAt: Number(a.anchoredAt) })),
    },
    lines:
      anchors.length === 0
        ? [`Device ${device} has anchored no readings yet (readings:anchor anchors a batch)`]
        : [
            `Device ${device}: ${total} readings in ${anchors.length} anchored batch${anchors.length === 1 ? "" : "es"}, next seq ${d.nextSeq}`,
            ...anchors.map(
              (a) =>
                `  seq ${a.fromSeq}..${a.toSeq} (${a.readings})  root ${a.root}  anchored ${formatTimestamp(a.anchoredAt, now)}  ${a.uri}`,
            ),
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
    name: "device:list",
    group: GROUP,
    summary: "Lists the devices you own (or another owner's with --owner, everyone's with --all), from the registry's events",
    account: "Owner whose devices to list",
    options: [
      { name: "owner", value: "<address>", description: "List this owner's devices instead of yours" },
      { name: "all", type: "boolean", description: "List every registered device" },
    ],
    run: deviceList,
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
    name: "device:gateway",
    group: GROUP,
    summary: "Authorises a gateway account to anchor the readings of every device you own (--revoke takes it back)",
    account: "Device owner",
    options: [
      { name: "gateway", value: "<address>", description: "The gateway's account (the key it anchors with)", required: true },
      { name: "revoke", type: "boolean", description: "Take the authorisation back (its earlier anchors still count)" },
    ],
    run: deviceGateway,
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
  {
    name: "readings:list",
    group: GROUP,
    summary: "Lists a device's anchored batches of readings: seq ranges, Merkle roots, when and where",
    options: [DEVICE],
    run: readingsList,
  },
];
