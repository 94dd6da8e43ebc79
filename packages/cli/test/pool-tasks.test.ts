import { expect } from "chai";
import { networkHelpers } from "@triad/devkit/network";
import { EXIT, deployTriadForTasks, expectOneError, expectSuccess, loadTaskFixture, runTask, useTaskEnvironment } from "./fixtures.ts";

const { time } = networkHelpers;

/** Account indexes as `--from` takes them; TriadLocal funds them with TestToken (6 decimals). */
const LP = "1";
const UNIT = 1_000_000n;

/** The suite with 1,000 tokens of LP capital deposited by account 1 through pool:deposit. */
async function poolTasksFixture() {
  const base = await deployTriadForTasks();
  expectSuccess(await runTask("pool:deposit", { amount: "1000", from: LP, json: true }));
  return base;
}

describe("triad pool:* (ERC-7540 withdrawals)", function () {
  useTaskEnvironment();

  it("requests, shows, cancels, requests again and claims after the cooldown", async function () {
    const { pool, signers } = await loadTaskFixture(poolTasksFixture);
    const lp = signers.seller.address;
    const shares = await pool.balanceOf(lp);

    expectOneError(await runTask("pool:claim-withdrawal", { from: LP }), "you have no withdrawal request", EXIT.REFUSED);
    expectOneError(await runTask("pool:request-withdrawal", { from: LP }), "give --amount <tokens> or --all");
    expectOneError(await runTask("pool:request-withdrawal", { amount: "1", all: true, from: LP }), "give either --amount or --all");
    expectOneError(
      await runTask("pool:request-withdrawal", { amount: "1001", from: LP }),
      "your shares are worth 1000 tUSD: request at most that",
      EXIT.REFUSED,
    );

    const requested = expectSuccess(await runTask("pool:request-withdrawal", { amount: "400", from: LP, json: true })).json;
    expect(BigInt(requested.assetsAtRequest)).to.equal(400n * UNIT);
    const shown = expectSuccess(await runTask("pool:show", { from: LP, json: true })).json;
    expect(shown.request).to.include({ shares: requested.shares, pending: requested.shares, claimable: "0" });
    expect(shown.maxWithdraw).to.equal("0");
    expect(shown.withdrawalCooldown).to.equal(Number(await pool.withdrawalCooldown()));
    expectOneError(await runTask("pool:claim-withdrawal", { from: LP }), "your request is claimable from", EXIT.REFUSED);

    const cancelled = expectSuccess(await runTask("pool:cancel-withdrawal", { from: LP, json: true })).json;
    expect(cancelled.shares).to.equal(requested.shares);
    expect(await pool.balanceOf(lp)).to.equal(shares);
    expectOneError(await runTask("pool:cancel-withdrawal", { from: LP }), "you have no withdrawal request to cancel", EXIT.REFUSED);

    const all = expectSuccess(await runTask("pool:request-withdrawal", { all: true, from: LP, json: true })).json;
    expect(BigInt(all.shares)).to.equal(shares);
    await time.increaseTo(BigInt(all.claimableAt));
    const part = expectSuccess(await runTask("pool:claim-withdrawal", { amount: "100", from: LP, json: true })).json;
    expect(BigInt(part.assets)).to.equal(100n * UNIT);
    expectOneError(
      await runTask("pool:claim-withdrawal", { amount: "901", from: LP }),
      "your request is worth 900 tUSD: you cannot withdraw 901 tUSD",
      EXIT.REFUSED,
    );
    const rest = expectSuccess(await runTask("pool:claim-withdrawal", { from: LP, json: true })).json;
    expect(BigInt(rest.assets)).to.equal(900n * UNIT);
    const after = expectSuccess(await runTask("pool:show", { from: LP, json: true })).json;
    expect(after.request.shares).to.equal("0");
    expect(after.shares).to.equal("0");
  });
});
