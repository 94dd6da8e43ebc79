/**
 * The DeviceRegistry state the gateway verifies against (owner, status, sensor schema of each device), cached in
 * memory and kept current from the registry's events.
 *
 * How it stays current:
 *  - A device is looked up on first sight with `getDevice` at the last block B whose events the cache has applied
 *    (and remembered as of B); devices not registered are remembered as unknown as of B too.
 *  - Every `pollMs` the cache reads DeviceRegistered, DeviceStatusChanged and DeviceOwnershipTransferred logs from the
 *    block after the last one it has seen up to the head (at most `logBlockRange` blocks per query) and applies each
 *    event to a device it knows, unless the device's entry already reflects that block (so a lookup at B is never
 *    rolled back by an older event).
 *
 * Bounded staleness: while polls succeed, an entry is at most one poll interval plus one RPC round trip behind the
 * chain head (e.g. a revocation takes effect for readings received after the poll that sees it). `freshness()` says
 * when the cache last reached the head; /healthz reports unhealthy when that is older than the configured bound, and
 * the verification of a reading never waits for a poll. Only views and events that exist today and survive the
 * anchor change are used: `getDevice` and the three events above.
 */
import type { Provider } from "ethers";
import { getAddress } from "ethers";
import type { Logger } from "pino";
import { DeviceRegistry__factory, type DeviceRegistry } from "@triad/contracts";
import { checksumAddress, DeviceStatus, enumName, type DeviceStatusName } from "@triad/sdk";

export interface DeviceState {
  device: string;
  owner: string;
  status: DeviceStatusName;
  /** keccak256 of the sensor schema id string. */
  sensorSchema: string;
}

interface Entry {
  state: DeviceState | null; // null: not registered
  asOfBlock: number;
}

export interface RegistryCacheOptions {
  pollMs: number;
  logBlockRange: number;
  logger?: Logger;
}

/** Most unregistered addresses remembered at once. */
export const MAX_UNKNOWN = 100_000;

const EVENTS = ["DeviceRegistered", "DeviceStatusChanged", "DeviceOwnershipTransferred"] as const;

export class RegistryCache {
  readonly registry: DeviceRegistry;
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<DeviceState | null>>();
  /** Next block whose events have not been applied. */
  private nextBlock = 0;
  private syncedAt = 0;
  private headBlock = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private lastError: string | undefined;

  constructor(
    readonly address: string,
    private readonly provider: Provider,
    private readonly options: RegistryCacheOptions,
  ) {
    this.registry = DeviceRegistry__factory.connect(address, provider);
  }

  /** Starts following events from the current head and polls every `pollMs`. */
  async start(): Promise<void> {
    this.headBlock = await this.provider.getBlockNumber();
    this.nextBlock = this.headBlock + 1;
    this.syncedAt = Date.now();
    this.stopped = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .catch((error: unknown) => {
          this.lastError = (error as Error)?.message ?? String(error);
          this.options.logger?.warn({ err: this.lastError }, "registry poll failed; retrying");
        })
        .finally(() => {
          this.polling = undefined;
          this.schedule();
        });
    }, this.options.pollMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  /** Reads the events since the last poll up to the head and applies them. */
  async poll(): Promise<void> {
    const head = await this.provider.getBlockNumber();
    this.headBlock = head;
    const topics = EVENTS.map((name) => this.registry.interface.getEvent(name).topicHash);
    while (this.nextBlock <= head) {
      const toBlock = Math.min(head, this.nextBlock + this.options.logBlockRange - 1);
      const logs = await this.provider.getLogs({ address: this.address, topics: [topics], fromBlock: this.nextBlock, toBlock });
      for (const log of logs) {
        const parsed = this.registry.interface.parseLog(log);
        if (!parsed) continue;
        const device = getAddress(parsed.args[0] as string);
        const entry = this.entries.get(device);
        if (!entry || entry.asOfBlock >= log.blockNumber) continue; // unknown devices are looked up on first sight
        if (parsed.name === "DeviceRegistered") {
          entry.state = { device, owner: getAddress(parsed.args[1] as string), status: "Active", sensorSchema: parsed.args[2] as string };
        } else if (entry.state && parsed.name === "DeviceStatusChanged") {
          entry.state = { ...entry.state, status: enumName(DeviceStatus, parsed.args[2] as bigint) };
        } else if (entry.state && parsed.name === "DeviceOwnershipTransferred") {
          entry.state = { ...entry.state, owner: getAddress(parsed.args[2] as string) };
        }
        entry.asOfBlock = log.blockNumber;
      }
      this.nextBlock = toBlock + 1;
    }
    this.syncedAt = Date.now();
    this.lastError = undefined;
  }

  /** The cached state of `device`: a state, null (known not to be registered) or undefined (not looked up yet). */
  get(device: string): DeviceState | null | undefined {
    return this.entries.get(checksumAddress(device))?.state; // per reading: the memo spares a keccak256
  }

  /**
   * The state of `device`, from the cache or (first sight) from the chain at a pinned block. Concurrent lookups of one
   * device share one RPC round trip. Rejects when the RPC fails (the caller treats that as UNAVAILABLE).
   */
  lookup(device: string): Promise<DeviceState | null> {
    const key = getAddress(device);
    const cached = this.entries.get(key);
    if (cached) return Promise.resolve(cached.state);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = (async () => {
        // Read the device at the last block whose events the polls have applied; if a poll moved on meanwhile (and
        // skipped this then-unknown device's events), read again at the new block, so no event falls in between.
        for (let attempt = 0; attempt < 20; attempt++) {
          const block = this.nextBlock - 1;
          const d = await this.registry.getDevice(key, { blockTag: block });
          if (this.nextBlock - 1 !== block) continue;
          const status = enumName(DeviceStatus, d.status);
          const state: DeviceState | null =
            status === "None" ? null : { device: key, owner: getAddress(d.owner), status, sensorSchema: d.sensorSchema };
          if (!this.entries.has(key)) {
            if (state === null) this.evictUnknown();
            this.entries.set(key, { state, asOfBlock: block });
          }
          return this.entries.get(key)!.state;
        }
        throw new Error(`registry lookup of ${key} kept racing the event poll`);
      })().finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /**
   * Keeps the remembered unregistered addresses bounded (anyone can make up device keys): beyond
   * {@link MAX_UNKNOWN} the oldest are forgotten (and looked up again if they show up again).
   */
  private unknown = 0;
  private evictUnknown(): void {
    if (++this.unknown <= MAX_UNKNOWN) return;
    for (const [key, entry] of this.entries) {
      if (entry.state === null) {
        this.entries.delete(key);
        this.unknown--;
        if (this.unknown <= MAX_UNKNOWN) return;
      }
    }
  }

  /** When the cache last reached the chain head, how far it is, and the last poll error. */
  freshness(): { syncedAt: number; ageMs: number; nextBlock: number; headBlock: number; devices: number; lastError?: string } {
    return {
      syncedAt: this.syncedAt,
      ageMs: Date.now() - this.syncedAt,
      nextBlock: this.nextBlock,
      headBlock: this.headBlock,
      devices: this.entries.size,
      lastError: this.lastError,
    };
  }
}
