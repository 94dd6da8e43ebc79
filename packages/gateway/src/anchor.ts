/**
 * Fleet anchoring (docs/protocol.md, "Fleet anchors"): every interval, one StandardMerkleTree root over the digests of
 * all readings stored since the last anchor, of every device, sent in ONE `DeviceRegistry.anchorFleet(root, count,
 * uri)` transaction whatever the fleet size, keyed on-chain by (gateway account, root).
 *
 * One round (`tick`), under the store's anchoring lock (one anchoring gateway per database; the others skip):
 *  1. Finish what an earlier round (or a killed gateway) left pending: an anchor already on-chain
 *     (`fleetAnchorOf(gateway, root)`) is marked confirmed; one of ours that is not is sent again.
 *  2. Take the oldest unanchored readings (at most `maxReadings`), build their tree in a worker thread (~1.5 s for
 *     60,000 readings: never on the ingest thread), and record the anchor as pending together with every reading's
 *     root and proof (one store transaction) BEFORE sending, so a crash at any point leaves either nothing or a pending
 *     anchor whose readings are fixed. Then send, note the transaction hash, wait for it, mark it confirmed.
 * A failed transaction (no funds, RPC down) leaves the anchor pending; the next round retries it. Readings never move
 * to another anchor.
 */
import path from "node:path";
import { Worker } from "node:worker_threads";
import { getAddress, type Signer } from "ethers";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { DeviceRegistry__factory, type DeviceRegistry } from "@triad/contracts";
import { TriadError, type FastReadingTree } from "@triad/sdk";
import type { AnchorRecord, ReadingStore } from "./store/types.ts";

export interface AnchorerOptions {
  store: ReadingStore;
  /** The gateway's anchoring account, connected to a provider. */
  signer: Signer;
  registryAddress: string;
  /** Round interval, ms. */
  intervalMs: number;
  /** Most readings in one anchor (the rest wait for the next round). */
  maxReadings: number;
  /** Base of the URI recorded with each root: `${publicUrl}/v1/anchors/${root}`. */
  publicUrl: string;
  /** Blocks to wait for after the anchoring transaction (1 = mined). */
  confirmations: number;
  metricsRegistry: Registry;
  logger?: Logger;
}

export interface AnchorerStatus {
  enabled: true;
  gateway: string;
  intervalMs: number;
  lastRoundAt: number | null;
  lastConfirmed: { root: string; count: number; txHash: string | null; at: number } | null;
  lastError: string | null;
  pendingAnchors: number;
}

/** Starts the tree worker (tsx's loader when running from TypeScript sources, as the oracle's verifier does). */
function startTreeWorker(): Worker {
  const script = path.join(import.meta.dirname, `tree-worker${path.extname(import.meta.filename)}`);
  return script.endsWith(".ts") ? new Worker(script, { execArgv: ["--import", import.meta.resolve("tsx")] }) : new Worker(script);
}

export class FleetAnchorer {
  readonly gateway: Promise<string>;
  private readonly registry: DeviceRegistry;
  private worker: Worker | undefined;
  private nextJob = 0;
  private readonly jobs = new Map<number, { resolve(t: FastReadingTree): void; reject(e: Error): void }>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<AnchorRecord | undefined> | undefined;
  private stopped = false;
  private lastRoundAt: number | null = null;
  private lastConfirmed: AnchorerStatus["lastConfirmed"] = null;
  private lastError: string | null = null;
  private pendingCount = 0;
  private readonly m;
  private gatewayAddress = "";

