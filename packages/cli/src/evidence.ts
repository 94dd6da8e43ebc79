import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ZeroAddress, getAddress } from "ethers";
import { DeviceRegistry__factory } from "@triad/contracts";
import {
  EVIDENCE_SCHEMA_V2,
  EvidenceError,
  InvalidInputError,
  buildEvidenceBundleV2,
  describeAnchor,
  evidenceHash,
  formatTimestamp,
  parseEvidence,
  parseReadingDataset,
  serializeEvidence,
  verifyEvidenceReadings,
  type EvidenceAnchor,
  type EvidenceBundleV2,
  type ProvenReading,
} from "@triad/sdk";
import type { DeploymentRecord } from "@triad/sdk/node";
import type { CommandResult, CommandSpec } from "./lib/command.ts";
import { fail, fileError, parseAddress, parseList, parseUint, usage } from "./lib/common.ts";
import type { Context } from "./lib/context.ts";
import { IPFS_PUBLISH_OPTIONS, describeIpfsSource, ipfsSource, publishToIpfs, type IpfsArgs } from "./lib/ipfs.ts";

/**
 * Evidence bundles for claims: evidence:build writes a `triad.evidence/v2` bundle (docs/protocol.md §7) — the device's
 * readings around the incident, each with its on-chain anchor and Merkle proof, plus the readings just before and
 * just after them — fetched from a gateway (its fleet anchors) or built from `triad.dataset/v1` files that
 * readings:anchor wrote (the device's own batch anchors). claim:check says what the committee would decide on it;
 * claim:file publishes it to the oracle's evidence store.
 *
 * `triad.evidence/v1` (signed readings without anchors) is no longer written: the oracle refuses it as NOT_ANCHORED.
 */

/** The window around the incident the readings must cover (the model decides from the readings inside it). */
export interface EvidenceWindow {
  beforeSeconds: number;
  afterSeconds: number;
}

/**
 * The window of the shipped model (`packages/oracle/model/metadata.json`, docs/protocol.md §8.1): what the committee
 * decides from, hence what a bundle must reach past on both sides. Loading the model library takes a moment.
 */
export async function shippedModelWindow(ctx: Context): Promise<EvidenceWindow> {
  return ctx.step("Reading the shipped model's window", async () => {
    const { DEFAULT_MODEL_DIR } = await import("@triad/oracle/model");
    const file = path.join(DEFAULT_MODEL_DIR, "metadata.json");
    let window: Partial<EvidenceWindow> | undefined;
    try {
      window = (JSON.parse(readFileSync(file, "utf8")) as { window?: Partial<EvidenceWindow> }).window;
    } catch (err) {
      fail(`cannot read the model's window from ${file}: ${fileError(err)}`, "FILE_ERROR");
    }
    if (!Number.isSafeInteger(window?.beforeSeconds) || !Number.isSafeInteger(window?.afterSeconds))
      fail(`${file} names no window (beforeSeconds, afterSeconds)`, "FAILED");
    return window as EvidenceWindow;
  });
}

