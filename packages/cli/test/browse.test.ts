import { expect } from "chai";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { connection, ethers, networkHelpers } from "@triad/devkit/network";
import { LOCAL_COMMITTEE_ACCOUNTS, failureRows, makeAnchoredBundle, normalRows, serveChainOverHttp } from "@triad/devkit";
import { buildVerdict, claimReasonCode, claimsDomain, formatTimestamp, signVerdict } from "@triad/sdk";
import { saveDeployment } from "@triad/sdk/node";
import type { Wallet } from "ethers";
import { runCli } from "../src/cli.ts";
import {
  EXIT,
  NETWORK,
  ai4iCsv,
  deployTriadForTasks,
  expectOneError,
  expectSuccess,
  loadTaskFixture,
  runTask,
  tempDir,
  testKey,
  testWallet,
  useTaskEnvironment,
  withDeploymentsDir,
  writeTempFile,
} from "./fixtures.ts";

/**
 * The browse commands (devices, anchored readings, listings, purchases, policies, claims, the pool position), the
 * guard rails (amounts that look like mistakes, self-purchase, overwrites, claims within the deductible), the
 * detection of a chain without the deployment, and progress output: in-process, against Hardhat's chain.
 */

const { time } = networkHelpers;
const UNIT = 10n ** 6n;
const DAY = 86_400;
/** Account indexes as `--from` takes them. */
const OWNER_A = "1";
const OWNER_B = "2";
const LP = "3";
const BUYER_KEY = testKey("browse/buyer-encryption-key");

/** Two devices (of accounts 1 and 2), capital in the pool, a policy on each, past the waiting period; evidence built. */
async function insuredFixture() {
  const base = await deployTriadForTasks();
  const keyA = testWallet("browse/device-a");
  const keyB = testWallet("browse/device-b");
  const keyC = testWallet("browse/device-c");
  expectSuccess(await runTask("device:register", { deviceKey: keyA.privateKey, from: OWNER_A }));
  expectSuccess(await runTask("device:register", { deviceKey: keyB.privateKey, from: OWNER_B }));
  expectSuccess(await runTask("device:register", { deviceKey: keyC.privateKey, from: OWNER_A }));
  expectSuccess(await runTask("pool:deposit", { amount: "100000", from: LP }));
  expectSuccess(await runTask("policy:buy", { device: keyA.address, coverage: "5000", days: "30", from: OWNER_A }));
  expectSuccess(await runTask("policy:buy", { device: keyB.address, coverage: "5000", days: "30", from: OWNER_B }));
  const dir = tempDir("triad-browse-");
  const csv = path.join(dir, "rows.csv");
  writeFileSync(csv, ai4iCsv(5));
  const anchored = expectSuccess(
    await runTask("readings:anchor", {
      deviceKey: keyA.privateKey,
      csv,
      out: path.join(dir, "a.readings.json"),
      from: OWNER_A,
      json: true,
    }),
  ).json;
  await time.increase(DAY + 1200); // past the waiting period, with the evidence's window after it
  // Anchored v2 evidence (its verdicts are signed by the tests, not assessed), fleet-anchored by each device's owner.
  const window = { beforeSeconds: 600, afterSeconds: 900 };
  const incidentAt = BigInt(await time.latest()) - BigInt(window.afterSeconds) - 120n;
  const evidence = async (key: Wallet, owner: (typeof base.signers)["seller"], name: string) => {
    const out = path.join(dir, name);
    const rows = [...normalRows(3), ...failureRows("PWF", 2)];
    const { bytes } = await makeAnchoredBundle({
      deviceKey: key,
      chainId: BigInt(base.chainId),
      anchorer: base.registry.connect(owner),
      rows,
      incidentAt,
      window,
      startSeq: 10n,
    });
    writeFileSync(out, bytes);
    return out;
  };
  return {
    ...base,
    keyA,
    keyB,
    keyC,
    dir,
    csv,
    root: anchored.root as string,
    dataset: anchored.readingsFile as string,
    firstReadingAt: BigInt(anchored.firstTimestamp),
    evidenceA: await evidence(keyA, base.signers.seller, "a.evidence.json"),
    evidenceB: await evidence(keyB, base.signers.buyer, "b.evidence.json"),
  };
}

