import { expect } from "chai";
import { Wallet, id, type TransactionReceipt } from "ethers";
import pino from "pino";
import { ethers, networkHelpers } from "@triad/devkit/network";
import { buildRejectionVerdict, claimReasonCode, claimsDomain, signVerdict } from "@triad/sdk";
import { deployOracleFixture, oracleFor, normalRows, persistingFailureRows, testConfig } from "@triad/devkit";
import { createOracle } from "../src/daemon.ts";
import { classifyRpcError, createRpc } from "../src/chain.ts";
import { startEvidenceServer } from "../src/evidence-server.ts";
import { counterValue, createMetrics } from "../src/metrics.ts";
import { OutOfFundsError } from "../src/daemon/submit.ts";
import { bumpFees, estimateFees } from "../src/tx/fees.ts";
import { TxManagerClosedError, createTxManager } from "../src/tx/manager.ts";

const { loadFixture } = networkHelpers;
const log = pino({ level: "silent" });
const ETH = 10n ** 18n;
const hex = (n: bigint) => `0x${n.toString(16)}`;
const send = (method: string, params: unknown[] = []) => ethers.provider.send(method, params);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A funded key of its own per test (its nonces are nobody else's). */
async function fundedWallet(seed: string, balance = ETH): Promise<Wallet> {
  const wallet = new Wallet(id(`triad/test/oracle/tx/${seed}`), ethers.provider);
  await send("hardhat_setBalance", [wallet.address, hex(balance)]);
  return wallet;
}

function manager(wallet: Wallet, overrides: Partial<Parameters<typeof createTxManager>[0]["config"]> = {}) {
  const metrics = createMetrics();
  const tx = createTxManager({
    provider: ethers.provider,
    signer: wallet,
    rpc: createRpc({ retries: 1, baseMs: 10, timeoutMs: 5000, metrics }),
    metrics,
    log,
    config: { txReplaceAfterMs: 300, txFeeBumpPercent: 25, txMaxFeeGwei: 1000, pollIntervalMs: 50, ...overrides },
  });
  return { tx, metrics };
}

/** A plain transaction (a call with data to an account: 21,000 gas + calldata). */
const request = (tag: string) => ({ to: new Wallet(id(`triad/test/oracle/tx/to/${tag}`)).address, data: id(tag), gasLimit: 30_000n });

async function until(condition: () => boolean | Promise<boolean>, what: string, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await condition()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Hashes in the node's pending block. */
async function pendingHashes(): Promise<string[]> {
  const block = (await send("eth_getBlockByNumber", ["pending", false])) as { transactions: string[] };
  return block.transactions;
}

/**
 * With automine off, mines a block every 50 ms (with `beforeMine` first) until `p` settles; automine is back on
 * afterwards whatever happens.
 */
async function mineUntil<T>(p: Promise<T>, beforeMine?: () => Promise<void>, maxBlocks = 400): Promise<T> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < maxBlocks && !settled; i++) {
    await beforeMine?.();
    await send("evm_mine");
    await sleep(50);
  }
  if (!settled) throw new Error(`not mined after ${maxBlocks} blocks`);
  return p;
}

async function withAutomineOff<T>(fn: () => Promise<T>): Promise<T> {
  await send("evm_setAutomine", [false]);
  try {
    return await fn();
  } finally {
    await send("evm_setAutomine", [true]);
    await send("evm_mine");
  }
}