/** Writes `bytes` to `file` through a temporary file, so that a failed write leaves no half file. */
function writeAtomically(file: string, bytes: Uint8Array, option: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } catch (err) {
    fail(`cannot write ${option} ${file}: ${fileError(err)}`, "FILE_ERROR");
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ from a gateway

/** How long to wait between two questions to a gateway that answered "not anchored yet" (at most its Retry-After). */
const GATEWAY_POLL_MS = 5_000;
/** Deadline of one request to a gateway. */
const GATEWAY_REQUEST_MS = 30_000;

/** Seconds of a Retry-After header (seconds or an HTTP date); undefined when absent or unreadable. */
function retryAfterSeconds(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/**
 * The bytes of the gateway's bundle for `device` around `incidentAt` (`GET /v1/devices/{device}/evidence`, docs/protocol.md
 * §7.4). While the gateway answers 409 (a reading not anchored yet, or no reading after the window yet) it asks again,
 * saying what it waits for, until `timeoutSeconds` have passed.
 */
async function fetchFromGateway(
  ctx: Context,
  args: { gateway: string; device: string; incidentAt: bigint; window: EvidenceWindow; timeoutSeconds: number },
): Promise<Uint8Array> {
  const base = args.gateway.replace(/\/+$/, "");
  const url = `${base}/v1/devices/${args.device}/evidence?incidentAt=${args.incidentAt}&before=${args.window.beforeSeconds}&after=${args.window.afterSeconds}`;
  const started = Date.now();
  const deadline = started + args.timeoutSeconds * 1000;
  let said: string | undefined;
  return ctx.step(`Fetching the evidence of ${args.device} from the gateway at ${base}`, async () => {
    for (;;) {
      let res: Response;
      let body: Uint8Array;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(GATEWAY_REQUEST_MS) });
        body = new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        fail(
          `cannot reach the gateway at ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message} (start one with npx triad gateway run, or check --gateway)`,
          "NETWORK_UNREACHABLE",
          { url: base },
        );
      }
      if (res.status === 200) {
        const claimed = res.headers.get("x-triad-evidence-hash");
        if (claimed !== null && claimed.toLowerCase() !== evidenceHash(body)) {
          fail(
            `the gateway at ${base} says its bundle hashes to ${claimed}, but the bytes received hash to ${evidenceHash(body)}`,
            "FAILED",
          );
        }
        return body;
      }
      let message: string;
      try {
        message = String((JSON.parse(new TextDecoder().decode(body)) as { error?: unknown }).error ?? `HTTP ${res.status}`);
      } catch {
        message = `HTTP ${res.status}`;
      }
      message = message.replace(/\.$/, "");
      const details = { url: base, status: res.status };
      if (res.status === 409) {
        const now = Date.now();
        if (now >= deadline) {
          fail(
            `the gateway at ${base} has not anchored the window's readings after ${Math.round((now - started) / 1000)} s: ${message} (wait longer with --timeout)`,
            "NOT_READY",
            details,
          );
        }
        const wait = Math.min((retryAfterSeconds(res.headers.get("retry-after"), now) ?? 1) * 1000, GATEWAY_POLL_MS, deadline - now);
        // Said once per reason (the gateway's sentence ends with a retry time that moves on every answer).
        const reason = message.replace(/[,:]? retry after \S+$/, "");
        if (reason !== said) {
          ctx.note(
            `  waiting for the gateway: ${reason} (asking again every few seconds, for at most ${Math.ceil((deadline - now) / 1000)} s more)`,
          );
          said = reason;
        }
        await sleep(Math.max(wait, 100));
        continue;
      }
      if (res.status === 404) fail(`the gateway at ${base} has nothing to prove the window with: ${message}`, "NOT_FOUND", details);
      if (res.status === 422) fail(`the gateway at ${base} cannot prove the window complete: ${message}`, "FAILED", details);
      if (res.status === 400 || res.status === 413)
        fail(`the gateway at ${base} refused the request: ${message}`, "INVALID_INPUT", details);
      fail(`the gateway at ${base} answered HTTP ${res.status}: ${message}`, "FAILED", details);
    }
  });
}

// ------------------------------------------------------------------ from triad.dataset/v1 files

/** A reading of a dataset with the batch anchor (of its device) that covers it. */
interface DatasetReading extends ProvenReading {
  file: string;
}