/** {@link insuredFixture} with a claim on each policy (1: device A, 2: device B), filed with --evidence-uri. */
async function claimedFixture() {
  const base = await insuredFixture();
  const file = (policy: string, evidence: string, from: string) =>
    runTask("claim:file", { policy, amount: "1500", evidence, evidenceUri: `https://evidence.example/${policy}`, from, json: true });
  const a = expectSuccess(await file("1", base.evidenceA, OWNER_A)).json;
  const b = expectSuccess(await file("2", base.evidenceB, OWNER_B)).json;
  return { ...base, claimA: a.claimId as string, claimB: b.claimId as string };
}

/** Committee members 5 and 6 (threshold 2) decide a claim: approved with its amount, or rejected, at `scoreBps`. */
async function decide(fx: Awaited<ReturnType<typeof claimedFixture>>, claimId: bigint, approved: boolean, scoreBps: number) {
  const c = await fx.claims.getClaim(claimId);
  const verdict = buildVerdict(
    { claimId, amount: c.amount, evidenceHash: c.evidenceHash, assessmentDeadline: c.assessmentDeadline },
    // The verdict's reason: 0 for an approval, NO_FAILURE_DETECTED for the model's rejection (sdk claim-reasons.ts).
    { approved, scoreBps, reasonCode: approved ? 0 : claimReasonCode("NO_FAILURE_DETECTED") },
    fx.modelHash,
  );
  const signers = await ethers.getSigners();
  const domain = claimsDomain(fx.chainId, await fx.claims.getAddress());
  const signatures = await Promise.all(LOCAL_COMMITTEE_ACCOUNTS.slice(0, 2).map((i) => signVerdict(signers[i], domain, verdict)));
  await (await fx.claims.submitVerdict(verdict, signatures)).wait();
  return LOCAL_COMMITTEE_ACCOUNTS.slice(0, 2).map((i) => signers[i].address);
}

const lines = (stdout: string) => stdout.trimEnd().split("\n");

