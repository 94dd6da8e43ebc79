import { id } from "ethers";
import { InvalidInputError } from "./errors.ts";

/**
 * The contracts' enums and role identifiers, defined once for every TypeScript user (docs/protocol.md, sections on
 * devices, insurance, marketplace and roles). Each enum is a list of names in declaration order, so the ABI's number
 * is the index: `enumName(ClaimStatus, claim.status)` gives the name, `enumValue(ClaimStatus, "Paid")` the number and
 * `enumValues(ClaimStatus)` every number by name.
 */
export const DeviceStatus = ["None", "Active", "Suspended", "Revoked"] as const;
export const ClaimStatus = ["None", "Filed", "Approved", "Rejected", "Appealed", "Escalated", "Paid", "Closed"] as const;
export const ModelStatus = ["None", "Approved", "Retired"] as const;
export const ListingKind = ["Dataset", "Stream", "Model"] as const;
export const ListingStatus = ["None", "Active", "Paused", "Closed", "TakenDown"] as const;
export const PurchaseStatus = ["None", "Pending", "Delivered", "Refunded"] as const;
/** `IClaimsInsurance.GatewayPolicy`: which fleet-anchoring gateways a product accepts (docs/protocol.md §10.1). */
export const GatewayPolicy = ["AnyAuthorised", "Allowlist"] as const;

export type DeviceStatusName = (typeof DeviceStatus)[number];
export type ClaimStatusName = (typeof ClaimStatus)[number];
export type ModelStatusName = (typeof ModelStatus)[number];
export type ListingKindName = (typeof ListingKind)[number];
export type ListingStatusName = (typeof ListingStatus)[number];
export type PurchaseStatusName = (typeof PurchaseStatus)[number];
export type GatewayPolicyName = (typeof GatewayPolicy)[number];

/** The ABI value (a uint8 as bigint) of `name` in `names`; a name that is not in the list is an error rather than -1. */
export function enumValue<const T extends readonly string[]>(names: T, name: T[number]): bigint {
  const index = names.indexOf(name);
  if (index < 0) throw new InvalidInputError(`"${name}" is not one of ${names.join(", ")}`, { name });
  return BigInt(index);
}

/** Every name of an enum mapped to its ABI value, e.g. `enumValues(ClaimStatus)` is `{ None: 0n, Filed: 1n, …, Closed: 7n }`. */
export type EnumValues<T extends readonly string[]> = { readonly [K in T[number]]: bigint };

/**
 * {@link enumValue} for every name at once, for code that compares many values (tests, mostly):
 * `const Status = enumValues(ClaimStatus); expect(claim.status).to.equal(Status.Paid)`.
 */
export function enumValues<const T extends readonly string[]>(names: T): EnumValues<T> {
  return Object.freeze(Object.fromEntries(names.map((name, i) => [name, BigInt(i)]))) as EnumValues<T>;
}

/** The name of an ABI enum value; an unknown value is an error rather than `undefined`. */
export function enumName<const T extends readonly string[]>(names: T, value: bigint | number): T[number] {
  const name = names[Number(value)];
  if (name === undefined)
    throw new InvalidInputError(`enum value ${value} is out of range (0..${names.length - 1})`, { value: Number(value) });
  return name;
}

/** Role identifiers of the contracts' AccessControl: `keccak256(name)`, as each contract declares them. */
export const ROLES = {
  DEFAULT_ADMIN_ROLE: "0x0000000000000000000000000000000000000000000000000000000000000000",
  DEVICE_ADMIN_ROLE: id("DEVICE_ADMIN_ROLE"),
  COMMITTEE_MANAGER_ROLE: id("COMMITTEE_MANAGER_ROLE"),
  CLAIMS_ROLE: id("CLAIMS_ROLE"),
  INSURER_ROLE: id("INSURER_ROLE"),
  ARBITER_ROLE: id("ARBITER_ROLE"),
  GUARDIAN_ROLE: id("GUARDIAN_ROLE"),
  MARKET_ADMIN_ROLE: id("MARKET_ADMIN_ROLE"),
  FEE_MANAGER_ROLE: id("FEE_MANAGER_ROLE"),
} as const;

/** Order of the secp256k1 group: a private key is a number in [1, N), a canonical signature's s at most N / 2. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/**
 * Parses a secp256k1 private key given as 64 hex digits (with or without 0x) into its 0x-prefixed form. `label`
 * names it in the error (e.g. "--device-key", "ORACLE_PRIVATE_KEY"); the error never echoes the key itself.
 */
export function parsePrivateKey(value: string | undefined, label: string): string {
  const v = value?.trim() ?? "";
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(v)) {
    throw new InvalidInputError(`${label} must be a 32-byte hex private key (64 hex digits), got ${maskSecret(v)}`, { label });
  }
  const key = v.startsWith("0x") ? v : `0x${v}`;
  const n = BigInt(key);
  if (n === 0n || n >= SECP256K1_N) {
    throw new InvalidInputError(`${label} must be a secp256k1 private key: a number from 1 to the curve order - 1`, { label });
  }
  return key;
}

function maskSecret(v: string): string {
  if (v === "") return "nothing";
  return v.length > 10 ? `"${v.slice(0, 6)}…" (${v.length} characters)` : `"${v}"`;
}
