/**
 * Committee turns (issue 15, item 8; docs/protocol.md §11): in a k-of-n committee only k members submit a claim's
 * verdict at first, so nobody pays for an entry the contract skips because the claim was decided already.
 *
 * For claim `c` the members (in slot order, as `OracleCommittee.members()` lists them) are rotated by
 * `c.claimId mod n`; the first `threshold` of that order are the claim's **primaries** and submit as soon as they
 * have decided. The others are **backups**: a backup keeps its signed verdict until `ORACLE_BACKUP_DELAY_BLOCKS`
 * blocks after the claim became ready to decide (its block + the confirmation depth), then drops it when the claim is
 * decided, or submits it (a primary is down or slow). Everything is derived from the chain (the claim id, its block,
 * the committee), so every member agrees on the turns without talking to the others, and a restart re-derives the
 * same: a held verdict is not persisted, the checkpoint just never passes its claim (see ./confirm.ts).
 *
 * The committee is read once per session and again when its `configVersion()` changes (one call per tick) or after a
 * chain reset. A signer that is not in the list read (a stale view) acts as a primary: a turn never makes a claim
 * wait for nobody. With `ORACLE_BACKUP_DELAY_BLOCKS` not set, a node that mines on demand (automine: a dev node) gets
 * no turns, since no block would end a backup's wait without other traffic.
 */
import type { Logger } from "pino";
import { DEFAULT_BACKUP_DELAY_BLOCKS, type OracleConfig } from "../config.ts";
import type { DaemonDeps } from "./context.ts";
import type { SignedVerdict } from "./submit.ts";

/** The committee as the turns need it. */
export interface CommitteeView {
  /** Members in slot order, lower case. */
  members: string[];
  threshold: number;
  version: bigint;
}

/** A backup's signed verdict, kept until `dueBlock`. */
export interface HeldVerdict {
  signed: SignedVerdict;
  dueBlock: number;
}

/** What a session keeps for the turns. */
export interface Turns {
  /** The backup delay in blocks in force (0: no turns); undefined until the first tick (again after a reset). */
  delay?: number;
  /** Undefined: not read yet (or forgotten by a reset), or turns are off. */
  view?: CommitteeView;
  /** Held verdicts by claim id (decimal). */
  held: Map<string, HeldVerdict>;
}

export function createTurns(): Turns {
  return { held: new Map() };
}

/** The committee's members, threshold and configuration version (three calls in parallel). */
export async function readCommittee(deps: Pick<DaemonDeps, "rpc" | "contracts">): Promise<CommitteeView> {
  const { rpc } = deps;
  const committee = deps.contracts.committee;
  const [members, threshold, version] = await Promise.all([
    rpc.call("members", () => committee.members()),
    rpc.call("threshold", () => committee.threshold()),
    rpc.call("configVersion", () => committee.configVersion()),
  ]);
  return { members: [...members].map((m) => String(m).toLowerCase()), threshold: Number(threshold), version: BigInt(version) };
}

/**
 * Whether the node mines only when a transaction arrives (Hardhat's and anvil's automine). Asked directly, not
 * through the counted RPC wrapper: any other node answers "method not found", which is no RPC error here.
 */
export async function minesOnDemand(provider: DaemonDeps["provider"], timeoutMs: number): Promise<boolean> {
  const send = (provider as { send?: (method: string, params: unknown[]) => Promise<unknown> }).send;
  if (typeof send !== "function") return false;
  for (const method of ["hardhat_getAutomine", "anvil_getAutomine"]) {
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        send.call(provider, method, []),
        new Promise((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
      ]);
      if (answer === true) return true;
      if (answer === false) return false;
    } catch {
      // not this node's method
    } finally {
      clearTimeout(timer);
    }
  }
  return false;
}

/** The delay in force: the configured one, else the default unless the node mines on demand. */
async function resolveDelay(deps: Pick<DaemonDeps, "config" | "provider">, log?: Logger): Promise<number> {
  const configured = deps.config.backupDelayBlocks;
  if (configured !== undefined) return configured;
  if (await minesOnDemand(deps.provider, Math.min(deps.config.rpcTimeoutMs, 10_000))) {
    log?.info("the node mines on demand (automine): committee turns off, every member submits at once (ORACLE_BACKUP_DELAY_BLOCKS)");
    return 0;
  }
  return DEFAULT_BACKUP_DELAY_BLOCKS;
}

/**
 * Once per tick: the delay resolved (first tick, or after a reset), then, with turns on, the committee read, or read
 * again when its configuration version changed.
 */
export async function refreshCommittee(
  deps: Pick<DaemonDeps, "rpc" | "contracts" | "config" | "provider">,
  turns: Turns,
  log?: Logger,
): Promise<void> {
  turns.delay ??= await resolveDelay(deps, log);
  if (turns.delay === 0) {
    turns.view = undefined;
    return;
  }
  if (turns.view) {
    const committee = deps.contracts.committee;
    const version = BigInt(await deps.rpc.call("configVersion", () => committee.configVersion()));
    if (version === turns.view.version) return;
  }
  turns.view = await readCommittee(deps);
}

/**
 * `member`'s place in claim `claimId`'s order (0 = first), or undefined when `member` is not in `view`. Primary:
 * `position < threshold`.
 */
export function turnPosition(view: CommitteeView, member: string, claimId: bigint): number | undefined {
  const n = view.members.length;
  const index = view.members.indexOf(member.toLowerCase());
  if (index < 0 || n === 0) return undefined;
  const rotation = Number(claimId % BigInt(n));
  return (index - rotation + n) % n;
}

/** Whether `member` submits claim `claimId`'s verdict at once (turns off, or not in the view: yes). */
export function isPrimary(view: CommitteeView | undefined, member: string, claimId: bigint): boolean {
  if (!view) return true;
  const position = turnPosition(view, member, claimId);
  return position === undefined || position < view.threshold;
}

/** The first head at which a backup submits the verdict of a claim filed in `claimBlock`. */
export function dueBlock(config: Pick<OracleConfig, "confirmations">, delay: number, claimBlock: number): number {
  return claimBlock + config.confirmations + delay;
}