/** The readings of `files` (triad.dataset/v1, as readings:anchor writes them), checked to be of this deployment. */
function readDatasets(files: readonly string[], record: DeploymentRecord): { readings: DatasetReading[]; sensorSchema: string } {
  const registry = getAddress(record.contracts.DeviceRegistry!);
  const readings: DatasetReading[] = [];
  let sensorSchema: string | undefined;
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (err) {
      fail(`cannot read --dataset ${file}: ${fileError(err)}`, "FILE_ERROR", { file });
    }
    let parsed: ReturnType<typeof parseReadingDataset>;
    try {
      parsed = parseReadingDataset(bytes);
    } catch (err) {
      if (err instanceof InvalidInputError)
        fail(`--dataset ${file}: ${err.message} (readings:anchor writes such files)`, "INVALID_INPUT", { file });
      throw err;
    }
    const { file: dataset, batches } = parsed;
    const datasetRegistry =
      typeof dataset.registry === "string" && /^0x[0-9a-fA-F]{40}$/.test(dataset.registry) ? getAddress(dataset.registry) : "?";
    if (!Number.isSafeInteger(dataset.chainId) || BigInt(dataset.chainId) !== BigInt(record.chainId) || datasetRegistry !== registry) {
      fail(
        `--dataset ${file} holds readings signed for the registry ${datasetRegistry} of chain ${dataset.chainId}, but this deployment's is ${registry} of chain ${record.chainId}`,
        "INVALID_INPUT",
        { file },
      );
    }
    if (sensorSchema !== undefined && dataset.sensorSchema !== sensorSchema) {
      fail(`--dataset ${file} is of sensor schema ${dataset.sensorSchema}, the other files of ${sensorSchema}`, "INVALID_INPUT", { file });
    }
    sensorSchema = dataset.sensorSchema;
    for (const batch of batches) {
      if (typeof batch.root !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(batch.root)) {
        fail(`--dataset ${file} names a batch root that is not 32 bytes of hex`, "INVALID_INPUT", { file });
      }
      for (const { reading, proof } of batch.readings) {
        readings.push({
          reading: { ...reading, device: getAddress(reading.device) },
          anchor: { kind: "device", root: batch.root },
          proof,
          file,
        });
      }
    }
  }
  return { readings, sensorSchema: sensorSchema! };
}

/**
 * The v2 bundle of `device`'s readings in `files` around `incidentAt`: the readings of the window, plus the one just
 * before and the one just after it, each under its batch anchor. Refuses, saying what is missing, when the files
 * do not hold them all (a seq missing in between, nothing before or after the window).
 */
function bundleFromDatasets(
  files: readonly string[],
  record: DeploymentRecord,
  args: { device?: string; incidentAt: bigint; window: EvidenceWindow },
): EvidenceBundleV2 {
  const { readings: all, sensorSchema } = readDatasets(files, record);
  const source = files.length === 1 ? `--dataset ${files[0]}` : `the --dataset files`;
  const devices = [...new Set(all.map((r) => r.reading.device))];
  let device = args.device;
  if (device === undefined) {
    if (devices.length === 0) fail(`${source} holds no readings`, "INVALID_INPUT");
    if (devices.length > 1)
      fail(`${source} holds readings of ${devices.length} devices (${devices.join(", ")}): name one with --device`, "INVALID_INPUT");
    device = devices[0];
  } else if (!devices.includes(device)) {
    fail(`${source} holds no readings of device ${device}${devices.length ? ` (only of ${devices.join(", ")})` : ""}`, "INVALID_INPUT");
  }
  // One reading per seq, in seq order; the same reading in two files is one reading, two readings under one seq a conflict.
  const bySeq = new Map<bigint, DatasetReading>();
  for (const r of all.filter((x) => x.reading.device === device)) {
    const seen = bySeq.get(r.reading.seq);
    if (seen && seen.reading.signature.toLowerCase() !== r.reading.signature.toLowerCase()) {
      fail(
        `seq ${r.reading.seq} of ${device} is in ${seen.file} and in ${r.file} with different signatures: two readings under one seq`,
        "INVALID_INPUT",
      );
    }
    if (!seen) bySeq.set(r.reading.seq, r);
  }
  const readings = [...bySeq.values()].sort((a, b) => (a.reading.seq < b.reading.seq ? -1 : 1));
  const start = args.incidentAt > BigInt(args.window.beforeSeconds) ? args.incidentAt - BigInt(args.window.beforeSeconds) : 0n;
  const end = args.incidentAt + BigInt(args.window.afterSeconds);
  const when = (t: bigint) => `${formatTimestamp(t)} (${t})`;
  const span = `the window [${start}, ${end}] (${args.window.beforeSeconds} s before and ${args.window.afterSeconds} s after the incident at ${when(args.incidentAt)})`;
  const inWindow = readings.filter((r) => r.reading.timestamp >= start && r.reading.timestamp <= end);
  if (inWindow.length === 0) {
    const first = readings[0].reading;
    const last = readings[readings.length - 1].reading;
    fail(
      `${source} holds no reading of ${device} in ${span}: its readings run from ${when(first.timestamp)} (seq ${first.seq}) to ${when(last.timestamp)} (seq ${last.seq})`,
      "INVALID_INPUT",
    );
  }
  const firstSeq = inWindow[0].reading.seq;
  const lastSeq = inWindow[inWindow.length - 1].reading.seq;
  if (firstSeq === 0n) {
    fail(
      `the device's first reading (seq 0) lies in ${span}: no reading before it can prove the window complete — choose a later --incident-at`,
      "INVALID_INPUT",
    );
  }
  const before = bySeq.get(firstSeq - 1n);
  if (!before) {
    fail(
      `${source} does not reach back past ${span}: it lacks seq ${firstSeq - 1n}, the reading just before seq ${firstSeq} — add the dataset of the batch before it (--dataset a.json,b.json) or choose a later --incident-at`,
      "INVALID_INPUT",
    );
  }
  const after = bySeq.get(lastSeq + 1n);
  if (!after) {
    fail(
      `${source} does not reach past the end of ${span}: it lacks seq ${lastSeq + 1n}, the reading just after seq ${lastSeq} — anchor the readings after the window (readings:anchor) and add their dataset, or choose an earlier --incident-at`,
      "INVALID_INPUT",
    );
  }
  const window: DatasetReading[] = [];
  for (let seq = firstSeq; seq <= lastSeq; seq++) {
    const r = bySeq.get(seq);
    if (!r) {
      fail(
        `${source} lacks seq ${seq} of ${device}, inside ${span}: the window cannot be proved complete (the oracle would refuse it as INCOMPLETE_WINDOW)`,
        "INVALID_INPUT",
      );
    }
    window.push(r);
  }
  return buildEvidenceBundleV2({
    chainId: record.chainId,
    registry: record.contracts.DeviceRegistry!,
    incidentAt: args.incidentAt,
    sensorSchema,
    device,
    before,
    readings: window,
    after,
  });
}

