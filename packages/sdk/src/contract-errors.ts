import { ErrorFragment, Interface, getAddress, id, isHexString, type InterfaceAbi, type Result } from "ethers";
import {
  IClaimsInsurance__factory,
  IDataMarketplace__factory,
  IDeviceRegistry__factory,
  IInsurancePool__factory,
  IOracleCommittee__factory,
} from "@triad/contracts";
import { AI4I_SCHEMA } from "./ai4i.ts";
import { ClaimStatus, DeviceStatus, ListingKind, ListingStatus, PurchaseStatus, ROLES } from "./enums.ts";
import { ContractRefusedError, NotFoundError, type TriadError } from "./errors.ts";
import { formatBps, formatDuration, formatTimestamp, formatTokens, formatUnitsExact, type TokenInfo } from "./format.ts";

/**
 * Every custom error the Triad contracts can revert with, as one sentence a user can act on: token amounts in tokens
 * with the symbol, enums by name, times as dates with how far away they are ("in 2 min"), and one wording for a thing
 * that does not exist ("claim 99 does not exist"). {@link explainContractError} finds the revert data in whatever a
 * provider threw (ethers nests it differently for calls, estimates and sends), decodes it against all the contracts
 * at once (a revert can come from another contract than the one called: the pool under `buyPolicy`, the token under
 * `purchase`) and returns a {@link NotFoundError} or a {@link ContractRefusedError} whose `details` carry the error's
 * name and its raw arguments (decimal strings), for programs.
 *
 * A test parses `contracts/interfaces/*.sol` and the deployed contracts' ABIs and fails when an error has no sentence.
 */

/** How to print the values of a sentence. Everything is optional: without a token, amounts are named as base units. */
export interface ExplainContext {
  /** The deployment's ERC-20 (premiums, capital, payouts, prices). */
  token?: TokenInfo;
  /** Decimals of the pool's shares (the pool's `decimals()`), to print shares in whole shares. */
  shareDecimals?: number;
  /** The chain's current time (latest block), for "in 2 min"; errors that carry the block time use theirs. */
  now?: bigint;
  /** The acting account: named "you" in sentences. */
  account?: string;
}

/** The errors of OpenZeppelin code inside the contracts (not declared in our interfaces). */
const LIBRARY_ERRORS = [
  "error AccessControlBadConfirmation()",
  "error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)",
  "error CheckpointUnorderedInsertion()",
  "error InvalidShortString()",
  "error StringTooLong(string str)",
  "error ReentrancyGuardReentrantCall()",
  "error SafeCastOverflowedUintDowncast(uint8 bits, uint256 value)",
  "error SafeERC20FailedOperation(address token)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InvalidApprover(address approver)",
  "error ERC20InvalidReceiver(address receiver)",
  "error ERC20InvalidSender(address sender)",
  "error ERC20InvalidSpender(address spender)",
  "error ERC4626ExceededMaxDeposit(address receiver, uint256 assets, uint256 max)",
  "error ERC4626ExceededMaxMint(address receiver, uint256 shares, uint256 max)",
  "error ERC4626ExceededMaxRedeem(address owner, uint256 shares, uint256 max)",
  "error ERC4626ExceededMaxWithdraw(address owner, uint256 assets, uint256 max)",
  "error ERC721IncorrectOwner(address sender, uint256 tokenId, address owner)",
  "error ERC721InsufficientApproval(address operator, uint256 tokenId)",
  "error ERC721InvalidApprover(address approver)",
  "error ERC721InvalidOperator(address operator)",
  "error ERC721InvalidOwner(address owner)",
  "error ERC721InvalidReceiver(address receiver)",
  "error ERC721InvalidSender(address sender)",
  "error ERC721NonexistentToken(uint256 tokenId)",
  "error EnforcedPause()",
  "error ExpectedPause()",
  "error ECDSAInvalidSignature()",
  "error ECDSAInvalidSignatureLength(uint256 length)",
  "error ECDSAInvalidSignatureS(bytes32 s)",
  "error ERC2612ExpiredSignature(uint256 deadline)",
  "error ERC2612InvalidSigner(address signer, address owner)",
  "error InvalidAccountNonce(address account, uint256 currentNonce)",
  "error OwnableInvalidOwner(address owner)",
  "error OwnableUnauthorizedAccount(address account)",
];

const INTERFACE_ABIS: readonly InterfaceAbi[] = [
  IDeviceRegistry__factory.abi,
  IOracleCommittee__factory.abi,
  IInsurancePool__factory.abi,
  IClaimsInsurance__factory.abi,
  IDataMarketplace__factory.abi,
];

let errorsInterface: Interface | undefined;

/** One Interface with the custom errors of every Triad contract and of the library code inside them (each once). */
export function contractErrorsInterface(): Interface {
  if (!errorsInterface) {
    const seen = new Set<string>();
    const fragments: ErrorFragment[] = [];
    const add = (fragment: ErrorFragment) => {
      const signature = fragment.format("sighash");
      if (seen.has(signature)) return;
      seen.add(signature);
      fragments.push(fragment);
    };
    for (const abi of INTERFACE_ABIS) {
      for (const fragment of new Interface(abi).fragments) if (fragment.type === "error") add(fragment as ErrorFragment);
    }
    for (const text of LIBRARY_ERRORS) add(ErrorFragment.from(text));
    errorsInterface = new Interface(fragments);
  }
  return errorsInterface;
}