describe("oracle: transaction manager on a real chain", function () {
  this.timeout(120_000);

  it("prices EIP-1559 fees from the fee history: 2 × next base fee + tip; a bump raises both by the step, up to the cap", async function () {
    const metrics = createMetrics();
    const rpc = createRpc({ retries: 0, baseMs: 10, metrics });
    const fees = await estimateFees({ provider: ethers.provider, rpc }, 1000n * 10n ** 9n);
    const block = await ethers.provider.getBlock("latest");
    expect(fees.type).to.equal(2);
    if (fees.type !== 2) return;
    expect(fees.maxPriorityFeePerGas > 0n).to.equal(true);
    const history = (await send("eth_feeHistory", ["0x1", "latest", [50]])) as { baseFeePerGas: string[] };
    const nextBase = BigInt(history.baseFeePerGas.at(-1)!);
    expect(nextBase <= block!.baseFeePerGas! * 2n).to.equal(true);
    expect(fees.maxFeePerGas).to.equal(2n * nextBase + fees.maxPriorityFeePerGas);

    const { fees: bumped, capped } = bumpFees(fees, fees, 25, 10n ** 15n);
    expect(capped).to.equal(false);
    if (bumped.type !== 2) return;
    expect(bumped.maxFeePerGas >= (fees.maxFeePerGas * 125n) / 100n).to.equal(true);
    expect(bumped.maxPriorityFeePerGas >= (fees.maxPriorityFeePerGas * 125n) / 100n).to.equal(true);
    // At the cap the node would refuse the replacement as underpriced: the caller re-broadcasts instead.
    expect(bumpFees(fees, fees, 25, fees.maxFeePerGas).capped).to.equal(true);
  });

  it("falls back to the node's gas price on a chain without a base fee, and sends legacy transactions there", async function () {
    const w = await fundedWallet("legacy");
    const base = (await ethers.provider.getBlock("latest"))!.baseFeePerGas!;
    try {
      await send("hardhat_setNextBlockBaseFeePerGas", ["0x0"]);
      await send("evm_mine");
      const rpc = createRpc({ retries: 0, baseMs: 10 });
      const fees = await estimateFees({ provider: ethers.provider, rpc }, 1000n * 10n ** 9n);
      expect(fees).to.deep.equal({ type: 0, gasPrice: BigInt(await send("eth_gasPrice")) });
      const { tx } = manager(w);
      const receipt = await tx.send(request("legacy"));
      expect((await ethers.provider.getTransaction(receipt.hash))!.type).to.equal(0);
    } finally {
      await send("hardhat_setNextBlockBaseFeePerGas", [hex(base)]);
      await send("evm_mine");
    }
  });

  it("the in-process node's own error wordings are classified by meaning", async function () {
    const poor = await fundedWallet("poor", 1n);
    const to = request("x").to;
    const noMoney = await poor.sendTransaction({ to, gasLimit: 21_000n }).catch((e: unknown) => e);
    expect(classifyRpcError(noMoney), String(noMoney)).to.equal("funds");

    const w = await fundedWallet("wordings");
    await (await w.sendTransaction({ to, gasLimit: 21_000n })).wait();
    const used = await w.sendTransaction({ to, gasLimit: 21_000n, nonce: 0 }).catch((e: unknown) => e);
    expect(classifyRpcError(used), String(used)).to.equal("nonce");

    await withAutomineOff(async () => {
      const fees = { maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n };
      const first = await w.sendTransaction({ to, gasLimit: 21_000n, ...fees });
      const again = await w
        .sendTransaction({ to, gasLimit: 21_000n, nonce: first.nonce, ...fees, maxPriorityFeePerGas: fees.maxPriorityFeePerGas + 1n })
        .catch((e: unknown) => e);
      expect(classifyRpcError(again), String(again)).to.equal("underpriced");
    });
  });

  it("a dropped transaction is re-broadcast unchanged and mined", async function () {
    const w = await fundedWallet("dropped");
    const { tx, metrics } = manager(w, { txReplaceAfterMs: 1000 });
    const receipt = await withAutomineOff(async () => {
      const sending = tx.send(request("dropped"));
      await until(async () => (await pendingHashes()).length === 1, "the transaction in the pool");
      const [hash] = await pendingHashes();
      expect(tx.pendingCount()).to.equal(1);
      expect(await send("hardhat_dropTransaction", [hash])).to.equal(true);
      expect(await pendingHashes()).to.deep.equal([]);
      // Nothing to mine until the manager notices the drop and sends the same transaction again.
      await until(async () => (await pendingHashes()).length === 1, "the re-broadcast");
      expect(await pendingHashes()).to.deep.equal([hash]);
      const r = await mineUntil(sending);
      expect(r.hash).to.equal(hash);
      return r;
    });
    expect(receipt.status).to.equal(1);
    expect(await counterValue(metrics.txRebroadcasts)).to.be.greaterThan(0);
    expect(await counterValue(metrics.txReplacements)).to.equal(0);
    expect(tx.pendingCount()).to.equal(0);
    expect(tx.oldestPendingAgeMs()).to.equal(undefined);
  });

  it("a transaction underpriced by a base-fee spike is replaced with bumped fees and mined exactly once", async function () {
    const w = await fundedWallet("spike");
    const { tx, metrics } = manager(w, { txReplaceAfterMs: 300 });
    const nonceBefore = await ethers.provider.getTransactionCount(w.address);
    const receipt = await withAutomineOff(async () => {
      const sending = tx.send(request("spike"));
      await until(async () => (await pendingHashes()).length === 1, "the transaction in the pool");
      const [first] = await pendingHashes();
      const sent = await ethers.provider.getTransaction(first);
      const spike = sent!.maxFeePerGas! * 3n;
      // Every block's base fee is held at three times the transaction's max fee: only replacements can get in.
      const r = await mineUntil(sending, async () => {
        await send("hardhat_setNextBlockBaseFeePerGas", [hex(spike)]);
      });
      expect(r.hash).to.not.equal(first);
      const mined = await ethers.provider.getTransaction(r.hash);
      expect(mined!.nonce).to.equal(sent!.nonce);
      expect(mined!.maxFeePerGas! >= spike).to.equal(true);
      expect(mined!.maxPriorityFeePerGas! > sent!.maxPriorityFeePerGas!).to.equal(true);
      expect(await ethers.provider.getTransactionReceipt(first)).to.equal(null);
      return r;
    });
    expect(receipt.status).to.equal(1);
    expect(await counterValue(metrics.txReplacements)).to.be.greaterThan(0);
    // Exactly one transaction of that nonce: the account's nonce moved by one.
    expect(await ethers.provider.getTransactionCount(w.address)).to.equal(nonceBefore + 1);
  });

  it("at the fee cap a stuck transaction is re-broadcast unchanged and the cap alert is raised until it is mined", async function () {
    const w = await fundedWallet("cap");
    const { tx, metrics } = manager(w, { txReplaceAfterMs: 200, txMaxFeeGwei: 1 });
    const capped = async () => (await metrics.txFeeCapped.get()).values[0]?.value;
    const receipt = await withAutomineOff(async () => {
      await send("hardhat_setNextBlockBaseFeePerGas", ["0x1"]);
      await send("evm_mine");
      const sending = tx.send(request("cap"));
      await until(async () => (await pendingHashes()).length === 1, "the transaction in the pool");
      const [hash] = await pendingHashes();
      expect((await ethers.provider.getTransaction(hash))!.maxFeePerGas).to.equal(10n ** 9n); // at the cap already
      // Base fee above the cap: the transaction cannot be mined and cannot be bumped.
      await until(async () => {
        await send("hardhat_setNextBlockBaseFeePerGas", [hex(2n * 10n ** 9n)]);
        await send("evm_mine");
        return (await capped()) === 1;
      }, "the cap alert");
      expect(await counterValue(metrics.txRebroadcasts)).to.be.greaterThan(0);
      expect(await counterValue(metrics.txReplacements)).to.equal(0);
      // The spike passes: the same transaction is mined.
      const r = await mineUntil(sending, async () => {
        await send("hardhat_setNextBlockBaseFeePerGas", ["0x1"]);
      });
      expect(r.hash).to.equal(hash);
      return r;
    });
    expect(receipt.status).to.equal(1);
    expect(await capped()).to.equal(0);
  });

  it("a transaction of the same key sent by someone else takes the local nonce: resynchronised and sent", async function () {
    const w = await fundedWallet("external");
    const { tx, metrics } = manager(w);
    await tx.send(request("first"));
    const resyncsAtStart = await counterValue(metrics.nonceResyncs);
    expect(resyncsAtStart).to.equal(1);
    // Another process with the same key uses the next nonce.
    await (await w.sendTransaction({ to: request("other").to, gasLimit: 21_000n })).wait();
    const receipt: TransactionReceipt = await tx.send(request("second"));
    expect(receipt.status).to.equal(1);
    expect((await ethers.provider.getTransaction(receipt.hash))!.nonce).to.equal(2);
    expect(await counterValue(metrics.nonceResyncs)).to.equal(2);

    // resync() (a reorg, a reset) re-reads it too.
    tx.resync();
    await tx.send(request("third"));
    expect(await counterValue(metrics.nonceResyncs)).to.equal(3);
    expect(await ethers.provider.getTransactionCount(w.address)).to.equal(4);
  });

  it("a transaction left pending in the pool (a restart) is replaced from the latest nonce, not queued behind", async function () {
    const w = await fundedWallet("restart");
    await withAutomineOff(async () => {
      // The previous run's transaction, priced below the base fee: it would never be mined.
      const base = (await ethers.provider.getBlock("latest"))!.baseFeePerGas!;
      await send("hardhat_setNextBlockBaseFeePerGas", [hex(base * 4n)]);
      await w.sendTransaction({ to: request("old").to, gasLimit: 21_000n, maxFeePerGas: base * 2n, maxPriorityFeePerGas: 1n, nonce: 0 });
      const { tx, metrics } = manager(w);
      const r = await mineUntil(tx.send(request("new")));
      expect((await ethers.provider.getTransaction(r.hash))!.nonce).to.equal(0);
      expect(await counterValue(metrics.nonceResyncs)).to.equal(1);
    });
  });

  it("close() ends a wait for a transaction that is never mined", async function () {
    const w = await fundedWallet("close");
    const { tx } = manager(w, { txReplaceAfterMs: 60_000 });
    await withAutomineOff(async () => {
      const sending = tx.send(request("close"));
      sending.catch(() => undefined);
      await until(() => tx.pendingCount() === 1, "the transaction pending");
      expect(tx.oldestPendingAgeMs()).to.be.a("number");
      await tx.close();
      const error = await sending.catch((e: unknown) => e);
      expect(error).to.be.instanceOf(TxManagerClosedError);
      expect((error as TxManagerClosedError).code).to.equal("TX_ABANDONED");
      expect(tx.pendingCount()).to.equal(0);
      // Closed for good: nothing more is sent.
      expect(await tx.send(request("after")).catch((e: unknown) => e)).to.be.instanceOf(TxManagerClosedError);
      await send("hardhat_dropTransaction", [(await pendingHashes())[0]]);
    });
  });
});

