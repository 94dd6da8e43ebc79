import { expect } from "chai";
import { makeError } from "ethers";
import { RpcUnavailableError, createRpc } from "../src/chain.ts";
import { counterValue, createMetrics } from "../src/metrics.ts";
import { startOpsServer } from "@triad/sdk/node";

describe("oracle: RPC retries and the ops server", function () {
  it("retries transient RPC failures with backoff, counts every request, and gives up after the retries", async function () {
    const metrics = createMetrics();
    const retried: number[] = [];
    const rpc = createRpc({ retries: 3, baseMs: 5, metrics, onRetry: (_method, attempt) => retried.push(attempt) });
    let calls = 0;
    const value = await rpc.call("eth_blockNumber", async () => {
      if (++calls < 3) throw makeError("connection refused", "NETWORK_ERROR", { event: "x" });
      return 42;
    });
    expect(value).to.equal(42);
    expect(calls).to.equal(3);
    expect(retried).to.deep.equal([1, 2]);
    expect(rpc.count()).to.equal(3);
    expect(await counterValue(metrics.rpcErrors, { method: "eth_blockNumber" })).to.equal(2);
    expect(await counterValue(metrics.rpcRequests, { method: "eth_blockNumber" })).to.equal(3);

    let failing = 0;
    const error = await rpc
      .call("eth_call", async () => {
        failing++;
        throw makeError("timeout", "TIMEOUT", { operation: "x", reason: "timeout" });
      })
      .catch((e: unknown) => e);
    expect(error).to.be.instanceOf(RpcUnavailableError);
    expect((error as Error).message).to.match(/^RPC eth_call failed after 4 attempt\(s\): timeout/);
    expect(failing).to.equal(4);
  });

  it("does not retry what retrying cannot fix (a revert)", async function () {
    const rpc = createRpc({ retries: 5, baseMs: 5 });
    let calls = 0;
    const error = await rpc
      .call("getClaim", async () => {
        calls++;
        throw makeError("execution reverted", "CALL_EXCEPTION", {
          action: "call",
          data: "0x",
          reason: null,
          transaction: { to: null, data: "0x" },
          invocation: null,
          revert: null,
        });
      })
      .catch((e: unknown) => e);
    expect(calls).to.equal(1);
    expect((error as { code: string }).code).to.equal("CALL_EXCEPTION");
  });

  it("/healthz answers 503 when unhealthy and 200 when healthy; /metrics serves the registry", async function () {
    const metrics = createMetrics();
    metrics.claimsSeen.inc(3);
    let healthy = false;
    const ops = await startOpsServer({
      port: 0,
      host: "127.0.0.1",
      registry: metrics.registry,
      health: async () => ({ healthy, lagBlocks: 7 }),
    });
    try {
      const down = await fetch(`${ops.url}/healthz`);
      expect(down.status).to.equal(503);
      expect(await down.json()).to.deep.equal({ healthy: false, lagBlocks: 7 });
      healthy = true;
      expect((await fetch(`${ops.url}/healthz`)).status).to.equal(200);
      expect(await (await fetch(`${ops.url}/metrics`)).text()).to.include("triad_oracle_claims_seen_total 3");
      expect((await fetch(`${ops.url}/nope`)).status).to.equal(404);
    } finally {
      await ops.close();
    }
  });
});