/** A decoded revert: a custom error by name with its arguments, `Error(string)`, a `Panic(uint256)`, or no data. */
export type DecodedRevert =
  | { kind: "custom"; name: string; args: Result; fragment: ErrorFragment }
  | { kind: "reason"; reason: string }
  | { kind: "panic"; code: bigint }
  | { kind: "empty" };

/** Decodes revert data (hex) against every Triad contract's errors; undefined when it is none of them. */
export function decodeRevertData(data: string): DecodedRevert | undefined {
  if (data === "0x") return { kind: "empty" };
  if (!isHexString(data) || data.length < 10) return undefined;
  const selector = data.slice(0, 10).toLowerCase();
  try {
    if (selector === "0x08c379a0")
      return { kind: "reason", reason: String(Interface.from(["error Error(string)"]).decodeErrorResult("Error", data)[0]) };
    if (selector === "0x4e487b71")
      return { kind: "panic", code: Interface.from(["error Panic(uint256)"]).decodeErrorResult("Panic", data)[0] as bigint };
    const parsed = contractErrorsInterface().parseError(data);
    if (parsed) return { kind: "custom", name: parsed.name, args: parsed.args, fragment: parsed.fragment };
  } catch {
    // Data that does not decode as the error its selector names.
  }
  return undefined;
}

/**
 * The revert data inside whatever a provider or ethers threw: `err.data` of a CALL_EXCEPTION, or nested in
 * `err.info.error`, `err.error`, `err.cause` (JSON-RPC error objects of estimateGas / sendTransaction). Undefined
 * when the error is not a revert.
 */
export function findRevertData(err: unknown, depth = 0): string | undefined {
  if (depth > 6 || err === null || typeof err !== "object") return undefined;
  const e = err as { data?: unknown; code?: unknown; info?: { error?: unknown }; error?: unknown; cause?: unknown; revert?: unknown };
  if (typeof e.data === "string" && isHexString(e.data) && (e.data.length >= 10 || (e.data === "0x" && e.code === "CALL_EXCEPTION"))) {
    return e.data;
  }
  if (e.data && typeof e.data === "object") {
    const nested = findRevertData(e.data, depth + 1);
    if (nested) return nested;
  }
  for (const inner of [e.info?.error, e.error, e.cause]) {
    const nested = findRevertData(inner, depth + 1);
    if (nested) return nested;
  }
  return undefined;
}

// ------------------------------------------------------------------ the sentences

/** How a sentence prints its values (see {@link ExplainContext}). */
export interface SentenceFormat {
  amount(units: bigint): string;
  shares(shares: bigint): string;
  /** A time, relative to `now` when given (the block time an error carries), else to the context's. */
  time(t: bigint, now?: bigint): string;
  duration(seconds: bigint): string;
  bps(bps: bigint): string;
  /** An address; the acting account reads "you (0x…)". */
  who(address: string): string;
  /** An enum value by name; a value outside the enum prints as its number. */
  name(names: readonly string[], value: bigint): string;
  schema(hash: string): string;
  role(hash: string): string;
}

/** Args by the error's parameter names (ethers' Result as an object). */
// Each sentence reads the parameters its error declares; the table is checked against the ABIs by a test.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Args = Record<string, any>;

interface Sentence {
  say: (a: Args, f: SentenceFormat) => string;
  /** When the error means that the thing asked about does not exist (exit class "not found"). */
  notFound?: (a: Args) => boolean;
}

const always = () => true;
const statusNone = (a: Args) => a.status === 0n;
const ZERO = "0x0000000000000000000000000000000000000000";

const CLAIM_STATUS_SENTENCES: Record<string, (id: string) => string> = {
  Filed: (id) => `claim ${id} has no verdict yet (Filed): the committee is still deciding it`,
  Approved: (id) => `claim ${id} is already decided (Approved)`,
  Rejected: (id) => `claim ${id} is already decided (Rejected)`,
  Appealed: (id) => `claim ${id} is with the arbiter (Appealed): only the arbiter can decide it now`,
  Escalated: (id) => `claim ${id} is with the arbiter (Escalated: no verdict came by its deadline)`,
  Paid: (id) => `claim ${id} is settled already (Paid)`,
  Closed: (id) => `claim ${id} is settled already (Closed)`,
};

const DEVICE_STATUS_AT_INCIDENT: Record<string, string> = {
  None: "not registered yet",
  Suspended: "Suspended",
  Revoked: "Revoked",
  Active: "Active",
};

