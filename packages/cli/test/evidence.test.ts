import { expect } from "chai";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { connection, ethers, networkHelpers } from "@triad/devkit/network";
import { serveChainOverHttp } from "@triad/devkit";
import { parseConfig, startGateway, type Gateway } from "@triad/gateway";
import { assessEvidence } from "@triad/oracle";
import {
  EVIDENCE_SCHEMA_V2,
  buildEvidenceBundle,
  claimReasonCode,
  deviceTopic,
  encodeWireReading,
  evidenceHash,
  parseEvidence,
  parseReadingDataset,
  serializeEvidence,
  verifyEvidenceReadings,
  type ReadingDatasetFile,
} from "@triad/sdk";
import { runCli } from "../src/cli.ts";
import {
  EXIT,
  NETWORK,
  INCIDENT_OFFSET,
  deployTriadForTasks,
  expectOneError,
  expectSuccess,
  incidentCsv,
  loadTaskFixture,
  runTask,
  tempDir,
  testWallet,
  useTaskEnvironment,
  type TaskRun,
} from "./fixtures.ts";

/**
 * Evidence for claims: evidence:build (triad.evidence/v2 from readings:anchor datasets, or from a real gateway that
 * anchors for the device's owner after device:gateway), and claim:check (the oracle's own assessment before filing):
 * in-process, against Hardhat's chain.
 */

const { time } = networkHelpers;
const UNIT = 10n ** 6n;
/** The shipped model's window (packages/oracle/model/metadata.json). */
const WINDOW = { beforeSeconds: 600, afterSeconds: 900 };

/**
 * Two insured devices (A of account 1, B of account 2) an hour past their policies' waiting period (a day for the
 * local product), each with 33 readings of an
 * incident anchored by its owner (readings:anchor, seq 0..32, one a minute): A's show a power failure from seq 12 on,
 * B's a machine running normally. `incidentAt` is the time of seq 12.
 */
async function incidentFixture() {
  const base = await deployTriadForTasks();
  const keyA = testWallet("evidence/device-a");
  const keyB = testWallet("evidence/device-b");
  expectSuccess(await runTask("device:register", { deviceKey: keyA.privateKey, from: "1" }));
  expectSuccess(await runTask("device:register", { deviceKey: keyB.privateKey, from: "2" }));
  expectSuccess(await runTask("pool:deposit", { amount: "100000", from: "3" }));
  expectSuccess(await runTask("policy:buy", { device: keyA.address, coverage: "5000", days: "30", from: "1" }));
  expectSuccess(await runTask("policy:buy", { device: keyB.address, coverage: "5000", days: "30", from: "2" }));
  await time.increase(86_400 + 3600);
  const dir = tempDir("triad-evidence-");
  const anchor = async (key: { privateKey: string }, name: string, failure: boolean, from: string) => {
    const csv = path.join(dir, `${name}.csv`);
    writeFileSync(csv, incidentCsv(failure));
    const out = path.join(dir, `${name}.readings.json`);
    const json = expectSuccess(await runTask("readings:anchor", { deviceKey: key.privateKey, csv, out, from, json: true })).json;
    expect(json).to.include({ fromSeq: "0", toSeq: "32", readingsFile: out });
    return { dataset: out, first: BigInt(json.firstTimestamp), root: json.root as string };
  };
  const a = await anchor(keyA, "a", true, "1");
  const b = await anchor(keyB, "b", false, "2");
  return { ...base, keyA, keyB, dir, a, b, incidentAt: a.first + INCIDENT_OFFSET };
}

const lines = (stdout: string) => stdout.trimEnd().split("\n");

/** runCli with progress output captured (as on a terminal). */
async function triadWithProgress(argv: string[]): Promise<TaskRun & { progress: string }> {
  let stdout = "";
  let stderr = "";
  let progress = "";
  const provider = new ethers.BrowserProvider(connection.provider, undefined, { cacheTimeout: -1 });
  try {
    const exitCode = await runCli(argv, {
      provider,
      network: NETWORK,
      stdout: { write: (s: string) => void (stdout += s) },
      stderr: { write: (s: string) => void (stderr += s) },
      progress: { write: (s: string) => void (progress += s), afterMs: 60_000 },
    });
    return { stdout, stderr, exitCode, progress, json: exitCode === 0 && argv.includes("--json") ? JSON.parse(stdout) : undefined };
  } finally {
    provider.destroy();
  }
}