  constructor(private readonly o: AnchorerOptions) {
    this.registry = DeviceRegistry__factory.connect(o.registryAddress, o.signer);
    this.gateway = o.signer.getAddress().then((a) => (this.gatewayAddress = getAddress(a)));
    const registers = [o.metricsRegistry];
    this.m = {
      anchors: new Counter({ name: "triad_gateway_anchors_total", help: "Fleet anchors confirmed on-chain", registers }),
      anchoredReadings: new Counter({
        name: "triad_gateway_anchored_readings_total",
        help: "Readings in confirmed fleet anchors",
        registers,
      }),
      failures: new Counter({
        name: "triad_gateway_anchor_failures_total",
        help: "Anchoring rounds that failed (the anchor stays pending and is retried)",
        registers,
      }),
      gas: new Gauge({ name: "triad_gateway_anchor_last_gas", help: "Gas used by the last anchoring transaction", registers }),
      pending: new Gauge({ name: "triad_gateway_anchors_pending", help: "Anchors recorded but not confirmed yet", registers }),
    };
  }

  /** Starts the periodic rounds (the first one after one interval). */
  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.tick()
          .catch(() => undefined)
          .finally(loop);
      }, this.o.intervalMs);
    };
    loop();
  }

  status(): AnchorerStatus {
    return {
      enabled: true,
      gateway: this.gatewayAddress,
      intervalMs: this.o.intervalMs,
      lastRoundAt: this.lastRoundAt,
      lastConfirmed: this.lastConfirmed,
      lastError: this.lastError,
      pendingAnchors: this.pendingCount,
    };
  }

  /** One round now (tests and `stop()` use it; rounds never overlap). Resolves the anchor confirmed, if any. */
  tick(): Promise<AnchorRecord | undefined> {
    this.round ??= this.runRound().finally(() => {
      this.round = undefined;
    });
    return this.round;
  }

  /**
   * Rounds until every stored reading is in a confirmed anchor (or `maxRounds` ran): what a graceful hand-over or a
   * demo wants. Resolves the anchors confirmed on the way.
   */
  async flush(maxRounds = 10): Promise<AnchorRecord[]> {
    const confirmed: AnchorRecord[] = [];
    for (let i = 0; i < maxRounds; i++) {
      const anchor = await this.tick();
      if (anchor) confirmed.push(anchor);
      const left = (await this.o.store.unanchored(1)).length + (await this.o.store.pendingAnchors()).length;
      if (left === 0) return confirmed;
    }
    throw new TriadError(`readings still unanchored after ${maxRounds} anchoring rounds`, "ANCHOR_BACKLOG");
  }

  private async runRound(): Promise<AnchorRecord | undefined> {
    try {
      const outcome = await this.o.store.withAnchorLock(async () => {
        await this.finishPending();
        return this.anchorNew();
      });
      this.lastRoundAt = Date.now();
      this.lastError = null;
      return outcome.ran ? outcome.value : undefined;
    } catch (error) {
      this.m.failures.inc();
      this.lastError = (error as Error)?.message ?? String(error);
      this.o.logger?.error({ err: this.lastError }, "anchoring round failed; pending anchors are retried next round");
      throw error;
    } finally {
      this.pendingCount = (await this.o.store.pendingAnchors().catch(() => [])).length;
      this.m.pending.set(this.pendingCount);
    }
  }

  private async finishPending(): Promise<void> {
    const me = await this.gateway;
    for (const anchor of await this.o.store.pendingAnchors()) {
      const onChain = await this.registry.fleetAnchorOf(anchor.gateway, anchor.root);
      if (onChain.anchoredAt !== 0n) {
        const mined = await this.findMined(anchor);
        await this.o.store.confirmAnchor(
          anchor.root,
          mined ?? { txHash: anchor.txHash ?? "", blockNumber: 0, anchoredAt: Number(onChain.anchoredAt) },
        );
        this.o.logger?.info({ root: anchor.root, count: anchor.count }, "pending anchor found on-chain; confirmed");
      } else if (getAddress(anchor.gateway) === me) {
        this.o.logger?.info({ root: anchor.root, count: anchor.count }, "re-sending a pending anchor");
        await this.send(anchor);
      }
    }
  }

  /** The transaction that anchored `anchor`, from its hash or from the FleetAnchored event. */
  private async findMined(anchor: AnchorRecord): Promise<{ txHash: string; blockNumber: number; anchoredAt: number } | undefined> {
    const provider = this.o.signer.provider!;
    if (anchor.txHash) {
      const receipt = await provider.getTransactionReceipt(anchor.txHash);
      if (receipt && receipt.status === 1) {
        const block = await provider.getBlock(receipt.blockNumber);
        return { txHash: receipt.hash, blockNumber: receipt.blockNumber, anchoredAt: block!.timestamp };
      }
    }
    const logs = await this.registry.queryFilter(this.registry.filters.FleetAnchored(anchor.gateway, anchor.root));
    const log = logs[0];
    if (!log) return undefined;
    const block = await provider.getBlock(log.blockNumber);
    return { txHash: log.transactionHash, blockNumber: log.blockNumber, anchoredAt: block!.timestamp };
  }

  private async anchorNew(): Promise<AnchorRecord | undefined> {
    const readings = await this.o.store.unanchored(this.o.maxReadings);
    if (readings.length === 0) return undefined;
    const started = performance.now();
    const tree = await this.buildTree(readings.map((r) => r.digest));
    const record = await this.o.store.recordAnchor({
      root: tree.root,
      gateway: await this.gateway,
      uri: `${this.o.publicUrl.replace(/\/$/, "")}/v1/anchors/${tree.root}`,
      createdAt: Date.now(),
      proofs: readings.map((r, i) => ({ id: r.id, proof: tree.proofs[i] })),
    });
    this.o.logger?.info(
      { root: record.root, readings: record.count, treeMs: Math.round(performance.now() - started) },
      "fleet anchor recorded; sending",
    );
    return this.send(record);
  }

  private async send(anchor: AnchorRecord): Promise<AnchorRecord> {
    const tx = await this.registry.anchorFleet(anchor.root, anchor.count, anchor.uri);
    await this.o.store.anchorSent(anchor.root, tx.hash);
    const receipt = await tx.wait(this.o.confirmations);
    if (!receipt || receipt.status !== 1) throw new TriadError(`anchor transaction ${tx.hash} failed`, "ANCHOR_FAILED");
    const block = await this.o.signer.provider!.getBlock(receipt.blockNumber);
    const mined = { txHash: receipt.hash, blockNumber: receipt.blockNumber, anchoredAt: block!.timestamp };
    await this.o.store.confirmAnchor(anchor.root, mined);
    this.m.anchors.inc();
    this.m.anchoredReadings.inc(anchor.count);
    this.m.gas.set(Number(receipt.gasUsed));
    this.lastConfirmed = { root: anchor.root, count: anchor.count, txHash: receipt.hash, at: Date.now() };
    this.o.logger?.info(
      { root: anchor.root, readings: anchor.count, tx: receipt.hash, gas: receipt.gasUsed.toString() },
      "fleet anchor confirmed",
    );
    return { ...anchor, status: "confirmed", ...mined };
  }

  private buildTree(digests: string[]): Promise<FastReadingTree> {
    if (!this.worker) {
      const worker = startTreeWorker();
      worker.unref();
      worker.on("message", (msg: { id: number; tree?: FastReadingTree; error?: string }) => {
        const job = this.jobs.get(msg.id);
        this.jobs.delete(msg.id);
        if (msg.tree) job?.resolve(msg.tree);
        else job?.reject(new TriadError(`building the anchor tree failed: ${msg.error}`, "ANCHOR_TREE"));
      });
      worker.on("error", (error) => {
        for (const job of this.jobs.values()) job.reject(error);
        this.jobs.clear();
        this.worker = undefined;
      });
      this.worker = worker;
    }
    const id = this.nextJob++;
    return new Promise<FastReadingTree>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      this.worker!.postMessage({ id, digests });
    });
  }

  /** Stops the rounds; waits for a round in progress (its transaction is then confirmed or stays pending). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round?.catch(() => undefined);
    await this.worker?.terminate();
    this.worker = undefined;
  }
}