/** The sentence of every custom error, by error name. */
export const CONTRACT_ERROR_SENTENCES: Readonly<Record<string, Sentence>> = {
  // ---------------------------------------------------------------- ClaimsInsurance
  ClaimsZeroAddress: { say: () => "the zero address is not allowed here" },
  ClaimsInvalidProduct: {
    say: (a, f) => `the product's ${f.name(PRODUCT_FIELDS, a.field)} is out of range`,
  },
  ClaimsUnknownProduct: { say: (a) => `product ${a.productId} does not exist`, notFound: always },
  ClaimsProductInactive: { say: (a) => `product ${a.productId} does not sell new policies any more` },
  ClaimsZeroModel: { say: () => "the zero hash is not a model" },
  ClaimsNotDeviceOwner: {
    say: (a, f) =>
      a.owner === ZERO
        ? `device ${a.device} is not registered`
        : `device ${a.device} is owned by ${f.who(a.owner)}, not by ${f.who(a.caller)}: only its owner can insure it`,
    notFound: (a) => a.owner === ZERO,
  },
  ClaimsDeviceNotActive: {
    say: (a, f) =>
      a.status === 0n
        ? `device ${a.device} is not registered`
        : `device ${a.device} is ${f.name(DeviceStatus, a.status)}: only an Active device can be insured`,
    notFound: statusNone,
  },
  ClaimsSensorSchemaMismatch: {
    say: (a, f) =>
      `device ${a.device} reports sensor schema ${f.schema(a.sensorSchema)}, but the product covers ${f.schema(a.expected)} devices`,
  },
  ClaimsDeviceAlreadyCovered: {
    say: (a, f) =>
      `device ${a.device} is already covered by another policy until ${f.time(a.coveredUntil)}: a device holds one policy at a time`,
  },
  ClaimsInvalidCoverage: {
    say: (a, f) =>
      `coverage of ${f.amount(a.coverage)} is not allowed: the product covers more than 0 and at most ${f.amount(a.maxCoverage)}`,
  },
  ClaimsInvalidDuration: {
    say: (a, f) =>
      `a policy of ${f.duration(a.duration)} is outside the product's terms: from ${f.duration(a.minDuration)} to ${f.duration(a.maxDuration)}`,
  },
  ClaimsUnknownPolicy: { say: (a) => `policy ${a.policyId} does not exist`, notFound: always },
  ClaimsNotPolicyHolder: {
    say: (a, f) =>
      `policy ${a.policyId} is held by ${f.who(a.holder)}, not by ${f.who(a.caller)}: only the holder of the policy can do this`,
  },
  ClaimsClaimOpen: {
    say: (a) =>
      `policy ${a.policyId} already has claim ${a.claimId} in progress: one claim at a time (see claim:show --claim ${a.claimId})`,
  },
  ClaimsCoverageReleased: {
    say: (a) => `policy ${a.policyId} has ended and its coverage went back to the pool: it covers nothing any more`,
  },
  ClaimsInvalidAmount: {
    say: (a, f) =>
      a.remaining === 0n
        ? `policy ${a.policyId} has no coverage left to claim`
        : `a claim on policy ${a.policyId} must be more than 0 and at most its remaining coverage, ${f.amount(a.remaining)}, not ${f.amount(a.amount)}`,
  },
  ClaimsIncidentNotCovered: {
    say: (a, f) =>
      a.incidentAt < a.coveredFrom
        ? `policy ${a.policyId} does not cover an incident at ${f.time(a.incidentAt)}: its cover starts after the waiting period, at ${f.time(a.coveredFrom)}`
        : `policy ${a.policyId} does not cover an incident at ${f.time(a.incidentAt)}: its cover ended at ${f.time(a.coveredUntil)}`,
  },
  ClaimsIncidentInFuture: {
    say: (a, f) =>
      `the incident time ${f.time(a.incidentAt, a.nowTimestamp)} is in the future (chain time ${f.time(a.nowTimestamp, a.nowTimestamp)})`,
  },
  ClaimsClaimWindowClosed: {
    say: (a, f) =>
      `the claim window for an incident at ${f.time(a.incidentAt)} on policy ${a.policyId} closed at ${f.time(a.closedAt)}: claims must be filed within the product's claim window`,
  },
  ClaimsZeroEvidence: { say: () => "the evidence hash must not be zero" },
  ClaimsDeviceNotActiveAtIncident: {
    say: (a, f) =>
      `device ${a.device} was ${DEVICE_STATUS_AT_INCIDENT[f.name(DeviceStatus, a.status)] ?? f.name(DeviceStatus, a.status)} at the incident (${f.time(a.incidentAt)}): only incidents while it was Active are covered`,
  },
  ClaimsDurationNotAboveWaitingPeriod: {
    say: (a, f) =>
      `a policy of ${f.duration(a.duration)} would end within the product's waiting period of ${f.duration(a.waitingPeriod)} and cover nothing: buy a longer one`,
  },
  ClaimsCoverageNotAboveDeductible: {
    say: (a, f) =>
      `coverage of ${f.amount(a.coverage)} does not exceed the product's deductible of ${f.amount(a.deductible)}: the policy could never pay`,
  },
  ClaimsUnexpectedStatus: {
    say: (a, f) => {
      const status = f.name(ClaimStatus, a.status);
      if (status === "None") return `claim ${a.claimId} does not exist`;
      return (CLAIM_STATUS_SENTENCES[status] ?? ((id: string) => `claim ${id} is ${status}, which does not allow this`))(String(a.claimId));
    },
    notFound: statusNone,
  },
  ClaimsEvidenceMismatch: {
    say: (a) => `the verdict's evidence hash ${a.evidenceHash} is not the one claim ${a.claimId} was filed with (${a.expected})`,
  },
  ClaimsDeadlineMismatch: {
    say: (a, f) => `the verdict's deadline ${f.time(a.deadline)} is not claim ${a.claimId}'s assessment deadline, ${f.time(a.expected)}`,
  },
  ClaimsVerdictExpired: {
    say: (a, f) =>
      `the assessment deadline of claim ${a.claimId} passed (${f.time(a.deadline, a.nowTimestamp)}): no verdict can be submitted, the claim goes to the arbiter`,
  },
  ClaimsPayoutTooHigh: {
    say: (a, f) => `a payout of ${f.amount(a.payout)} for claim ${a.claimId} is above what the decision allows, ${f.amount(a.max)}`,
  },
  ClaimsInvalidScore: { say: (a) => `a model score of ${a.scoreBps} basis points for claim ${a.claimId} is above 10000 (100 %)` },
  ClaimsModelNotAllowed: { say: (a) => `model ${a.modelHash} may not decide claims of product ${a.productId}` },
  ClaimsNoSignatures: { say: (a) => `a verdict for claim ${a.claimId} needs at least one committee signature` },
  ClaimsDuplicateSigner: {
    say: (a) =>
      `committee members already counted for this verdict of claim ${a.claimId} signed it again (member slots ${slotList(a.slots)})`,
  },
  ClaimsLengthMismatch: { say: (a) => `${a.verdicts} verdicts but ${a.signatures} signature lists: give one list per verdict` },
  ClaimsOnlySelf: { say: (a, f) => `only the claims contract itself may call this, not ${f.who(a.caller)}` },
  ClaimsAppealWindowClosed: {
    say: (a, f) =>
      `the appeal window of claim ${a.claimId} closed ${f.time(a.appealDeadline, a.nowTimestamp)}: it can only be settled now (claim:settle)`,
  },
  ClaimsAppealWindowOpen: {
    say: (a, f) =>
      `claim ${a.claimId} can be settled once its appeal window closes, at ${f.time(a.appealDeadline, a.nowTimestamp)} (chain time)`,
  },
  ClaimsNothingToAppeal: {
    say: (a, f) => `claim ${a.claimId} was approved in full (${f.amount(a.payout)} of ${f.amount(a.amount)}): there is nothing to appeal`,
  },
  ClaimsAssessmentPending: {
    say: (a, f) =>
      `claim ${a.claimId} can go to the arbiter only if no verdict comes by its assessment deadline, ${f.time(a.deadline, a.nowTimestamp)}`,
  },
  ClaimsPolicyNotExpired: {
    say: (a, f) => `policy ${a.policyId}'s coverage can be released only once its claim period ends, ${f.time(a.claimPeriodEnd)}`,
  },
  ClaimsValueTooLarge: { say: (a) => `the value ${a.value} is too large for the contract to store` },
  ClaimsEvidenceAlreadyUsed: {
    say: (a) => `the evidence ${a.evidenceHash} was already filed with claim ${a.claimId}: an evidence bundle backs one claim only`,
  },
  ClaimsIncidentWindowTaken: {
    say: (a, f) =>
      `device ${a.device} already has an open or paid claim whose incident window overlaps ${f.time(a.windowStart)} – ${f.time(a.windowEnd)}: an incident is claimed once, on any policy`,
  },
  ClaimsInvalidReason: {
    say: (a) =>
      a.approved
        ? `an approving verdict for claim ${a.claimId} must carry reason code 0, not ${a.reason}`
        : `a rejecting verdict for claim ${a.claimId} must carry a non-zero reason code saying why`,
  },

  // ---------------------------------------------------------------- DataMarketplace
  MarketZeroAddress: { say: () => "the zero address is not allowed here" },
  MarketFeeCapTooHigh: { say: (a, f) => `a fee cap of ${f.bps(a.maxFeeBps)} is above ${f.bps(a.limit)}` },
  MarketFeeTooHigh: { say: (a, f) => `a fee of ${f.bps(a.feeBps)} is above the cap of ${f.bps(a.maxFeeBps)}` },
  MarketListingNotFound: { say: (a) => `listing ${a.listingId} does not exist`, notFound: always },
  MarketNotSeller: { say: (a, f) => `only the seller of listing ${a.listingId} can do this, not ${f.who(a.caller)}` },
  MarketNotSellerOrAgent: {
    say: (a, f) =>
      `only the seller of purchase ${a.purchaseId}'s listing, or an agent it authorised, can deliver it, not ${f.who(a.caller)}`,
  },
  MarketInvalidStatusTransition: {
    say: (a, f) =>
      a.current === a.requested
        ? `listing ${a.listingId} is already ${f.name(ListingStatus, a.current)}`
        : `listing ${a.listingId} is ${f.name(ListingStatus, a.current)}: it cannot become ${f.name(ListingStatus, a.requested)}`,
  },
  MarketListingNotActive: {
    say: (a, f) =>
      a.status === 0n
        ? `listing ${a.listingId} does not exist`
        : `listing ${a.listingId} is ${f.name(ListingStatus, a.status)}: this needs an Active listing`,
    notFound: statusNone,
  },
  MarketListingTakenDown: {
    say: (a) => `listing ${a.listingId} was taken down: its keys can no longer be delivered (its buyers can take a refund)`,
  },
  MarketNoDevices: { say: () => "a listing must name at least one device" },
  MarketTooManyDevices: { say: (a) => `a listing can name at most ${a.max} devices, not ${a.count}` },
  MarketTooManyAnchors: { say: (a) => `at most ${a.max} anchors can be given at once, not ${a.count}` },
  MarketDuplicateDevice: { say: (a) => `device ${a.device} is named twice` },
  MarketDeviceNotOwned: {
    say: (a, f) =>
      a.owner === ZERO
        ? `device ${a.device} is not registered`
        : `device ${a.device} is owned by ${f.who(a.owner)}, not by the seller ${f.who(a.seller)}: list only your own devices' data`,
    notFound: (a) => a.owner === ZERO,
  },
  MarketDeviceRevoked: { say: (a) => `device ${a.device} was revoked (its key is considered compromised): its data cannot be sold` },
  MarketAnchorNotForListing: {
    say: (a) => `root ${a.root} was not anchored by any device of listing ${a.listingId} (anchors are per device: anchor it first)`,
  },
  MarketAnchorAlreadyAdded: { say: (a) => `root ${a.root} is already attached to listing ${a.listingId}` },
  MarketZeroPrice: { say: () => "the price must be more than 0" },
  MarketPriceAboveMax: {
    say: (a, f) => `listing ${a.listingId} costs ${f.amount(a.price)}, above your limit of ${f.amount(a.maxPrice)} (--max-price)`,
  },
  MarketInvalidPeriod: {
    say: (a, f) =>
      f.name(ListingKind, a.kind) === "Stream"
        ? "a stream needs a subscription period (--period-days)"
        : `a ${f.name(ListingKind, a.kind).toLowerCase()} takes no subscription period (--period-days is for streams)`,
  },
  MarketInvalidDeliveryWindow: {
    say: (a, f) => `the delivery window must be more than 0 and at most ${f.duration(a.max)}, not ${f.duration(a.deliveryWindow)}`,
  },
  MarketZeroHash: { say: () => "the content hash and the licence-terms hash must not be zero" },
  MarketInvalidPublicKey: {
    say: (a) =>
      `the buyer's public key is not a secp256k1 key: ${a.length} bytes starting ${a.prefix} (expected 33 bytes starting 0x02 or 0x03, or 65 starting 0x04)`,
  },
  MarketAlreadyLicensed: {
    say: (a, f) => `${f.who(a.buyer)} already holds, or awaits delivery of, a licence to listing ${a.listingId}`,
  },
  MarketPurchaseNotPending: {
    say: (a, f) => {
      const status = f.name(PurchaseStatus, a.status);
      if (status === "None") return `purchase ${a.purchaseId} does not exist`;
      return `purchase ${a.purchaseId} was ${status === "Delivered" ? "delivered" : status === "Refunded" ? "refunded" : status} already`;
    },
    notFound: statusNone,
  },
  MarketNotBuyer: { say: (a, f) => `only the buyer of purchase ${a.purchaseId} can take its refund, not ${f.who(a.caller)}` },
  MarketDeliveryDeadlinePassed: {
    say: (a, f) =>
      `the delivery deadline of purchase ${a.purchaseId} passed ${f.time(a.deliverBy, a.nowTimestamp)}: its buyer can take a refund now`,
  },
  MarketRefundNotAvailable: {
    say: (a, f) =>
      `purchase ${a.purchaseId} can be refunded only if its key is not delivered by its deadline, ${f.time(a.deliverBy, a.nowTimestamp)}`,
  },
  MarketEmptyEncryptedKey: { say: (a) => `the encrypted key for purchase ${a.purchaseId} is empty` },
  MarketNothingToWithdraw: { say: (a, f) => `${f.who(a.account)} has nothing to withdraw from the marketplace` },

  // ---------------------------------------------------------------- DeviceRegistry
  DeviceAlreadyRegistered: { say: (a) => `device ${a.device} is already registered` },
  DeviceNotRegistered: { say: (a) => `device ${a.device} is not registered`, notFound: always },
  DeviceZeroAddress: { say: () => "the zero address cannot be a device, an owner or a gateway" },
  DeviceInvalidSignature: {
    say: (a) => `the device binding is not signed by device ${a.device} (the signature recovers to ${a.recovered})`,
  },
  DeviceBindingExpired: { say: (a, f) => `the device binding expired ${f.time(a.deadline, a.nowTimestamp)}: sign a fresh one` },
  DeviceUnauthorized: { say: (a, f) => `${f.who(a.caller)} may not manage device ${a.device}: only its owner or an admin can` },
  DeviceInvalidStatusTransition: {
    say: (a, f) => {
      const current = f.name(DeviceStatus, a.current);
      if (current === "None") return `device ${a.device} is not registered`;
      if (a.current === a.requested) return `device ${a.device} is already ${current}`;
      if (current === "Revoked") return `device ${a.device} is Revoked, which is final`;
      return `device ${a.device} is ${current}: it cannot become ${f.name(DeviceStatus, a.requested)}`;
    },
    notFound: (a) => a.current === 0n,
  },
  DeviceNotActive: {
    say: (a, f) =>
      a.status === 0n
        ? `device ${a.device} is not registered`
        : `device ${a.device} is ${f.name(DeviceStatus, a.status)}: this needs an Active device`,
    notFound: statusNone,
  },
  DeviceAdminHold: { say: (a) => `device ${a.device} is under an admin hold: only an admin can resume it` },
  DeviceNotPendingOwner: {
    say: (a, f) =>
      a.pendingOwner === ZERO
        ? `no ownership transfer of device ${a.device} is pending`
        : `${f.who(a.caller)} is not the proposed new owner of device ${a.device} (${f.who(a.pendingOwner)} is)`,
  },
  AnchorInvalidRange: {
    say: (a) =>
      `readings ${a.fromSeq}..${a.toSeq} of device ${a.device} cannot be anchored: a batch runs forwards and starts at seq ${a.nextSeq} or later (what is anchored already ends before it)`,
  },
  AnchorAlreadyExists: { say: (a) => `root ${a.root} is already anchored for device ${a.device}` },
  AnchorSeqAdvanceTooLarge: {
    say: (a) =>
      `readings ${a.fromSeq}..${a.toSeq} would move device ${a.device}'s sequence forward by ${BigInt(a.toSeq) + 1n - BigInt(a.nextSeq)}, more than the ${a.maxAdvance} one batch may`,
  },
  AnchorZeroRoot: { say: () => "the zero root cannot be anchored" },
  FleetAnchorAlreadyExists: { say: (a) => `root ${a.root} is already anchored by gateway ${a.gateway}` },
  FleetAnchorEmpty: { say: () => "a fleet anchor needs at least one reading" },

  // ---------------------------------------------------------------- InsurancePool
  PoolUtilisationExceeded: {
    say: (a, f) =>
      `the pool cannot lock ${f.amount(a.locked)} of its ${f.amount(a.assets)}: at most ${f.bps(a.maxUtilisationBps)} of its capital may back policies (not enough free capital)`,
  },
  PoolInvalidUtilisation: { say: (a) => `the maximum utilisation must be 1 to 10000 basis points, not ${a.maxUtilisationBps}` },
  PoolFeeTooHigh: { say: (a, f) => `a protocol fee of ${f.bps(a.protocolFeeBps)} is above the cap of ${f.bps(a.max)}` },
  PoolZeroAddress: { say: () => "the zero address is not allowed here" },
  PoolExceedsLocked: { say: (a, f) => `${f.amount(a.amount)} is more than the ${f.amount(a.locked)} locked in the pool` },
  PoolInvalidTerm: {
    say: (a, f) => `a policy term must start no later than now and end after it, not run from ${f.time(a.start)} to ${f.time(a.end)}`,
  },
  PoolCooldownTooShort: { say: (a, f) => `a withdrawal cooldown of ${f.duration(a.cooldown)} is below the floor of ${f.duration(a.min)}` },
  PoolNotOperator: { say: (a, f) => `${f.who(a.caller)} may not act for ${f.who(a.controller)} in the pool (not its operator)` },
  PoolZeroShares: { say: () => "a withdrawal request needs at least one pool share" },
  PoolNoRequest: { say: (a, f) => `${f.who(a.controller)} has no withdrawal request` },
  PoolAsyncRedemption: {
    say: () =>
      "withdrawals from the pool are requested first (pool:request-withdrawal) and claimed after the cooldown (pool:claim-withdrawal)",
  },
  PoolInvalidTreasury: { say: (a) => `the pool cannot be its own treasury (${a.treasury})` },

  // ---------------------------------------------------------------- OracleCommittee
  CommitteeFull: { say: () => "the committee is full (32 members)" },
  CommitteeAlreadyMember: { say: (a, f) => `${f.who(a.member)} is already a committee member` },
  CommitteeNotMember: { say: (a, f) => `${f.who(a.account)} is not a committee member` },
  CommitteeZeroAddress: { say: () => "the zero address cannot be a committee member" },
  CommitteeInvalidThreshold: {
    say: (a) => `a threshold of ${a.threshold} with ${a.members} members is not a strict majority (threshold ≤ members < 2 × threshold)`,
  },
  CommitteeModelNotApproved: { say: (a) => `model ${a.modelHash} is not approved by the committee (unknown or retired)` },
  CommitteeModelExists: { say: (a) => `model ${a.modelHash} is already registered (a retired model cannot come back)` },
  CommitteeZeroModel: { say: () => "the zero hash is not a model" },
  CommitteeInvalidSigner: {
    say: (a) =>
      a.recovered === ZERO
        ? `signature ${a.index} is malformed`
        : `signature ${a.index} is not a current committee member's (it recovers to ${a.recovered})`,
  },
  CommitteeDuplicateSigner: { say: (a, f) => `committee member ${f.who(a.member)} signed twice` },

  // ---------------------------------------------------------------- OpenZeppelin code inside the contracts
  AccessControlBadConfirmation: { say: () => "renouncing a role needs your own address as the confirmation" },
  AccessControlUnauthorizedAccount: { say: (a, f) => `${f.who(a.account)} lacks the ${f.role(a.neededRole)} role this needs` },
  CheckpointUnorderedInsertion: { say: () => "a history entry cannot be written before the last one" },
  InvalidShortString: { say: () => "the string is not a valid short string" },
  StringTooLong: { say: (a) => `the string "${String(a.str).slice(0, 40)}" is too long` },
  ReentrancyGuardReentrantCall: { say: () => "a reentrant call was refused" },
  SafeCastOverflowedUintDowncast: { say: (a) => `${a.value} does not fit in ${a.bits} bits` },
  SafeERC20FailedOperation: { say: (a) => `the token ${a.token} refused the transfer` },
  ERC20InsufficientAllowance: {
    say: (a, f) =>
      `${f.who(a.spender)} may spend only ${f.amount(a.allowance)} of your tokens, ${f.amount(a.needed)} needed (approve more)`,
  },
  ERC20InsufficientBalance: { say: (a, f) => `${f.who(a.sender)} holds ${f.amount(a.balance)}, ${f.amount(a.needed)} needed` },
  ERC20InvalidApprover: { say: (a) => `${a.approver} cannot approve token spending` },
  ERC20InvalidReceiver: { say: (a) => `${a.receiver} cannot receive tokens` },
  ERC20InvalidSender: { say: (a) => `${a.sender} cannot send tokens` },
  ERC20InvalidSpender: { say: (a) => `${a.spender} cannot be allowed to spend tokens` },
  ERC4626ExceededMaxDeposit: {
    say: (a, f) => `the pool accepts at most ${f.amount(a.max)} from ${f.who(a.receiver)} now, not ${f.amount(a.assets)}`,
  },
  ERC4626ExceededMaxMint: {
    say: (a, f) => `the pool mints at most ${f.shares(a.max)} for ${f.who(a.receiver)} now, not ${f.shares(a.shares)}`,
  },
  ERC4626ExceededMaxRedeem: {
    say: (a, f) =>
      `${f.who(a.owner)} can redeem at most ${f.shares(a.max)} now, not ${f.shares(a.shares)} (none before the request's cooldown ends, or while capital is locked as coverage)`,
  },
  ERC4626ExceededMaxWithdraw: {
    say: (a, f) =>
      `${f.who(a.owner)} can withdraw at most ${f.amount(a.max)} now, not ${f.amount(a.assets)} (none before the request's cooldown ends, or while capital is locked as coverage)`,
  },
  ERC721IncorrectOwner: { say: (a, f) => `policy ${a.tokenId} belongs to ${f.who(a.owner)}, not ${f.who(a.sender)}` },
  ERC721InsufficientApproval: { say: (a, f) => `${f.who(a.operator)} may not transfer policy ${a.tokenId}` },
  ERC721InvalidApprover: { say: (a) => `${a.approver} cannot approve policy transfers` },
  ERC721InvalidOperator: { say: (a) => `${a.operator} cannot be an operator of policies` },
  ERC721InvalidOwner: { say: (a) => `${a.owner} cannot own policies` },
  ERC721InvalidReceiver: { say: (a) => `${a.receiver} cannot receive a policy (a contract that does not accept ERC-721 tokens?)` },
  ERC721InvalidSender: { say: (a) => `${a.sender} cannot send policies` },
  ERC721NonexistentToken: { say: (a) => `policy ${a.tokenId} does not exist`, notFound: always },
  EnforcedPause: { say: () => "the contract is paused by its guardian: no new policies for now" },
  ExpectedPause: { say: () => "the contract is not paused" },
  ECDSAInvalidSignature: { say: () => "the signature is invalid" },
  ECDSAInvalidSignatureLength: { say: (a) => `the signature has ${a.length} bytes, not 65` },
  ECDSAInvalidSignatureS: { say: () => "the signature is not canonical (its s value is in the upper half)" },
  ERC2612ExpiredSignature: { say: (a, f) => `the permit expired ${f.time(a.deadline)}` },
  ERC2612InvalidSigner: { say: (a, f) => `the permit is signed by ${a.signer}, not by the owner ${f.who(a.owner)}` },
  InvalidAccountNonce: { say: (a, f) => `wrong nonce for ${f.who(a.account)}: the next one is ${a.currentNonce}` },
  OwnableInvalidOwner: { say: (a) => `${a.owner} cannot be the owner` },
  OwnableUnauthorizedAccount: { say: (a, f) => `${f.who(a.account)} is not the owner of the contract` },
};