// ------------------------------------------------------------------ the command

export interface EvidenceBuildArgs extends Pick<IpfsArgs, "ipfsDir" | "ipfsApi"> {
  gateway?: string;
  device?: string;
  dataset?: string;
  incidentAt: string;
  windowBefore?: string;
  windowAfter?: string;
  timeout?: string;
  out: string;
  force?: boolean;
  /** Also publish the bundle to IPFS (--ipfs-dir / --ipfs-api) and print its ipfs:// URI for claim:file. */
  publish?: boolean;
}

export async function evidenceBuild(ctx: Context, args: EvidenceBuildArgs): Promise<CommandResult> {
  if ((args.gateway === undefined) === (args.dataset === undefined)) {
    usage("give either --gateway <url> (with --device) or --dataset <file> (see triad evidence:build --help)");
  }
  if (args.gateway !== undefined && args.device === undefined)
    usage("--gateway needs --device <address> (see triad evidence:build --help)");
  if (args.gateway !== undefined && !/^https?:\/\/[^\s/]+/i.test(args.gateway)) {
    fail(`--gateway must be an http:// or https:// URL, got "${args.gateway}"`);
  }
  const incidentAt = parseUint(args.incidentAt, "incident-at", { min: 1n, max: 2n ** 53n - 1n });
  const device = args.device === undefined ? undefined : parseAddress(args.device, "device");
  const files = args.dataset === undefined ? [] : parseList(args.dataset);
  if (args.dataset !== undefined && files.length === 0) fail("--dataset must name a file (or several, comma-separated)");
  const timeoutSeconds = Number(parseUint(args.timeout ?? "600", "timeout", { max: 86_400n }));
  const custom = {
    beforeSeconds: args.windowBefore === undefined ? undefined : Number(parseUint(args.windowBefore, "window-before", { max: 86_400n })),
    afterSeconds: args.windowAfter === undefined ? undefined : Number(parseUint(args.windowAfter, "window-after", { max: 86_400n })),
  };
  if (existsSync(args.out) && !args.force) {
    fail(`${args.out} already exists: move it away, choose another --out or pass --force`, "FILE_EXISTS", { file: args.out });
  }
  // --ipfs-dir or --ipfs-api alone also means: publish there.
  const publish = args.publish || args.ipfsDir !== undefined || args.ipfsApi !== undefined;
  const ipfs = publish ? ipfsSource(ctx, args, "publish") : undefined;
  const window: EvidenceWindow =
    custom.beforeSeconds !== undefined && custom.afterSeconds !== undefined
      ? (custom as EvidenceWindow)
      : { ...(await shippedModelWindow(ctx)), ...Object.fromEntries(Object.entries(custom).filter(([, v]) => v !== undefined)) };
  const record = await ctx.deployment(["DeviceRegistry"]);
  const registryAddress = getAddress(record.contracts.DeviceRegistry!);

  let bytes: Uint8Array;
  if (args.gateway !== undefined) {
    bytes = await fetchFromGateway(ctx, { gateway: args.gateway, device: device!, incidentAt, window, timeoutSeconds });
  } else {
    bytes = serializeEvidence(bundleFromDatasets(files, record, { device, incidentAt, window }));
  }

  // What the committee checks off-chain (docs/protocol.md §7.3): refused here rather than discovered after filing.
  const from = args.gateway !== undefined ? `the gateway's bundle` : "the bundle";
  let bundle: EvidenceBundleV2;
  try {
    const parsed = parseEvidence(bytes);
    if (parsed.schema !== EVIDENCE_SCHEMA_V2) fail(`${from} is ${parsed.schema}, not ${EVIDENCE_SCHEMA_V2}`, "FAILED");
    bundle = parsed;
    verifyEvidenceReadings(bundle, { chainId: record.chainId, registry: registryAddress, device, incidentAt, window });
  } catch (err) {
    if (err instanceof EvidenceError) fail(`${from} would be refused (${err.reason}): ${err.message}`, "FAILED", { reason: err.reason });
    throw err;
  }
  // Every anchor it cites is on this chain (whether the committee accepts each one is claim:check's part).
  const registry = DeviceRegistry__factory.connect(registryAddress, ctx.provider);
  const anchors = distinctAnchors(bundle);
  const anchoredAt = await Promise.all(
    anchors.map(async (a) => {
      if (a.kind === "fleet") return (await registry.fleetAnchorOf(a.gateway, a.root)).anchoredAt;
      const anchor = await registry.anchorOf(bundle.device, a.root);
      return anchor.device === ZeroAddress ? 0n : anchor.anchoredAt;
    }),
  );
  const missing = anchors.findIndex((_, i) => anchoredAt[i] === 0n);
  if (missing >= 0) {
    fail(
      `${from} cites the ${describeAnchor(anchors[missing])}, which is not on chain ${record.chainId} (anchored on another chain or deployment, or the readings were changed)`,
      "FAILED",
    );
  }

  writeAtomically(args.out, bytes, "--out");
  const hash = evidenceHash(bytes);
  // Content-addressed: the URI names these exact bytes, and whoever fetches it checks them against the CID.
  const evidenceURI = ipfs ? `ipfs://${await publishToIpfs(ctx, ipfs, bytes, "the bundle")}` : undefined;
  const now = await ctx.latestTimestamp();
  const first = bundle.readings[0];
  const last = bundle.readings[bundle.readings.length - 1];
  const kinds =
    anchors.every((a) => a.kind === "device") && anchors.length > 0
      ? `${anchors.length} batch anchor${anchors.length === 1 ? "" : "s"} of the device`
      : `${anchors.length} anchor${anchors.length === 1 ? "" : "s"} (${[...new Set(anchors.map((a) => (a.kind === "fleet" ? `fleet anchors of gateway ${a.gateway}` : "batch anchors of the device")))].join(", ")})`;
  return {
    data: {
      out: args.out,
      schema: bundle.schema,
      evidenceHash: hash,
      device: bundle.device,
      incidentAt,
      window,
      readings: bundle.readings.length,
      fromSeq: first.seq,
      toSeq: last.seq,
      beforeSeq: bundle.before.seq,
      afterSeq: bundle.after.seq,
      anchors,
      source: args.gateway !== undefined ? { gateway: args.gateway } : { dataset: files },
      bytes: bytes.length,
      ...(evidenceURI ? { evidenceURI } : {}),
    },
    lines: [
      `Wrote ${args.out}: ${EVIDENCE_SCHEMA_V2} of device ${bundle.device}, incident at ${formatTimestamp(incidentAt, now)}`,
      `  ${bundle.readings.length} reading${bundle.readings.length === 1 ? "" : "s"} (seq ${first.seq}..${last.seq}) from ${window.beforeSeconds} s before to ${window.afterSeconds} s after the incident, with seq ${bundle.before.seq} just before and seq ${bundle.after.seq} just after them`,
      `  each with its Merkle proof under ${kinds}, on-chain`,
      `  evidence hash ${hash} (claim:check --evidence ${args.out} --policy <id> says what the committee would decide)`,
      ...(evidenceURI
        ? [
            `  published to ${describeIpfsSource(ipfs!)} as ${evidenceURI}`,
            `  file it with: claim:file --evidence ${args.out} --evidence-uri ${evidenceURI}${"dir" in ipfs! ? ` (the oracles fetch it from that node: keep it served, e.g. triad ipfs serve --dir ${ipfs.dir})` : ""}`,
          ]
        : []),
    ],
  };
}

