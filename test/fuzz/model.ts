import { expect } from "chai";
import fc from "fast-check";
import {
  ErrorFragment,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type ErrorDescription,
  type Interface,
  type LogDescription,
} from "ethers";

/**
 * What the fuzz suite (entrypoints.*.property.test.ts, one file per contract group) shares: the outcome checking of a
 * call, and generic generators.
 *
 * Property-based fuzzing of the contracts' entry points: random arguments from random callers, in random order.
 * Every call must either
 *   - succeed, and then move exactly the tokens and state it should (checked against a model or a balance delta),
 *     keeping each contract's accounting invariant, or
 *   - revert with a custom error DECLARED in the ABI of the called contract or of a collaborator it calls (the
 *     ERC-20; for ClaimsInsurance also the pool and the committee), decoded from the revert data.
 * A revert without data, with `Error(string)`, with a `Panic` (overflow, bounds, enum) or with an unknown selector
 * fails the property. Arguments stay within their ABI types (an out-of-range enum or integer is refused by the ABI
 * decoder or by ethers before any contract code runs).
 *
 * Complements test/insurance/Insurance.property.test.ts, which drives well-formed lifecycles (valid claims, honest
 * verdicts) and checks the insurance money invariants; here the arguments themselves are random.
 */

const PANIC_SELECTOR = "0x4e487b71";
const ERROR_STRING_SELECTOR = "0x08c379a0";
export const MAX64 = 2n ** 64n - 1n;
export const MAX128 = 2n ** 128n - 1n;
export const MAX256 = 2n ** 256n - 1n;
export const BPS = 10_000n;
export const FUZZ = { numRuns: 20, endOnFailure: true, seed: Number(process.env.FUZZ_SEED ?? 20_261_122) } as const;

// ------------------------------------------------------------------ outcome checking

export type Outcome = { ok: true; receipt: ContractTransactionReceipt } | { ok: false; error: ErrorDescription };

/** Entry point -> outcome ("ok" or error name) -> count, over the whole run (every fuzz file of the process). */
const outcomes = new Map<string, Map<string, number>>();

function record(entry: string, outcome: string) {
  const m = outcomes.get(entry) ?? new Map<string, number>();
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
  outcomes.set(entry, m);
}

/** The revert data carried by an ethers / Hardhat error, if any. */
function revertData(e: unknown): string | undefined {
  const candidates = [
    (e as { data?: unknown }).data,
    (e as { error?: { data?: unknown } }).error?.data,
    (e as { info?: { error?: { data?: unknown } } }).info?.error?.data,
  ];
  for (const c of candidates) {
    if (typeof c === "string") return c;
    const nested = (c as { data?: unknown } | undefined)?.data;
    if (typeof nested === "string") return nested;
  }
  return undefined;
}

/** The error the revert data encodes, if one of `declared` declares it (its own fragments, not ethers' built-ins). */
function decodeDeclared(data: string, declared: readonly Interface[]): ErrorDescription | undefined {
  const selector = data.slice(0, 10).toLowerCase();
  for (const iface of declared) {
    const fragment = iface.fragments.find((f): f is ErrorFragment => ErrorFragment.isFragment(f) && f.selector === selector);
    if (fragment) return iface.parseError(data) ?? undefined;
  }
  return undefined;
}

/**
 * Sends a transaction and classifies it. A revert must be a custom error that one of `declared` declares; anything
 * else fails the test with the entry point's name.
 */
export async function call(
  entry: string,
  declared: readonly Interface[],
  send: () => Promise<ContractTransactionResponse>,
): Promise<Outcome> {
  let tx: ContractTransactionResponse;
  try {
    tx = await send();
  } catch (e) {
    const data = revertData(e);
    const message = (e as Error).message;
    expect(data, `${entry}: reverted without revert data (${message})`).to.match(/^0x[0-9a-fA-F]{8}/);
    const selector = data!.slice(0, 10).toLowerCase();
    expect(selector, `${entry}: panic (${message})`).to.not.equal(PANIC_SELECTOR);
    expect(selector, `${entry}: string revert (${message})`).to.not.equal(ERROR_STRING_SELECTOR);
    const error = decodeDeclared(data!, declared);
    expect(error, `${entry}: undeclared error ${selector} (${message})`).to.not.equal(undefined);
    record(entry, error!.name);
    return { ok: false, error: error! };
  }
  const receipt = (await tx.wait())!;
  record(entry, "ok");
  return { ok: true, receipt };
}

/** The logs of `receipt` emitted by `address`, decoded with `iface`. */
export function eventsOf(receipt: ContractTransactionReceipt, address: string, iface: Interface): LogDescription[] {
  return receipt.logs
    .filter((l) => l.address.toLowerCase() === address.toLowerCase())
    .map((l) => iface.parseLog(l))
    .filter((l): l is LogDescription => l !== null);
}

export function expectEvent(events: LogDescription[], name: string, args: unknown[]) {
  const found = events.filter((e) => e.name === name);
  expect(found.length, `event ${name}`).to.equal(1);
  expect(found[0].args.toArray(), `event ${name} args`).to.deep.equal(args);
}

/** With FUZZ_STATS set, prints the outcomes of the entry points whose names start with one of `prefixes`. */
export function logOutcomes(prefixes: readonly string[]) {
  if (!process.env.FUZZ_STATS) return;
  for (const [entry, m] of outcomes) {
    if (prefixes.some((p) => entry.startsWith(p))) console.log(entry.padEnd(34), Object.fromEntries(m));
  }
}

/** Every listed entry point must have succeeded at least once: generators that never reach success test nothing. */
export function expectEverySucceeded(entries: readonly string[]) {
  for (const entry of entries) expect(outcomes.get(entry)?.get("ok") ?? 0, `${entry} never succeeded`).to.be.greaterThan(0);
}

/** Token balances of `accounts`, to compare before and after a call. */
export async function balances(token: { balanceOf(a: string): Promise<bigint> }, accounts: readonly string[]): Promise<bigint[]> {
  return Promise.all(accounts.map((a) => token.balanceOf(a)));
}

/** The `i`-th element of `list`, modulo its length. */
export const pick = <T>(list: readonly T[], i: number): T => list[i % list.length];

/** An id among `1..count` four times in five, else one that does not exist (0 or count + 1). */
export const idFor = (i: number, count: bigint): bigint =>
  count === 0n || i % 5 === 0 ? (i % 10 === 0 ? 0n : count + 1n) : 1n + (BigInt(i) % count);

/** A weighted choice between a mostly-valid and an arbitrary value. */
export function mostly<T>(valid: fc.Arbitrary<T>, ...others: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 6 * others.length, arbitrary: valid }, ...others.map((arbitrary) => ({ weight: 1, arbitrary })));
}

export const index = fc.nat({ max: 1_000 });
export const uint = (max: bigint) => fc.bigInt({ min: 0n, max });