/** IClaimsInsurance.ProductField, for ClaimsInvalidProduct. */
const PRODUCT_FIELDS = [
  "maxCoverage",
  "deductible",
  "claimDeposit",
  "premiumRateBps",
  "minDuration",
  "maxDuration",
  "waitingPeriod",
  "claimWindow",
  "assessmentWindow",
  "sensorSchema",
  "maxAnchorDelay",
  "incident window (incidentWindowBefore + incidentWindowAfter, at most one day)",
] as const;

function slotList(bitmap: bigint): string {
  const slots: number[] = [];
  for (let i = 0; i < 32; i++) if ((BigInt(bitmap) >> BigInt(i)) & 1n) slots.push(i);
  return slots.join(", ");
}

const ROLE_NAMES = new Map<string, string>(Object.entries(ROLES).map(([name, hash]) => [hash.toLowerCase(), name]));
const SCHEMA_NAMES = new Map<string, string>([[id(AI4I_SCHEMA).toLowerCase(), AI4I_SCHEMA]]);

/** The formatter of {@link SentenceFormat} for a context. */
export function sentenceFormat(ctx: ExplainContext = {}): SentenceFormat {
  const me = ctx.account ? getAddress(ctx.account) : undefined;
  return {
    amount: (units) => formatTokens(BigInt(units), ctx.token),
    shares: (shares) =>
      ctx.shareDecimals === undefined ? `${shares} share base units` : `${formatUnitsExact(BigInt(shares), ctx.shareDecimals)} shares`,
    time: (t, now) => formatTimestamp(t, now ?? ctx.now),
    duration: (seconds) => formatDuration(seconds),
    bps: (bps) => formatBps(bps),
    who: (address) => (me !== undefined && address !== ZERO && getAddress(address) === me ? `you (${me})` : address),
    name: (names, value) => names[Number(value)] ?? `#${value}`,
    schema: (hash) => SCHEMA_NAMES.get(hash.toLowerCase()) ?? `${hash} (an unknown schema id)`,
    role: (hash) => ROLE_NAMES.get(hash.toLowerCase()) ?? hash,
  };
}