/** The distinct anchors a bundle cites, in order of first use. */
function distinctAnchors(bundle: EvidenceBundleV2): EvidenceAnchor[] {
  const seen = new Map<string, EvidenceAnchor>();
  for (const r of [bundle.before, ...bundle.readings, bundle.after]) {
    const key = r.anchor.kind === "fleet" ? `fleet/${r.anchor.gateway}/${r.anchor.root}` : `device/${r.anchor.root}`;
    if (!seen.has(key)) seen.set(key, r.anchor);
  }
  return [...seen.values()];
}

export const evidenceCommands: CommandSpec[] = [
  {
    name: "evidence:build",
    group: "Policies and claims",
    summary:
      "Writes the triad.evidence/v2 bundle of a claim: the device's anchored readings around the incident, from a gateway or from readings:anchor datasets",
    options: [
      {
        name: "incident-at",
        value: "<unix-time>",
        description: "Unix time (seconds) of the incident; the claim filed with the bundle is about this instant",
        required: true,
      },
      { name: "out", value: "<file>", description: "Where to write the bundle (JSON; never over a file without --force)", required: true },
      {
        name: "gateway",
        value: "<url>",
        description:
          "Fetch the bundle from this gateway's API (its fleet anchors); while it answers that the readings are not anchored yet, wait (see --timeout)",
      },
      {
        name: "device",
        value: "<address>",
        description: "The insured device (required with --gateway; with --dataset, when it holds several)",
      },
      {
        name: "dataset",
        value: "<file[,file…]>",
        description:
          "Build it from triad.dataset/v1 files that readings:anchor wrote (the device's batch anchors): they must hold the window's readings and the ones just before and after",
      },
      {
        name: "window-before",
        value: "<seconds>",
        description: "Seconds before the incident the readings must cover (default: the shipped model's window)",
      },
      {
        name: "window-after",
        value: "<seconds>",
        description: "Seconds after the incident the readings must cover (default: the shipped model's window)",
      },
      {
        name: "timeout",
        value: "<seconds>",
        description: "With --gateway: how long to wait for the window's readings to be anchored",
        default: "600",
      },
      { name: "force", type: "boolean", description: "Overwrite --out if it exists" },
      {
        name: "publish",
        type: "boolean",
        description:
          "Also publish the bundle to IPFS (CIDv1) and print its ipfs:// URI to file the claim with (needs --ipfs-dir or --ipfs-api)",
      },
      ...IPFS_PUBLISH_OPTIONS,
    ],
    run: evidenceBuild,
  },
];