describe("oracle: out of gas money", function () {
  this.timeout(120_000);

  it("pauses submission without losing the claim (OutOfFundsError, checkpoint kept, alert metrics) and resumes once funded", async function () {
    const f = await loadFixture(deployOracleFixture);
    const evidence = await startEvidenceServer({ port: 0 });
    const member = f.members[0];
    const b = await f.bundle([...normalRows(3), ...persistingFailureRows("HDF")]);
    const claimId = await f.fileClaim({ hash: b.hash, uri: evidence.put(b.bytes).uri, incidentAt: b.incidentAt });
    const oracle = oracleFor(f, member);
    try {
      await oracle.init();
      await send("hardhat_setBalance", [member.address, "0x1"]);
      const before = oracle.nextBlock();
      const failures: unknown[] = [];
      for (let i = 0; i < 2; i++) failures.push(await oracle.tick().catch((e: unknown) => e));
      for (const error of failures) {
        expect(error).to.be.instanceOf(OutOfFundsError);
        expect((error as OutOfFundsError).code).to.equal("OUT_OF_FUNDS");
        expect((error as Error).message).to.include(`fund ${member.address}`);
      }
      expect(oracle.nextBlock(), "the checkpoint did not move past the claim").to.equal(before);
      expect((await f.claims.getClaim(claimId)).status).to.equal(1n); // still Filed
      const text = await oracle.metrics.registry.metrics();
      expect(text).to.match(/triad_oracle_out_of_funds 1\b/);
      expect(text).to.match(/triad_oracle_signer_balance_wei 1\b/);

      await send("hardhat_setBalance", [member.address, hex(10n * ETH)]);
      const report = await oracle.tick();
      expect(report.outcomes.map((o) => [o.claimId, o.outcome])).to.deep.equal([[claimId, "approved"]]);
      expect((await f.claims.getClaim(claimId)).status).to.not.equal(1n);
      expect(await oracle.metrics.registry.metrics()).to.match(/triad_oracle_out_of_funds 0\b/);
    } finally {
      await oracle.stop();
      await evidence.close();
    }
  });
});