/** The arguments of a decoded error as plain JSON values (bigints as decimal strings), by parameter name. */
function argsJson(args: Result, fragment: ErrorFragment): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  fragment.inputs.forEach((input, i) => {
    const v = args[i];
    out[input.name || String(i)] = typeof v === "boolean" ? v : String(v);
  });
  return out;
}

/** The named arguments of a decoded error (ethers' Result by parameter name). */
function argsByName(args: Result, fragment: ErrorFragment): Args {
  const out: Args = {};
  fragment.inputs.forEach((input, i) => (out[input.name || String(i)] = args[i]));
  return out;
}

/**
 * The sentence of a decoded custom error (see {@link CONTRACT_ERROR_SENTENCES}); an error without one (a contract
 * newer than this SDK) is shown by name with its arguments, still as one line.
 */
export function contractErrorSentence(name: string, args: Result, fragment: ErrorFragment, ctx: ExplainContext = {}): string {
  const sentence = CONTRACT_ERROR_SENTENCES[name];
  if (!sentence) return `the contract refused: ${name}(${fragment.inputs.map((p, i) => `${p.name || i}=${args[i]}`).join(", ")})`;
  return sentence.say(argsByName(args, fragment), sentenceFormat(ctx));
}

const PANICS: Record<string, string> = {
  "1": "an assertion failed",
  "17": "an arithmetic overflow or underflow",
  "18": "a division by zero",
  "33": "an invalid enum value",
  "50": "an array index out of bounds",
  "65": "too much memory",
};

