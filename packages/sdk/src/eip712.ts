import type { TypedDataDomain, TypedDataField } from "ethers";

/**
 * The normative EIP-712 domains and types of docs/protocol.md. This module is the only place that defines them:
 * the oracle, tasks, tests and dApps import them from here.
 */

export const DEVICE_REGISTRY_DOMAIN_NAME = "Triad DeviceRegistry";
export const CLAIMS_DOMAIN_NAME = "Triad ClaimsInsurance";
export const DOMAIN_VERSION = "1";

/** Domain of `DeviceBinding` and `Reading` signatures. */
export function deviceRegistryDomain(chainId: bigint | number, registry: string): TypedDataDomain {
  return { name: DEVICE_REGISTRY_DOMAIN_NAME, version: DOMAIN_VERSION, chainId: BigInt(chainId), verifyingContract: registry };
}

/** Domain of `Verdict` signatures. */
export function claimsDomain(chainId: bigint | number, claims: string): TypedDataDomain {
  return { name: CLAIMS_DOMAIN_NAME, version: DOMAIN_VERSION, chainId: BigInt(chainId), verifyingContract: claims };
}

export const DEVICE_BINDING_TYPES: Record<string, TypedDataField[]> = {
  DeviceBinding: [
    { name: "device", type: "address" },
    { name: "owner", type: "address" },
    { name: "metadataHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

export const READING_TYPES: Record<string, TypedDataField[]> = {
  Reading: [
    { name: "device", type: "address" },
    { name: "seq", type: "uint64" },
    { name: "timestamp", type: "uint64" },
    { name: "values", type: "int64[]" },
  ],
};

export const VERDICT_TYPES: Record<string, TypedDataField[]> = {
  Verdict: [
    { name: "claimId", type: "uint256" },
    { name: "evidenceHash", type: "bytes32" },
    { name: "modelHash", type: "bytes32" },
    { name: "approved", type: "bool" },
    { name: "payout", type: "uint256" },
    { name: "scoreBps", type: "uint16" },
    { name: "reason", type: "uint8" },
    { name: "deadline", type: "uint64" },
  ],
};

/** `DeviceBinding(address device,address owner,bytes32 metadataHash,uint256 nonce,uint256 deadline)` */
export interface DeviceBinding {
  device: string;
  owner: string;
  metadataHash: string;
  nonce: bigint;
  deadline: bigint;
}

/** `Reading(address device,uint64 seq,uint64 timestamp,int64[] values)` */
export interface Reading {
  device: string;
  seq: bigint;
  timestamp: bigint;
  values: bigint[];
}

/** A reading with the device key's signature over its EIP-712 digest. */
export interface SignedReading extends Reading {
  signature: string;
}

/**
 * `Verdict(uint256 claimId,bytes32 evidenceHash,bytes32 modelHash,bool approved,uint256 payout,uint16 scoreBps,uint8 reason,uint64 deadline)`
 * — `deadline` is the claim's assessment deadline as stored on-chain, `scoreBps` the model score rounded down,
 * `reason` the reason code of `CLAIM_REASONS` (claim-reasons.ts): 0 exactly when `approved` (the contract refuses
 * anything else).
 */
export interface Verdict {
  claimId: bigint;
  evidenceHash: string;
  modelHash: string;
  approved: boolean;
  payout: bigint;
  scoreBps: number;
  reason: number;
  deadline: bigint;
}