describe("evidence:build, claim:check and device:gateway", function () {
  this.timeout(240_000);
  useTaskEnvironment();

  describe("from readings:anchor datasets (the device's own batch anchors)", function () {
    it("evidence:build --dataset writes the v2 bundle of the model's window, the readings just before and after included; claim:check approves it as the oracle does", async function () {
      const fx = await loadTaskFixture(incidentFixture);
      const dir = tempDir();
      const out = path.join(dir, "a.evidence.json");
      const built = expectSuccess(
        await runTask("evidence:build", { dataset: fx.a.dataset, incidentAt: String(fx.incidentAt), out, json: true }),
      ).json;
      // The window [incidentAt − 600, incidentAt + 900] holds seqs 2..27 (one a minute from seq 12); 1 and 28 close it.
      expect(built).to.deep.include({
        out,
        schema: EVIDENCE_SCHEMA_V2,
        device: fx.keyA.address,
        incidentAt: String(fx.incidentAt),
        window: WINDOW,
        readings: 26,
        fromSeq: 2,
        toSeq: 27,
        beforeSeq: 1,
        afterSeq: 28,
        anchors: [{ kind: "device", root: fx.a.root }],
      });
      const bytes = new Uint8Array(readFileSync(out));
      expect(built.evidenceHash).to.equal(evidenceHash(bytes));
      const bundle = parseEvidence(bytes);
      const verified = verifyEvidenceReadings(bundle, {
        chainId: fx.chainId,
        registry: await fx.registry.getAddress(),
        device: fx.keyA.address,
        incidentAt: fx.incidentAt,
        window: WINDOW,
      });
      expect(verified.anchoring!.anchors).to.deep.equal([{ kind: "device", root: fx.a.root }]);
      // The very same signed readings as the dataset's (nothing re-signed).
      const dataset = parseReadingDataset(new Uint8Array(readFileSync(fx.a.dataset))).batches[0].readings;
      expect(verified.readings.map((r) => r.signature)).to.deep.equal(dataset.slice(2, 28).map((r) => r.reading.signature));

      const human = expectSuccess(
        await runTask("evidence:build", { dataset: fx.a.dataset, incidentAt: String(fx.incidentAt), out: path.join(dir, "again.json") }),
      );
      expect(lines(human.stdout)[1]).to.equal(
        "  26 readings (seq 2..27) from 600 s before to 900 s after the incident, with seq 1 just before and seq 28 just after them",
      );
      expect(human.stdout).to.contain("  each with its Merkle proof under 1 batch anchor of the device, on-chain\n");

      const check = expectSuccess(await runTask("claim:check", { evidence: out, policy: "1", amount: "1500" }));
      expect(lines(check.stdout)).to.include.members([
        `The committee would APPROVE a claim of 1500 tUSD on policy #1 with ${out}`,
        "  it would pay 1400 tUSD (1500 tUSD minus the 100 tUSD deductible)",
        "  filing costs a 10 tUSD deposit: refunded when the claim ends approved, lost (to the pool) if it ends rejected",
      ]);
      expect(check.stdout).to.match(
        /\n {2}why: the model found a failure in the anchored telemetry around the incident \(score \d+(\.\d+)? %; approval needs 85 % held over 4 readings and 180 s\)\n/,
      );
      const json = expectSuccess(await runTask("claim:check", { evidence: out, policy: "1", json: true })).json;
      // Without --amount: the policy's remaining cover.
      expect(json).to.include({ approved: true, reasonCode: 0, reason: "APPROVED", amount: (5000n * UNIT).toString(), modelAllowed: true });
      expect(json.expectedPayout).to.equal((4900n * UNIT).toString());
      expect(json.scoreBps).to.be.at.least(8500);

      // Filed, the oracle's `assess` of the claim (every check, the claim's own filing time) decides the same.
      const filed = expectSuccess(
        await runTask("claim:file", {
          policy: "1",
          amount: "1500",
          evidence: out,
          evidenceUri: "https://evidence.example/a",
          from: "1",
          json: true,
        }),
      ).json;
      const { loadModel } = await import("@triad/oracle/model");
      const model = await loadModel();
      try {
        const assessed = await assessEvidence(
          {
            model,
            chain: {
              provider: ethers.provider,
              addresses: {
                claims: await fx.claims.getAddress(),
                registry: await fx.registry.getAddress(),
                committee: await fx.committee.getAddress(),
              },
            },
          },
          { bytes, claimId: BigInt(filed.claimId) },
        );
        expect(assessed).to.include({ valid: true, chainChecks: "all" });
        expect(assessed.assessment).to.include({ approved: true, scoreBps: json.scoreBps });
        expect(assessed.verdict).to.include({ reason: 0 });
      } finally {
        model.dispose();
      }
      // Filed once, the same evidence cannot back another claim: claim:check says the contract would refuse it.
      expectOneError(
        await runTask("claim:check", { evidence: out, policy: "1", amount: "1500" }),
        /^filing this claim now would be refused: /,
        EXIT.REFUSED,
      );
    });

    it("claim:check says why the committee would reject (exit code 4, the deposit named): no failure, no anchors (v1), another device", async function () {
      const fx = await loadTaskFixture(incidentFixture);
      const dir = tempDir();
      const normal = path.join(dir, "b.evidence.json");
      const failing = path.join(dir, "a.evidence.json");
      expectSuccess(await runTask("evidence:build", { dataset: fx.b.dataset, incidentAt: String(fx.incidentAt), out: normal }));
      expectSuccess(await runTask("evidence:build", { dataset: fx.a.dataset, incidentAt: String(fx.incidentAt), out: failing }));

      const rejected = expectOneError(
        await runTask("claim:check", { evidence: normal, policy: "2", amount: "1500" }),
        /^the committee would reject this claim: the model found no failure in the telemetry around the incident \(score \d+(\.\d+)? %; approval needs 85 % held over 4 readings and 180 s\); it would pay nothing and the 10 tUSD deposit of filing it would be lost$/,
        EXIT.REFUSED,
      );
      expect(rejected).to.be.a("string");
      const asJson = await runTask("claim:check", { evidence: normal, policy: "2", amount: "1500", json: true });
      expectOneError(asJson, "the committee would reject this claim", EXIT.REFUSED);
      const error = JSON.parse(asJson.stdout).error;
      expect(error.code).to.equal("CLAIM_WOULD_BE_REJECTED");
      expect(error.details).to.include({
        approved: false,
        reason: "NO_FAILURE_DETECTED",
        reasonCode: claimReasonCode("NO_FAILURE_DETECTED"),
        expectedPayout: "0",
        deposit: (10n * UNIT).toString(),
        depositLostOnRejection: true,
      });

      // A's evidence on B's policy: evidence of another device than the policy's.
      expectOneError(
        await runTask("claim:check", { evidence: failing, policy: "2", amount: "1500" }),
        `the committee would reject this claim: the evidence is for another device, sensor schema, incident time or deployment (WRONG_DEVICE_OR_DEPLOYMENT: evidence is from device ${fx.keyA.address}, the policy insures ${fx.keyB.address})`,
        EXIT.REFUSED,
      );

      // The same signed readings without their anchors (triad.evidence/v1): refused as NOT_ANCHORED; claim:file refuses
      // to file it at all (the deposit would be lost).
      const v2 = parseEvidence(new Uint8Array(readFileSync(failing)));
      if (v2.schema !== EVIDENCE_SCHEMA_V2) expect.fail("evidence:build writes v2");
      const v1 = path.join(dir, "a.v1.json");
      writeFileSync(
        v1,
        serializeEvidence(
          buildEvidenceBundle({
            chainId: fx.chainId,
            registry: await fx.registry.getAddress(),
            incidentAt: fx.incidentAt,
            readings: [v2.before, ...v2.readings, v2.after].map((r) => ({
              device: v2.device,
              seq: BigInt(r.seq),
              timestamp: BigInt(r.timestamp),
              values: r.values.map(BigInt),
              signature: r.signature,
            })),
          }),
        ),
      );
      expectOneError(
        await runTask("claim:check", { evidence: v1, policy: "1", amount: "1500" }),
        /^the committee would reject this claim: a reading is not covered by an on-chain anchor \(NOT_ANCHORED: a triad\.evidence\/v1 bundle carries no anchors/,
        EXIT.REFUSED,
      );
      expectOneError(
        await runTask("claim:file", { policy: "1", amount: "1500", evidence: v1, evidenceUri: "https://evidence.example/v1", from: "1" }),
        `${v1} is a triad.evidence/v1 bundle (signed readings without anchors): the committee refuses it as NOT_ANCHORED, and the 10 tUSD deposit would be lost`,
        EXIT.REFUSED,
      );

      // What the contract would refuse, and bad input, before any assessment.
      expectOneError(
        await runTask("claim:check", { evidence: normal, policy: "2", amount: "999999" }),
        "filing this claim now would be refused: a claim on policy 2 must be more than 0 and at most its remaining coverage, 5000 tUSD, not 999999 tUSD",
        EXIT.REFUSED,
      );
      expectOneError(
        await runTask("claim:check", { evidence: failing, policy: "1", amount: "100" }),
        "a claim of 100 tUSD is within the 100 tUSD deductible of policy 1",
        EXIT.REFUSED,
      );
      expectOneError(await runTask("claim:check", { evidence: failing, policy: "99" }), "policy 99 does not exist", EXIT.NOT_FOUND);
      expectOneError(
        await runTask("claim:check", { evidence: path.join(dir, "absent.json"), policy: "1" }),
        "cannot read --evidence",
        EXIT.FAILED,
      );
    });

    it("evidence:build --dataset refuses, saying what is missing, when the dataset does not cover the window", async function () {
      const fx = await loadTaskFixture(incidentFixture);
      const dir = tempDir();
      const out = path.join(dir, "x.json");
      const build = (args: Record<string, unknown>) =>
        runTask("evidence:build", { dataset: fx.a.dataset, incidentAt: String(fx.incidentAt), out, ...args });
      expectOneError(
        await build({ incidentAt: String(fx.a.first + 60n) }),
        /^the device's first reading \(seq 0\) lies in the window \[\d+, \d+\] \(600 s before and 900 s after the incident at .*\): no reading before it can prove the window complete — choose a later --incident-at$/,
      );
      expectOneError(
        await build({ incidentAt: String(fx.a.first + 30n * 60n) }),
        /does not reach past the end of the window .*: it lacks seq 33, the reading just after seq 32 — anchor the readings after the window \(readings:anchor\) and add their dataset, or choose an earlier --incident-at$/,
      );
      expectOneError(
        await build({ incidentAt: String(fx.a.first + 86_400n) }),
        /holds no reading of 0x[0-9a-fA-F]{40} in the window .*: its readings run from .* \(seq 0\) to .* \(seq 32\)$/,
      );
      // A dataset missing readings: a gap inside the window, or nothing before it.
      const file = JSON.parse(readFileSync(fx.a.dataset, "utf8")) as ReadingDatasetFile;
      const without = (seqs: string[], name: string) => {
        const copy = structuredClone(file);
        copy.batches[0].readings = copy.batches[0].readings.filter((r) => !seqs.includes(r.seq));
        const p = path.join(dir, name);
        writeFileSync(p, JSON.stringify(copy));
        return p;
      };
      expectOneError(
        await build({ dataset: without(["9"], "gap.json") }),
        /lacks seq 9 of 0x[0-9a-fA-F]{40}, inside the window .*: the window cannot be proved complete \(the oracle would refuse it as INCOMPLETE_WINDOW\)$/,
      );
      expectOneError(
        await build({ dataset: without(["0", "1"], "late.json") }),
        /does not reach back past the window .*: it lacks seq 1, the reading just before seq 2 — add the dataset of the batch before it \(--dataset a\.json,b\.json\) or choose a later --incident-at$/,
      );
      // The readings of a window split over two files make one bundle.
      const head = without(
        Array.from({ length: 17 }, (_, i) => String(16 + i)),
        "head.json",
      );
      const tail = without(
        Array.from({ length: 16 }, (_, i) => String(i)),
        "tail.json",
      );
      expectSuccess(await build({ dataset: `${head},${tail}`, out: path.join(dir, "split.json") }));
      // A changed value: its signature no longer holds, the bundle would be refused.
      const tampered = structuredClone(file);
      tampered.batches[0].readings[12].values[3] = "65100";
      writeFileSync(path.join(dir, "tampered.json"), JSON.stringify(tampered));
      expectOneError(
        await build({ dataset: path.join(dir, "tampered.json") }),
        /^the bundle would be refused \(BAD_SIGNATURE\): evidence reading 10 is not signed by device /,
      );
      const otherChain = { ...structuredClone(file), chainId: 1 };
      writeFileSync(path.join(dir, "mainnet.json"), JSON.stringify(otherChain));
      expectOneError(
        await build({ dataset: path.join(dir, "mainnet.json") }),
        /holds readings signed for the registry .* of chain 1, but this deployment's is/,
      );
      expectOneError(await build({ dataset: path.join(dir, "absent.json") }), "cannot read --dataset", EXIT.FAILED);
      expectOneError(
        await build({ device: fx.keyB.address }),
        `holds no readings of device ${fx.keyB.address} (only of ${fx.keyA.address})`,
      );
      // The command line: exactly one source; --gateway names its device.
      expectOneError(
        await runTask("evidence:build", { incidentAt: "1", out }),
        "give either --gateway <url> (with --device) or --dataset <file>",
        EXIT.USAGE,
      );
      expectOneError(
        await runTask("evidence:build", { dataset: fx.a.dataset, gateway: "http://127.0.0.1:9", incidentAt: "1", out }),
        "give either --gateway",
        EXIT.USAGE,
      );
      expectOneError(
        await runTask("evidence:build", { gateway: "http://127.0.0.1:9", incidentAt: "1", out }),
        "--gateway needs --device",
        EXIT.USAGE,
      );
      expectOneError(await build({ incidentAt: "soon" }), '--incident-at must be a whole number, got "soon"');
      expect(existsSync(out)).to.equal(false);
      // Never over a file without --force.
      writeFileSync(out, "keep me\n");
      expectOneError(await build({}), `${out} already exists: move it away, choose another --out or pass --force`);
      expect(readFileSync(out, "utf8")).to.equal("keep me\n");
      expectSuccess(await build({ force: true }));
      expect(parseEvidence(new Uint8Array(readFileSync(out))).schema).to.equal(EVIDENCE_SCHEMA_V2);
    });
  });

  describe("from a gateway (its fleet anchors, for an owner that authorised it)", function () {
    let rpc: Awaited<ReturnType<typeof serveChainOverHttp>> | undefined;
    let gateway: Gateway | undefined;
    after(async function () {
      await gateway?.stop();
      await rpc?.close();
    });

    it("device:gateway authorises the gateway; evidence:build --gateway waits, saying why, until the window is anchored; claim:check approves its bundle", async function () {
      const fx = await loadTaskFixture(incidentFixture);
      const anchorKey = testWallet("evidence/gateway");
      const [admin] = await ethers.getSigners();
      await (await admin.sendTransaction({ to: anchorKey.address, value: ethers.parseEther("1") })).wait();

      // The owner of A (account 1) authorises the gateway's account; device:show and device:list show it.
      const owner = (await ethers.getSigners())[1].address;
      const authorised = expectSuccess(await runTask("device:gateway", { gateway: anchorKey.address, from: "1", json: true })).json;
      expect(authorised).to.include({ owner, gateway: anchorKey.address, authorised: true, changed: true });
      expect(expectSuccess(await runTask("device:gateway", { gateway: anchorKey.address, from: "1" })).stdout).to.equal(
        `Gateway ${anchorKey.address} is already authorised to anchor readings of the devices of ${owner}: nothing sent\n`,
      );
      const shown = expectSuccess(await runTask("device:show", { device: fx.keyA.address }));
      expect(shown.stdout).to.match(new RegExp(`\\n  gateways    ${anchorKey.address} \\(since \\S+Z \\(.*\\)\\)\\n`));
      expect(expectSuccess(await runTask("device:show", { device: fx.keyB.address })).stdout).to.contain(
        "  gateways    none: only the owner anchors its readings (device:gateway authorises a gateway)",
      );
      const listed = expectSuccess(await runTask("device:list", { from: "1", json: true })).json;
      expect(listed.devices[0].gateways.map((g: { gateway: string }) => g.gateway)).to.deep.equal([anchorKey.address]);
      expect(expectSuccess(await runTask("device:list", { from: "1" })).stdout).to.contain(
        `  gateways that may anchor their readings: ${anchorKey.address} (since`,
      );
      expectOneError(
        await runTask("device:gateway", { gateway: "0x0000000000000000000000000000000000000000", from: "1" }),
        "--gateway cannot be the zero address",
      );
      expectOneError(
        await runTask("device:gateway", { gateway: "gw", from: "1" }),
        '--gateway must be a 0x-prefixed 20-byte address, got "gw"',
      );

      // A real gateway on the chain's clock (the chain runs ahead of the wall clock in these tests), anchoring when told.
      rpc = await serveChainOverHttp();
      const offset = (await time.latest()) * 1000 - Date.now();
      const config = parseConfig({
        TRIAD_GATEWAY_RPC_URL: rpc.url,
        TRIAD_GATEWAY_REGISTRY_ADDRESS: await fx.registry.getAddress(),
        TRIAD_GATEWAY_MQTT_PORT: "0",
        TRIAD_GATEWAY_HTTP_PORT: "0",
        TRIAD_GATEWAY_DATABASE_URL: `sqlite:${path.join(tempDir("triad-evidence-gateway-"), "gateway.sqlite")}`,
        TRIAD_GATEWAY_REGISTRY_POLL_MS: "50",
        TRIAD_GATEWAY_PRIVATE_KEY: anchorKey.privateKey,
        TRIAD_GATEWAY_ANCHOR_INTERVAL_S: "3600", // rounds are driven by the test (tick)
        TRIAD_GATEWAY_MAX_CLOCK_SKEW_S: "7200",
        TRIAD_GATEWAY_LOG_LEVEL: "silent",
      });
      gateway = await startGateway(config, { now: () => Date.now() + offset });
      const gw = gateway;
      // The device sends the very readings it signed for the dataset (as its agent would have, over MQTT).
      const signed = parseReadingDataset(new Uint8Array(readFileSync(fx.a.dataset))).batches[0].readings.map((r) => r.reading);
      const topic = deviceTopic(gw.chainId, fx.keyA.address, "readings");
      const send = async (from: number, to: number) => {
        for (const reading of signed.slice(from, to)) {
          const outcome = await gw.pipeline.submit(topic, encodeWireReading(reading));
          expect(outcome, `seq ${reading.seq}`).to.include({ kind: "stored" });
        }
      };
      await send(0, 28); // up to the window's end: the reading after it (seq 28) has not come yet
      await gw.anchorer!.tick();

      const out = path.join(tempDir(), "gateway.evidence.json");
      const argv = ["evidence:build", "--gateway", gw.httpUrl, "--device", fx.keyA.address, "--incident-at", String(fx.incidentAt)];
      // Not anchored yet and no time to wait: one line saying what the gateway is waiting for.
      expectOneError(
        await runTask("evidence:build", {
          gateway: gw.httpUrl,
          device: fx.keyA.address,
          incidentAt: String(fx.incidentAt),
          out,
          timeout: "0",
        }),
        /^the gateway at http:\/\/127\.0\.0\.1:\d+ has not anchored the window's readings after 0 s: 0x[0-9a-fA-F]{40} has not reported a reading after the window \(after \d+\) yet: retry after .* \(wait longer with --timeout\)$/,
      );
      const waiting = triadWithProgress([...argv, "--out", out, "--timeout", "120"]);
      await new Promise((r) => setTimeout(r, 500));
      await send(28, 33); // the readings after the window arrive…
      const answered = (async () => {
        await new Promise((r) => setTimeout(r, 1500));
        await gw.anchorer!.tick(); // …and are anchored
      })();
      const run = await waiting;
      await answered;
      expect(run.exitCode, run.stdout + run.stderr).to.equal(0);
      expect(run.progress).to.match(/^ {2}waiting for the gateway: 0x[0-9a-fA-F]{40} has not reported a reading after the window/);
      expect(run.stdout).to.contain(
        "  26 readings (seq 2..27) from 600 s before to 900 s after the incident, with seq 1 just before and seq 28 just after them\n",
      );
      expect(run.stdout).to.contain(`fleet anchors of gateway ${anchorKey.address}`);
      const bytes = new Uint8Array(readFileSync(out));
      const bundle = parseEvidence(bytes);
      if (bundle.schema !== EVIDENCE_SCHEMA_V2) expect.fail("a gateway serves v2");
      for (const r of [bundle.before, ...bundle.readings, bundle.after])
        expect(r.anchor).to.include({ kind: "fleet", gateway: anchorKey.address });
      // The gateway's exact bytes.
      const served = await fetch(`${gw.httpUrl}/v1/devices/${fx.keyA.address}/evidence?incidentAt=${fx.incidentAt}&before=600&after=900`);
      expect(Buffer.from(await served.arrayBuffer()).equals(Buffer.from(bytes))).to.equal(true);

      const check = expectSuccess(await runTask("claim:check", { evidence: out, policy: "1", amount: "1500", json: true })).json;
      expect(check).to.include({ approved: true, reasonCode: 0 });
      // A revocation does not undo the anchors the gateway made while it was authorised.
      const revoked = expectSuccess(
        await runTask("device:gateway", { gateway: anchorKey.address, revoke: true, from: "1", json: true }),
      ).json;
      expect(revoked).to.include({ authorised: false, changed: true });
      expect(expectSuccess(await runTask("claim:check", { evidence: out, policy: "1", amount: "1500", json: true })).json).to.include({
        approved: true,
      });
      expect(expectSuccess(await runTask("device:show", { device: fx.keyA.address })).stdout).to.contain("  gateways    none");

      // What the gateway cannot serve: a device it never heard of, a gap it cannot prove complete, no gateway at all.
      expectOneError(
        await runTask("evidence:build", {
          gateway: gw.httpUrl,
          device: fx.keyB.address,
          incidentAt: String(fx.incidentAt),
          out,
          force: true,
        }),
        /^the gateway at .* has nothing to prove the window with: no readings of/,
        EXIT.NOT_FOUND,
      );
      const signedB = parseReadingDataset(new Uint8Array(readFileSync(fx.b.dataset))).batches[0].readings.map((r) => r.reading);
      const topicB = deviceTopic(gw.chainId, fx.keyB.address, "readings");
      for (const reading of signedB.filter((r) => r.seq !== 20n)) await gw.pipeline.submit(topicB, encodeWireReading(reading));
      expectOneError(
        await runTask("evidence:build", {
          gateway: gw.httpUrl,
          device: fx.keyB.address,
          incidentAt: String(fx.incidentAt),
          out,
          force: true,
        }),
        /^the gateway at .* cannot prove the window complete: reading seq 20 of 0x[0-9a-fA-F]{40} \(inside the window\) is not stored at this gateway/,
      );
      const closed = await new Promise<number>((resolve) => {
        const server = net.createServer();
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as net.AddressInfo;
          server.close(() => resolve(port));
        });
      });
      expectOneError(
        await runTask("evidence:build", {
          gateway: `http://127.0.0.1:${closed}`,
          device: fx.keyA.address,
          incidentAt: "1",
          out,
          force: true,
        }),
        `cannot reach the gateway at http://127.0.0.1:${closed}: ECONNREFUSED`,
        EXIT.NETWORK,
      );
      expectOneError(
        await runTask("evidence:build", { gateway: "gw.example", device: fx.keyA.address, incidentAt: "1", out, force: true }),
        '--gateway must be an http:// or https:// URL, got "gw.example"',
      );
    });
  });
});
