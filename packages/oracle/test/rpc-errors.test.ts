import { expect } from "chai";
import { makeError } from "ethers";
import {
  RpcTimeoutError,
  RpcUnavailableError,
  classifyRpcError,
  createRpc,
  isAlreadyKnownError,
  isPermanentRpcError,
  type RpcErrorClass,
} from "../src/chain.ts";
import { counterValue, createMetrics } from "../src/metrics.ts";

/**
 * What nodes answer, word for word (from their sources: Hardhat's EDR, go-ethereum's txpool and core errors,
 * Nethermind's AcceptTxResult, Erigon's txpool, reth's pool errors, anvil's), and the class each must get.
 */
const WORDINGS: [node: string, message: string, expected: RpcErrorClass][] = [
  [
    "hardhat",
    "Sender doesn't have enough funds to send tx. The max upfront cost is: 2100000000000000 and the sender's balance is: 1.",
    "funds",
  ],
  ["hardhat", "Transaction nonce too low. Expected nonce to be at least 5 but got 4.", "nonce"],
  ["hardhat", "Nonce too high. Expected nonce to be 3 but got 5. Note that transactions can't be queued when automining.", "nonce"],
  ["hardhat", "Known transaction: 0x6e1c0a0ec4a0a2d4a0d7c1b8e5b1d8f3a2c4e6b8d0f2a4c6e8b0d2f4a6c8e0b2", "nonce"],
  [
    "hardhat",
    "Replacement transaction underpriced. A gasPrice/maxFeePerGas of at least 2200000000 is necessary to replace the existing transaction with nonce 3.",
    "underpriced",
  ],
  ["hardhat", "Transaction maxFeePerGas (1000) is too low for the next block, which has a baseFeePerGas of 875000000", "underpriced"],
  ["hardhat", "VM Exception while processing transaction: reverted with custom error 'ClaimsUnexpectedStatus(1, 2)'", "reverted"],
  ["hardhat", "Transaction reverted without a reason string", "reverted"],
  [
    "geth",
    "insufficient funds for gas * price + value: address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 have 0 want 420000000000000",
    "funds",
  ],
  ["geth", "insufficient funds for transfer", "funds"],
  ["geth", "nonce too low: address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, tx: 3 state: 5", "nonce"],
  ["geth", "nonce too high: address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, tx: 9 state: 5", "nonce"],
  ["geth", "already known", "nonce"],
  ["geth", "replacement transaction underpriced", "underpriced"],
  ["geth", "transaction underpriced: tip needed 1, tip permitted 0", "underpriced"],
  [
    "geth",
    "max fee per gas less than block base fee: address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, maxFeePerGas: 1, baseFee: 7",
    "underpriced",
  ],
  ["geth", "execution reverted: Ownable: caller is not the owner", "reverted"],
  ["geth", "execution reverted", "transient"],
  ["geth", "header not found", "transient"],
  ["geth", "missing trie node 5d8f9c (path ) state 0x5d8f9c is not available, not found", "transient"],
  ["geth", "txpool is full", "transient"],
  ["geth", "request timed out", "timeout"],
  ["nethermind", "InsufficientFunds, Account balance: 0, cumulative cost: 21000000000000", "funds"],
  ["nethermind", "InsufficientFunds, Balance is 0 less than sending value + gas 21000000000000", "funds"],
  ["nethermind", "OldNonce, Current nonce: 5, nonce of rejected tx: 3", "nonce"],
  ["nethermind", "NonceGap, Future nonce. Expected nonce: 5", "nonce"],
  ["nethermind", "AlreadyKnown", "nonce"],
  ["nethermind", "OwnNonceAlreadyUsed", "nonce"],
  ["nethermind", "FeeTooLow, MaxFeePerGas too low. MaxFeePerGas: 1, BaseFee: 7, MaxPriorityFeePerGas:1, Block number: 100", "underpriced"],
  ["nethermind", "FeeTooLowToCompete", "underpriced"],
  ["nethermind", "503 Service Unavailable: backend overloaded", "transient"],
  ["erigon", "insufficient funds for gas * price + value", "funds"],
  ["erigon", "nonce too low", "nonce"],
  ["erigon", "ALREADY_EXISTS: already known", "nonce"],
  ["erigon", "INTERNAL_ERROR: existing tx with same hash", "nonce"],
  ["erigon", "FEE_TOO_LOW: could not replace existing tx", "underpriced"],
  ["reth", "insufficient funds for gas * price + value: have 0 want 21000000000000", "funds"],
  ["reth", "nonce too low: next nonce 82, tx nonce 81", "nonce"],
  ["reth", "replacement transaction underpriced", "underpriced"],
  ["reth", "transaction underpriced", "underpriced"],
  ["reth", "already known", "nonce"],
  ["anvil", "Insufficient funds for gas * price + value", "funds"],
  ["anvil", "nonce too low", "nonce"],
  ["anvil", "transaction already imported", "nonce"],
  ["anvil", "max fee per gas less than block base fee", "underpriced"],
  ["provider", "429 Too Many Requests", "transient"],
  ["provider", "rate limit exceeded", "transient"],
  ["provider", "server response 502 Bad Gateway", "transient"],
];

/** How a wording reaches the oracle: as the node's JSON-RPC error wrapped by ethers, or as Hardhat's provider error. */
function shapes(message: string): [string, unknown][] {
  return [
    ["Error", new Error(message)],
    ["JSON-RPC error object", { code: -32000, message }],
    ["ethers, wrapped", makeError("could not coalesce error", "UNKNOWN_ERROR", { error: { code: -32000, message } })],
    ["cause", new Error("send failed", { cause: new Error(message) })],
  ];
}