describe("browsing, guard rails and the network", function () {
  useTaskEnvironment();

  describe("claims: honest before and after the verdict and the settlement", function () {
    it("claim:show before a verdict: the payout after the deductible if approved, the deposit at stake, the deadline", async function () {
      const fx = await loadTaskFixture(claimedFixture);
      const run = expectSuccess(await runTask("claim:show", { claim: fx.claimA }));
      const c = await fx.claims.getClaim(BigInt(fx.claimA));
      const now = (await ethers.provider.getBlock("latest"))!.timestamp;
      expect(lines(run.stdout)).to.include.members([
        `Claim #${fx.claimA} on policy #1 (device ${fx.keyA.address}): Filed`,
        `  no verdict yet: the committee must decide by ${formatTimestamp(c.assessmentDeadline, now)}`,
        "  pays 1400 tUSD if approved in full (1500 tUSD minus the 100 tUSD deductible)",
        "  deposit 10 tUSD: refunded at settlement unless the claim ends rejected, then it goes to the pool",
      ]);
      const json = expectSuccess(await runTask("claim:show", { claim: fx.claimA, json: true })).json;
      expect(json).to.include({ status: "Filed", approved: null, expectedPayout: (1400n * UNIT).toString(), payoutIfApproved: true });
      expect(json.deposit).to.equal((10n * UNIT).toString());
    });

    it("after the verdicts: who decided, why, the signers, the payout after the deductible; after settlement what was paid or lost", async function () {
      const fx = await loadTaskFixture(claimedFixture);
      const members = await decide(fx, BigInt(fx.claimA), true, 9_000);
      await decide(fx, BigInt(fx.claimB), false, 1_200);

      const approved = expectSuccess(await runTask("claim:show", { claim: fx.claimA }));
      expect(approved.stdout).to.contain(
        "  APPROVED by the committee: the model found a failure in the anchored telemetry around the incident (score 90 %)",
      );
      expect(approved.stdout).to.contain(`signed by ${members.join(", ")}`);
      expect(approved.stdout).to.contain("  pays 1400 tUSD at settlement (1500 tUSD approved minus the 100 tUSD deductible)");
      expect(approved.stdout).to.match(/appeal window open until \S+Z \(in 2 days\); claim:settle pays it out after that/);

      const rejected = expectSuccess(await runTask("claim:show", { claim: fx.claimB, json: true })).json;
      expect(rejected).to.include({ status: "Rejected", approved: false, decidedBy: "committee", expectedPayout: "0" });
      expect(rejected.reason).to.equal("the model found no failure in the telemetry around the incident (score 12 %)");
      expect(rejected.signers).to.deep.equal(members);

      // Settling too early is refused with the date, and nothing is sent.
      expectOneError(
        await runTask("claim:settle", { claim: fx.claimA }),
        new RegExp(`^claim ${fx.claimA} can be settled once its appeal window closes, at \\S+Z \\(in 2 days\\) \\(chain time\\)$`),
        EXIT.REFUSED,
      );
      await time.increase(2 * DAY + 1);
      expectSuccess(await runTask("claim:settle", { claim: fx.claimA }));
      expectSuccess(await runTask("claim:settle", { claim: fx.claimB }));
      const paid = expectSuccess(await runTask("claim:show", { claim: fx.claimA }));
      expect(paid.stdout).to.contain(
        `settled: 1400 tUSD paid to ${fx.signers.seller.address} (payout minus the 100 tUSD deductible), deposit of 10 tUSD refunded`,
      );
      const lost = expectSuccess(await runTask("claim:show", { claim: fx.claimB }));
      expect(lost.stdout).to.contain("deposit of 10 tUSD lost (the claim ended rejected: it went to the pool)");
      expectOneError(await runTask("claim:settle", { claim: fx.claimA }), `claim ${fx.claimA} is settled already (Paid)`, EXIT.REFUSED);
      expectOneError(await runTask("claim:show", { claim: "99" }), "claim 99 does not exist", EXIT.NOT_FOUND);
      expectOneError(await runTask("claim:settle", { claim: "99" }), "claim 99 does not exist", EXIT.NOT_FOUND);
    });

    it("claim:list: mine by default, everyone's with --all, by status; policy:list and policy:show", async function () {
      const fx = await loadTaskFixture(claimedFixture);
      await decide(fx, BigInt(fx.claimB), false, 500);
      const mine = expectSuccess(await runTask("claim:list", { from: OWNER_A, json: true })).json;
      expect(mine.claims.map((c: { claimId: string }) => c.claimId)).to.deep.equal([fx.claimA]);
      const all = expectSuccess(await runTask("claim:list", { all: true, json: true })).json;
      expect(all.claims.map((c: { claimId: string }) => c.claimId)).to.deep.equal([fx.claimA, fx.claimB]);
      const rejected = expectSuccess(await runTask("claim:list", { all: true, status: "rejected" }));
      expect(lines(rejected.stdout)[0]).to.equal("1 claim (Rejected):");
      expect(rejected.stdout).to.contain(
        `#${fx.claimB}  Rejected  policy #2  1500 tUSD claimed  REJECTED by the committee (score 5 %, 2 signers)`,
      );
      expect(rejected.stdout).to.match(
        /\n {6}the model found no failure in the telemetry around the incident \(score 5 %\); pays 0 tUSD at settlement \(after the 100 tUSD deductible\); deposit 10 tUSD at stake, settle from \S+Z \(in 2 days\)\n/,
      );
      expect(all.claims[0]).to.include({
        status: "Filed",
        expectedPayout: (1400n * UNIT).toString(),
        payoutIfApproved: true,
        reason: null,
      });
      expectOneError(await runTask("claim:list", { status: "Lost" }), "--status must be one or more of Filed, Approved", EXIT.FAILED);
      const why = expectSuccess(await runTask("claim:show", { claim: fx.claimB, json: true })).json;
      expect(why.reason).to.equal("the model found no failure in the telemetry around the incident (score 5 %)");

      const policies = expectSuccess(await runTask("policy:list", { from: OWNER_A, json: true })).json;
      expect(policies.policies.map((p: { policyId: string; device: string }) => [p.policyId, p.device])).to.deep.equal([
        ["1", fx.keyA.address],
      ]);
      const shown = expectSuccess(await runTask("policy:show", { policy: "1" }));
      expect(lines(shown.stdout)).to.include.members([
        `Policy #1 on device ${fx.keyA.address} (product 1), held by ${fx.signers.seller.address}`,
        "  5000 tUSD of cover, 0 tUSD paid out, 5000 tUSD left; premium 20.547946 tUSD",
      ]);
      expect(shown.stdout).to.contain(`claim #${fx.claimA} in progress`);
      expectOneError(await runTask("policy:show", { policy: "99" }), "policy 99 does not exist", EXIT.NOT_FOUND);
    });
  });

  describe("devices, readings, the pool", function () {
    it("device:list (mine, by owner, all) and readings:list (anchored batches with seq ranges)", async function () {
      const fx = await loadTaskFixture(insuredFixture);
      const mine = expectSuccess(await runTask("device:list", { from: OWNER_A, json: true })).json;
      expect(mine.devices.map((d: { device: string }) => d.device)).to.deep.equal([fx.keyA.address, fx.keyC.address]);
      const theirs = expectSuccess(await runTask("device:list", { owner: fx.signers.buyer.address }));
      expect(lines(theirs.stdout)[0]).to.equal(`1 device owned by ${fx.signers.buyer.address}:`);
      expect(theirs.stdout).to.contain(`  ${fx.keyB.address}  Active, ai4i-2020/v1, next seq 0`);
      expect(expectSuccess(await runTask("device:list", { all: true, json: true })).json.devices).to.have.length(3);

      const readings = expectSuccess(await runTask("readings:list", { device: fx.keyA.address }));
      expect(lines(readings.stdout)[0]).to.equal(`Device ${fx.keyA.address}: 5 readings in 1 anchored batch, next seq 5`);
      expect(readings.stdout).to.contain(`seq 0..4 (5)  root ${fx.root}`);
      expect(expectSuccess(await runTask("readings:list", { device: fx.keyB.address })).stdout).to.contain("has anchored no readings yet");
      const unknown = testWallet("browse/unknown").address;
      expectOneError(await runTask("readings:list", { device: unknown }), `device ${unknown} is not registered`, EXIT.NOT_FOUND);
    });

    it("pool:show prints shares as shares with their value in tokens", async function () {
      await loadTaskFixture(insuredFixture);
      const run = expectSuccess(await runTask("pool:show", { from: LP }));
      const [lp] = (await ethers.getSigners()).slice(3);
      expect(run.stdout).to.match(new RegExp(`  ${lp.address}: 100000 shares, worth 1000\\d\\d(\\.\\d+)? tUSD\\n`));
      expect(run.stdout).not.to.match(/\d{15,} /);
    });
  });

  describe("the marketplace", function () {
    async function listedMarket() {
      const fx = await insuredFixture();
      const data = writeTempFile("dataset.csv", ai4iCsv(20));
      const stream = writeTempFile("stream.json", '{"every":"60s"}');
      expectSuccess(
        await runTask("market:list", {
          kind: "dataset",
          price: "25",
          file: data,
          devices: fx.keyA.address,
          anchors: fx.root,
          from: OWNER_A,
        }),
      );
      expectSuccess(
        await runTask("market:list", {
          kind: "stream",
          price: "4",
          periodDays: "30",
          file: stream,
          devices: fx.keyB.address,
          from: OWNER_B,
        }),
      );
      return { ...fx, data, stream };
    }

    it("market:listings filters by kind, device, seller and price; market:show has the devices and anchors", async function () {
      const fx = await loadTaskFixture(listedMarket);
      const ids = async (args: Record<string, unknown>) =>
        expectSuccess(await runTask("market:listings", { ...args, json: true })).json.listings.map(
          (l: { listingId: string }) => l.listingId,
        );
      expect(await ids({})).to.deep.equal(["1", "2"]);
      expect(await ids({ kind: "stream" })).to.deep.equal(["2"]);
      expect(await ids({ device: fx.keyA.address })).to.deep.equal(["1"]);
      expect(await ids({ seller: fx.signers.buyer.address })).to.deep.equal(["2"]);
      expect(await ids({ maxPrice: "5" })).to.deep.equal(["2"]);
      expect(await ids({ minPrice: "5" })).to.deep.equal(["1"]);
      const human = expectSuccess(await runTask("market:listings", {}));
      expect(human.stdout).to.contain("  #2  stream  4 tUSD per 30 days  1 device  seller");
      expectOneError(await runTask("market:listings", { kind: "movie" }), '--kind must be one of dataset, stream, model, got "movie"');

      const shown = expectSuccess(await runTask("market:show", { listing: "1" }));
      expect(lines(shown.stdout)[0]).to.equal("Listing #1: dataset, Active, 25 tUSD");
      expect(shown.stdout).to.contain(`    ${fx.keyA.address}  Active, ai4i-2020/v1, owner ${fx.signers.seller.address}`);
      expect(shown.stdout).to.contain(`    ${fx.root}  device ${fx.keyA.address}, seq 0..4 (5), anchored `);
      expectOneError(await runTask("market:show", { listing: "99" }), "listing 99 does not exist", EXIT.NOT_FOUND);
    });

    it("market:purchases as buyer and as seller; no self-purchase", async function () {
      const fx = await loadTaskFixture(listedMarket);
      expectOneError(
        await runTask("market:buy", { listing: "1", buyerKey: BUYER_KEY, from: OWNER_A }),
        "you are the seller of listing 1",
        EXIT.REFUSED,
      );
      expectSuccess(await runTask("market:buy", { listing: "1", buyerKey: BUYER_KEY, from: LP }));
      const bought = expectSuccess(await runTask("market:purchases", { from: LP }));
      expect(lines(bought.stdout)[0]).to.equal(`1 purchase made by ${(await ethers.getSigners())[3].address}:`);
      expect(bought.stdout).to.match(/#1 {2}listing #1 \(dataset\) {2}25 tUSD {2}Pending — delivery due \S+Z \(in 1 day\)/);
      const sold = expectSuccess(await runTask("market:purchases", { asSeller: true, from: OWNER_A, json: true })).json;
      expect(sold.purchases.map((p: { purchaseId: string; status: string }) => [p.purchaseId, p.status])).to.deep.equal([["1", "Pending"]]);
      expect(expectSuccess(await runTask("market:purchases", { from: OWNER_B })).stdout).to.equal(
        `No purchases made by ${fx.signers.buyer.address}\n`,
      );
    });
  });

  describe("efficiency", function () {
    /** A JSON-RPC proxy in front of the in-process chain that counts HTTP round trips and the calls in them. */
    async function countingProxy() {
      const rpc = await serveChainOverHttp();
      const counts = { requests: 0, calls: 0, getLogs: 0 };
      const server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", async () => {
          const body = Buffer.concat(chunks).toString("utf8");
          const parsed = JSON.parse(body) as { method: string } | { method: string }[];
          const calls = Array.isArray(parsed) ? parsed : [parsed];
          counts.requests++;
          counts.calls += calls.length;
          counts.getLogs += calls.filter((c) => c.method === "eth_getLogs").length;
          const answer = await fetch(rpc.url, { method: "POST", headers: { "content-type": "application/json" }, body });
          res.writeHead(200, { "content-type": "application/json" }).end(await answer.text());
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const close = async () => {
        await new Promise((resolve) => server.close(resolve));
        server.closeAllConnections();
        await rpc.close();
      };
      return { url, counts, close };
    }

    it("browse commands take as many round trips for twelve items as for two (paged log queries, batched views)", async function () {
      const fx = await loadTaskFixture(insuredFixture);
      const proxy = await countingProxy();
      try {
        const measure = async (argv: string[]) => {
          Object.assign(proxy.counts, { requests: 0, calls: 0, getLogs: 0 });
          let stdout = "";
          const code = await runCli([...argv, "--rpc-url", proxy.url, "--json"], {
            stdout: { write: (x: string) => void (stdout += x) },
            stderr: { write: () => undefined },
          });
          expect(code, stdout).to.equal(0);
          return { ...proxy.counts, items: (Object.values(JSON.parse(stdout)).find(Array.isArray) as unknown[]).length };
        };
        const list = async (n: number) => {
          for (let i = 0; i < n; i++) {
            const file = writeTempFile(`item-${n}-${i}.csv`, ai4iCsv(2 + i));
            expectSuccess(await runTask("market:list", { kind: "dataset", price: "3", file, devices: fx.keyA.address, from: OWNER_A }));
          }
        };
        await list(2);
        const two = await measure(["market:listings"]);
        await list(10);
        const twelve = await measure(["market:listings"]);
        expect([two.items, twelve.items]).to.deep.equal([2, 12]);
        expect(twelve.requests, "HTTP round trips").to.equal(two.requests);
        expect(twelve.getLogs, "log queries").to.equal(two.getLogs);
        expect(twelve.calls - two.calls, "one view call per listing, in the same batch").to.equal(10);
      } finally {
        await proxy.close();
      }
    });
  });

  describe("guard rails: nothing is sent", function () {
    it("policy:buy: a tiny cover needs --yes, the contract's rules are checked first, a device that is not yours or not registered", async function () {
      const fx = await loadTaskFixture(insuredFixture);
      const [, owner] = await ethers.getSigners();
      const nonce = await ethers.provider.getTransactionCount(owner.address);
      const buy = (args: Record<string, unknown>) => runTask("policy:buy", { device: fx.keyC.address, days: "30", from: OWNER_A, ...args });
      expectOneError(
        await buy({ coverage: "150" }),
        "a policy of 150 tUSD cover pays at most 50 tUSD per claim after the product's 100 tUSD deductible, and while it runs (30 days) the device can hold no other policy: pass --yes if you mean it",
      );
      expect(JSON.parse((await buy({ coverage: "150", json: true })).stdout).error.code).to.equal("NEEDS_CONFIRMATION");
      expectOneError(
        await buy({ coverage: "0.000001" }),
        "coverage of 0.000001 tUSD does not exceed the product's deductible of 100 tUSD: the policy could never pay",
        EXIT.REFUSED,
      );
      expectOneError(await buy({ coverage: "1e40" }), "--coverage 1e40 is above the largest coverage, 3.4e32 tUSD");
      expectOneError(
        await buy({ coverage: "5000", from: OWNER_B }),
        `device ${fx.keyC.address} is owned by ${owner.address}, not by you`,
        EXIT.REFUSED,
      );
      const unknown = testWallet("browse/unregistered").address;
      expectOneError(await buy({ coverage: "5000", device: unknown }), `device ${unknown} is not registered`, EXIT.NOT_FOUND);
      expectOneError(
        await buy({ coverage: "5000", device: fx.keyA.address }),
        new RegExp(
          `^device ${fx.keyA.address} is already covered by another policy until \\S+Z \\(in \\d+(\\.\\d)? days\\): a device holds one policy at a time$`,
        ),
        EXIT.REFUSED,
      );
      expectOneError(
        await buy({ coverage: "5000", days: "3" }),
        "a policy of 3 days is outside the product's terms: from 7 days to 365 days",
        EXIT.REFUSED,
      );
      expect(await ethers.provider.getTransactionCount(owner.address), "no transaction, no approval").to.equal(nonce);
      expectSuccess(await buy({ coverage: "150", yes: true }));
    });

    it("claim:file: within the deductible or above the cover is refused with the reason, before publishing or sending", async function () {
      const fx = await loadTaskFixture(insuredFixture);
      const [, owner] = await ethers.getSigners();
      const nonce = await ethers.provider.getTransactionCount(owner.address);
      const file = (amount: string, more: Record<string, unknown> = {}) =>
        runTask("claim:file", { policy: "1", amount, evidence: fx.evidenceA, store: "http://127.0.0.1:9", from: OWNER_A, ...more });
      expectOneError(
        await file("100"),
        "a claim of 100 tUSD is within the 100 tUSD deductible of policy 1: even approved it would pay nothing, and a rejection would cost the 10 tUSD deposit",
        EXIT.REFUSED,
      );
      expectOneError(
        await file("999999"),
        "a claim on policy 1 must be more than 0 and at most its remaining coverage, 5000 tUSD, not 999999 tUSD",
        EXIT.REFUSED,
      );
      expectOneError(await file("1500", { from: OWNER_B }), "policy 1 is held by", EXIT.REFUSED);
      expectOneError(await file("1500", { policy: "99" }), "policy 99 does not exist", EXIT.NOT_FOUND);
      expectOneError(await file("1500", { store: "notaurl" }), '--store must be an http:// or https:// URL, got "notaurl"');
      // A valid claim with no store listening: the store is named as unreachable (the network class), nothing sent.
      expectOneError(await file("1500"), "cannot reach the evidence store at http://127.0.0.1:9/evidence", EXIT.NETWORK);
      expect(await ethers.provider.getTransactionCount(owner.address)).to.equal(nonce);
    });

    it("market:list: a huge price names the option and its limit, a price below one token needs --yes", async function () {
      const fx = await loadTaskFixture(insuredFixture);
      const file = writeTempFile("cheap.csv", ai4iCsv(3));
      const list = (price: string, more: Record<string, unknown> = {}) =>
        runTask("market:list", { kind: "dataset", price, file, devices: fx.keyA.address, from: OWNER_A, ...more });
      expectOneError(await list("1e40"), "--price 1e40 is above the largest price, 3.4e32 tUSD");
      expectOneError(await list("0.5"), "--price 0.5 is less than 1 tUSD: pass --yes if you mean it");
      expect(existsSync(`${file}.key`)).to.equal(false);
      expectSuccess(await list("0.5", { yes: true }));
    });

    it("files are never overwritten without --force: evidence:build --out and market:access --out", async function () {
      const fx = await loadTaskFixture(insuredFixture);
      const before = readFileSync(fx.evidenceA, "utf8");
      // The anchored readings (one a minute) around the third, in a window of 30 s either side of it.
      const build = { dataset: fx.dataset, incidentAt: String(fx.firstReadingAt + 120n), windowBefore: "30", windowAfter: "30" };
      expectOneError(
        await runTask("evidence:build", { ...build, out: fx.evidenceA }),
        `${fx.evidenceA} already exists: move it away, choose another --out or pass --force`,
      );
      expect(readFileSync(fx.evidenceA, "utf8")).to.equal(before);
      expectSuccess(await runTask("evidence:build", { ...build, out: fx.evidenceA, force: true }));
      expect(readFileSync(fx.evidenceA, "utf8")).not.to.equal(before);

      const data = writeTempFile("sold.csv", ai4iCsv(4));
      expectSuccess(await runTask("market:list", { kind: "dataset", price: "5", file: data, devices: fx.keyA.address, from: OWNER_A }));
      expectSuccess(await runTask("market:buy", { listing: "1", buyerKey: BUYER_KEY, from: LP }));
      expectSuccess(await runTask("market:deliver", { purchase: "1", keyFile: `${data}.key`, from: OWNER_A }));
      const out = writeTempFile("mine.csv", "precious\n");
      const access = { listing: "1", purchase: "1", buyerKey: BUYER_KEY, encryptedFile: `${data}.trd`, out, from: LP };
      expectOneError(await runTask("market:access", access), `${out} already exists`);
      expect(readFileSync(out, "utf8")).to.equal("precious\n");
      expectSuccess(await runTask("market:access", { ...access, force: true }));
      expect(readFileSync(out, "utf8")).to.equal(ai4iCsv(4));
      expectOneError(
        await runTask("market:access", { ...access, purchase: "99", force: true }),
        "purchase 99 does not exist",
        EXIT.NOT_FOUND,
      );
    });

    it("pool: withdrawing without shares or a request says exactly that", async function () {
      await loadTaskFixture(insuredFixture);
      expectOneError(await runTask("pool:request-withdrawal", { all: true, from: "4" }), "you hold no pool shares", EXIT.REFUSED);
      expectOneError(await runTask("pool:claim-withdrawal", { from: "4" }), "you have no withdrawal request", EXIT.REFUSED);
      expectOneError(
        await runTask("pool:deposit", { amount: "1e12", from: LP }),
        /^you hold \d+(\.\d+)? tUSD: this deposit needs 1000000000000 tUSD$/,
        EXIT.REFUSED,
      );
    });
  });

  describe("the network", function () {
    it("a record whose contracts are not on this chain (a restarted node) is named, and chain:advance refuses such a chain", async function () {
      const { record } = await loadTaskFixture(deployTriadForTasks);
      const dir = tempDir();
      const stale = { ...record, contracts: { ...record.contracts, DeviceRegistry: testWallet("browse/no-code").address } };
      saveDeployment(stale, dir);
      await withDeploymentsDir(dir, async () => {
        const message = expectOneError(await runTask("device:show", { device: testWallet("x").address }), "", EXIT.NETWORK);
        expect(message).to.equal(
          `the deployment record of chain 31337 names DeviceRegistry at ${stale.contracts.DeviceRegistry}, but the node at ${NETWORK} has no contract there: the chain was reset since that deployment (a restarted local node keeps nothing) or the record is another chain's — deploy again with npm run deploy -- --network localhost`,
        );
      });
      const before = await ethers.provider.getBlockNumber();
      await withDeploymentsDir(tempDir(), async () => {
        const run = await runTask("chain:advance", { seconds: "60", json: true });
        expectOneError(
          run,
          "chain:advance would move the clock of a chain with no Triad deployment: no Triad deployment is recorded for chain 31337",
          EXIT.NETWORK,
        );
        expect(JSON.parse(run.stdout).error.code).to.equal("NO_DEPLOYMENT");
      });
      expect(await ethers.provider.getBlockNumber(), "no block mined").to.equal(before);
    });
  });

  describe("progress", function () {
    it("a slow step says what it waits for, then how long it took (on a terminal; never with --json)", async function () {
      const fx = await loadTaskFixture(insuredFixture);
      const run = async (argv: string[]) => {
        let stdout = "";
        let progress = "";
        const provider = new ethers.BrowserProvider(connection.provider, undefined, { cacheTimeout: -1 });
        const code = await runCli(argv, {
          provider,
          network: NETWORK,
          stdout: { write: (s: string) => void (stdout += s) },
          stderr: { write: () => undefined },
          progress: { write: (s: string) => void (progress += s), afterMs: 0 },
        });
        provider.destroy();
        return { code, stdout, progress };
      };
      const human = await run(["policy:buy", "--device", fx.keyC.address, "--coverage", "5000", "--days", "30", "--from", OWNER_A]);
      expect(human.code).to.equal(0);
      expect(human.progress).to.match(/^Buying the policy…\n {2}done in \d+\.\d s\n$/);
      const json = await run(["device:list", "--all", "--json"]);
      expect(json.code).to.equal(0);
      expect(json.progress).to.equal("");
    });
  });
});
