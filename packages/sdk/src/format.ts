import { InvalidInputError } from "./errors.ts";

/**
 * Values for people, one way everywhere (the CLI, error sentences, a web app): token amounts in whole tokens with
 * the token's symbol, times as ISO dates with how far they are from "now" (the chain's time, which a local chain may
 * have moved ahead of the wall clock), durations in the largest sensible unit, basis points as percentages.
 * Token amounts are printed without thousands separators, so that a printed amount can be pasted back as an option.
 */

/** What a token amount needs to be printed: its symbol and decimals (read once from the token). */
export interface TokenInfo {
  symbol: string;
  decimals: number;
}

/** `units` base units of a token with `decimals` decimals as a decimal string, exactly: 1500000 (6) → "1.5". */
export function formatUnitsExact(units: bigint, decimals: number): string {
  const neg = units < 0n;
  const abs = neg ? -units : units;
  const scale = 10n ** BigInt(decimals);
  const frac = (abs % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${abs / scale}${frac ? `.${frac}` : ""}`;
}

/** Above this many whole tokens an amount is printed in scientific notation (it is a limit, not money anyone holds). */
const HUGE = 10n ** 15n;

/**
 * A token amount for people: "1500 tUSD", "12.5 tUSD"; an absurdly large one (a type's limit) as "3.4e32 tUSD".
 * Without a token, the base units are named as such, so a raw number is never mistaken for whole tokens.
 */
export function formatTokens(units: bigint, token?: TokenInfo): string {
  if (!token) return `${units} base units`;
  const whole = (units < 0n ? -units : units) / 10n ** BigInt(token.decimals);
  if (whole >= HUGE) return `${scientific(whole)} ${token.symbol}`;
  return `${formatUnitsExact(units, token.decimals)} ${token.symbol}`;
}

/** 340282366920938463463374607431 → "3.4e29" (two significant digits, rounded down: a limit is never overstated). */
export function scientific(n: bigint): string {
  const digits = n.toString();
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits[1]}`.replace(/\.0$/, "") : digits;
  return `${mantissa}e${digits.length - 1}`;
}

/**
 * Parses an amount in whole tokens ("100", "12.5", "1e3", "2.5e-3") into base units, exactly (no floating point).
 * `label` names the option in errors ("--price"); `max` (base units) is the largest value the field can hold, named
 * by `maxLabel` ("the largest price").
 */
export function parseTokenAmount(
  text: string | undefined,
  decimals: number,
  options: { label: string; max?: bigint; maxLabel?: string; symbol?: string },
): bigint {
  const { label } = options;
  const v = text?.trim() ?? "";
  const m = /^(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d{1,4}))?$/.exec(v);
  if (!m) throw new InvalidInputError(`${label} must be an amount in whole tokens such as 100 or 12.5, got "${v}"`, { label, value: v });
  const digits = m[1] + (m[2] ?? "");
  // value = digits × 10^(exponent − fraction length); in base units, × 10^decimals.
  const shift = Number(m[3] ?? 0) - (m[2]?.length ?? 0) + decimals;
  let units: bigint;
  if (shift >= 0) units = BigInt(digits) * 10n ** BigInt(shift);
  else {
    const scale = 10n ** BigInt(-shift);
    if (BigInt(digits) % scale !== 0n) {
      throw new InvalidInputError(`${label} has more than ${decimals} decimals: "${v}" (the token has ${decimals})`, { label, value: v });
    }
    units = BigInt(digits) / scale;
  }
  if (options.max !== undefined && units > options.max) {
    const token = { symbol: options.symbol ?? "tokens", decimals };
    throw new InvalidInputError(`${label} ${v} is above ${options.maxLabel ?? "the largest amount"}, ${formatTokens(options.max, token)}`, {
      label,
      value: v,
      max: options.max.toString(),
    });
  }
  return units;
}

/** "in 2 min", "3 h ago", "now": how far `t` is from `now` (both unix seconds). */
export function formatRelative(t: bigint | number, now: bigint | number): string {
  const delta = Number(t) - Number(now);
  if (delta === 0) return "now";
  const span = formatDuration(Math.abs(delta));
  return delta > 0 ? `in ${span}` : `${span} ago`;
}

/**
 * A duration for people, in its largest unit, rounded to one decimal: "45 s", "2 min", "1.5 h", "30 days" (so a
 * deadline 1.99 days away reads "2 days"). Exact multiples print without decimals ("7 days").
 */
export function formatDuration(seconds: bigint | number): string {
  const s = Number(seconds);
  const units: [number, string][] = [
    [86_400, " days"],
    [3_600, " h"],
    [60, " min"],
  ];
  for (const [size, name] of units) {
    if (s >= size) {
      const value = Math.round((s / size) * 10) / 10;
      const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
      return text === "1" && name === " days" ? "1 day" : `${text}${name}`;
    }
  }
  return `${s} s`;
}

/**
 * A unix time for people: "2026-03-01T12:00:00Z", with its distance from `now` when given: "… (in 2 min)". Zero
 * (an unset time in the contracts) prints as "-".
 */
export function formatTimestamp(t: bigint | number, now?: bigint | number): string {
  const n = Number(t);
  if (n === 0) return "-";
  const iso = Number.isSafeInteger(n) && n < 8.64e12 ? new Date(n * 1000).toISOString().replace(".000Z", "Z") : `unix time ${t}`;
  return now === undefined ? iso : `${iso} (${formatRelative(t, now)})`;
}

/** Basis points as a percentage: 250 → "2.5 %". */
export function formatBps(bps: bigint | number): string {
  const n = Number(bps);
  return `${Number.isInteger(n / 100) ? n / 100 : (n / 100).toFixed(2).replace(/0$/, "")} %`;
}