describe("oracle: RPC errors classified by meaning across nodes", function () {
  for (const [node, message, expected] of WORDINGS) {
    it(`${node}: "${message.slice(0, 60)}" is ${expected}`, function () {
      for (const [shape, error] of shapes(message)) {
        expect(classifyRpcError(error), shape).to.equal(expected);
      }
    });
  }

  it("already-known answers are recognised (a send that changed nothing)", function () {
    const known = WORDINGS.filter(([, m]) => /known|imported|existing tx with same hash/i.test(m)).map(([, m]) => m);
    expect(known.length).to.be.greaterThan(4);
    for (const m of known) expect(isAlreadyKnownError(new Error(m)), m).to.equal(true);
    expect(isAlreadyKnownError(new Error("nonce too low"))).to.equal(false);
  });

  it("ethers' own codes, revert data and transport errors", function () {
    const revert = (extra: Record<string, unknown>) =>
      makeError("execution reverted", "CALL_EXCEPTION", {
        action: "call",
        data: null,
        reason: null,
        transaction: { to: null, data: "0x" },
        invocation: null,
        revert: null,
        ...extra,
      });
    expect(classifyRpcError(revert({ data: "0x4e487b710000000000000000000000000000000000000000000000000000000000000011" }))).to.equal(
      "reverted",
    );
    expect(classifyRpcError(revert({ receipt: { status: 0 } }))).to.equal("reverted");
    // A call that failed without revert data: a flaky node as often as a real revert, so retried.
    expect(classifyRpcError(revert({}))).to.equal("transient");
    // Hardhat's provider error carries the revert data in `data`.
    expect(classifyRpcError(Object.assign(new Error("reverted"), { data: "0x08c379a0" + "00".repeat(64) }))).to.equal("reverted");
    expect(classifyRpcError(makeError("insufficient funds", "INSUFFICIENT_FUNDS", { transaction: {} }))).to.equal("funds");
    expect(classifyRpcError(makeError("nonce has already been used", "NONCE_EXPIRED", { transaction: {} }))).to.equal("nonce");
    expect(classifyRpcError(makeError("replacement fee too low", "REPLACEMENT_UNDERPRICED", { transaction: {} }))).to.equal("underpriced");
    expect(classifyRpcError(makeError("timeout", "TIMEOUT", { operation: "x", reason: "timeout" }))).to.equal("timeout");
    expect(classifyRpcError(makeError("bad response", "SERVER_ERROR", { request: null as never, response: null as never }))).to.equal(
      "transient",
    );
    expect(classifyRpcError(makeError("network down", "NETWORK_ERROR", { event: "x" }))).to.equal("transient");
    expect(classifyRpcError(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }))).to.equal("transient");
    expect(classifyRpcError(new TypeError("fetch failed"))).to.equal("transient");
    expect(classifyRpcError(new RpcTimeoutError("eth_call", 10))).to.equal("timeout");
    expect(classifyRpcError(makeError("invalid address", "INVALID_ARGUMENT", { argument: "to", value: "x" }))).to.equal("permanent");
    expect(classifyRpcError(makeError("could not decode result data", "BAD_DATA", { value: "0x" }))).to.equal("permanent");
    expect(classifyRpcError(new Error("something nobody has seen"))).to.equal("permanent");
    // The old predicate keeps its meaning for its callers: reverted or permanent.
    expect(isPermanentRpcError(revert({ data: "0x4e487b71" + "00".repeat(32) }))).to.equal(true);
    expect(isPermanentRpcError(new Error("insufficient funds for gas * price + value"))).to.equal(false);
    expect(isPermanentRpcError(new Error("header not found"))).to.equal(false);
  });

  it("a request without an answer times out, is counted and retried; a flaky eth_call is retried until it answers", async function () {
    const metrics = createMetrics();
    const rpc = createRpc({ retries: 2, baseMs: 5, timeoutMs: 50, metrics });
    let calls = 0;
    const value = await rpc.call("eth_blockNumber", () => {
      calls++;
      // The first attempt hangs (a proxy that never answers); the second answers.
      return calls === 1 ? new Promise<number>(() => undefined) : Promise.resolve(7);
    });
    expect(value).to.equal(7);
    expect(calls).to.equal(2);
    expect(await counterValue(metrics.rpcTimeouts, { method: "eth_blockNumber" })).to.equal(1);

    let flaky = 0;
    const result = await rpc.call("eth_call", async () => {
      if (++flaky < 3) throw new Error("execution reverted");
      return "0x01";
    });
    expect(result).to.equal("0x01");
    expect(flaky).to.equal(3);

    const hung = await rpc.call("eth_chainId", () => new Promise<never>(() => undefined)).catch((e: unknown) => e);
    expect(hung).to.be.instanceOf(RpcUnavailableError);
    expect((hung as Error).message).to.match(/^RPC eth_chainId failed after 3 attempt\(s\): RPC eth_chainId got no answer within 50 ms/);
    expect(await counterValue(metrics.rpcTimeouts, { method: "eth_chainId" })).to.equal(3);
  });

  it("never retries what retrying cannot fix: reverts with data, no gas money, a taken nonce", async function () {
    const rpc = createRpc({ retries: 5, baseMs: 5 });
    for (const message of [
      "VM Exception while processing transaction: reverted with custom error 'X()'",
      "insufficient funds for gas * price + value",
      "nonce too low",
    ]) {
      let calls = 0;
      const error = await rpc
        .call("eth_sendRawTransaction", async () => {
          calls++;
          throw new Error(message);
        })
        .catch((e: unknown) => e);
      expect(calls, message).to.equal(1);
      expect((error as Error).message).to.equal(message);
    }
  });
});