/**
 * The error a revert means, as a {@link TriadError} (one line, a stable code, the decoded error in `details`), or
 * undefined when `err` is no revert. `NOT_FOUND` for a thing that does not exist, else `CONTRACT_REFUSED`.
 */
export function explainContractError(err: unknown, ctx: ExplainContext = {}): TriadError | undefined {
  const data = findRevertData(err);
  if (data === undefined) {
    // A revert ethers reports without its data (some nodes): the reason it parsed, if any.
    const e = err as { code?: string; reason?: string | null; shortMessage?: string };
    if (e?.code === "CALL_EXCEPTION") {
      return new ContractRefusedError(
        e.reason ? `the contract refused: ${e.reason}` : "the contract refused the transaction without saying why",
        {
          error: null,
        },
      );
    }
    return undefined;
  }
  const decoded = decodeRevertData(data);
  if (!decoded)
    return new ContractRefusedError(`the contract refused with an unknown error (data ${data.slice(0, 10)}…)`, { error: null, data });
  switch (decoded.kind) {
    case "custom": {
      const message = contractErrorSentence(decoded.name, decoded.args, decoded.fragment, ctx);
      const details = { error: decoded.name, args: argsJson(decoded.args, decoded.fragment) };
      return CONTRACT_ERROR_SENTENCES[decoded.name]?.notFound?.(argsByName(decoded.args, decoded.fragment))
        ? new NotFoundError(message, details)
        : new ContractRefusedError(message, details);
    }
    case "reason":
      return new ContractRefusedError(`the contract refused: ${decoded.reason}`, { error: "Error", args: { reason: decoded.reason } });
    case "panic":
      return new ContractRefusedError(`the contract failed: ${PANICS[String(decoded.code)] ?? `panic ${decoded.code}`}`, {
        error: "Panic",
        args: { code: String(decoded.code) },
      });
    case "empty":
      return new ContractRefusedError("the contract refused the transaction without saying why", { error: null });
  }
}