describe("oracle: claims decided before sending", function () {
  this.timeout(120_000);

  it("a claim decided after the lookups is dropped from the batch just before sending (late, no gas for it)", async function () {
    const f = await loadFixture(deployOracleFixture);
    const evidence = await startEvidenceServer({ port: 0 });
    const [a, b] = await f.insureNewDevices(["late-a", "late-b"]);
    const x = await f.bundle([...normalRows(3), ...persistingFailureRows("HDF")], { device: a.device });
    const y = await f.bundle([...normalRows(3, 20), ...persistingFailureRows("PWF")], { device: b.device });
    const xClaim = await f.fileClaim({ hash: x.hash, uri: evidence.put(x.bytes).uri, incidentAt: x.incidentAt, policy: a.policyId });
    const yClaim = await f.fileClaim({ hash: y.hash, uri: evidence.put(y.bytes).uri, incidentAt: y.incidentAt, policy: b.policyId });
    // X is decided by another process while the daemon downloads its evidence (after the lookups).
    let decidedByOther = false;
    const racingFetch: typeof fetch = async (input, init) => {
      if (!decidedByOther && String(input).includes(x.hash)) {
        decidedByOther = true;
        const claim = await f.claims.getClaim(xClaim);
        const verdict = buildRejectionVerdict(
          { claimId: xClaim, amount: claim.amount, evidenceHash: claim.evidenceHash, assessmentDeadline: claim.assessmentDeadline },
          f.model.modelHash,
          claimReasonCode("NO_FAILURE_DETECTED"),
        );
        const signature = await signVerdict(f.members[0], claimsDomain(f.chainId, f.addresses.claims), verdict);
        await (await f.claims.submitVerdict(verdict, [signature])).wait();
      }
      return fetch(input, init);
    };
    const oracle = createOracle({
      provider: ethers.provider,
      signer: f.members[0],
      addresses: f.addresses,
      model: f.model,
      config: testConfig(),
      logger: log,
      fetch: racingFetch,
    });
    try {
      const report = await oracle.tick();
      expect(decidedByOther).to.equal(true);
      expect(report.outcomes.map((o) => [o.claimId, o.outcome])).to.deep.equal([
        [xClaim, "late"],
        [yClaim, "approved"],
      ]);
      expect(await counterValue(oracle.metrics.verdictsRefused)).to.equal(0);
      // The transaction carried Y's verdict only.
      const sent = report.outcomes.find((o) => o.outcome === "approved")!;
      const tx = await ethers.provider.getTransaction(sent.txHash!);
      const call = f.claims.interface.parseTransaction({ data: tx!.data })!;
      expect(call.name).to.equal("submitVerdicts");
      expect(call.args[0].map((v: { claimId: bigint }) => v.claimId)).to.deep.equal([yClaim]);
      expect(report.outcomes[0]).to.not.have.property("txHash");
    } finally {
      await oracle.stop();
      await evidence.close();
    }
  });
});
