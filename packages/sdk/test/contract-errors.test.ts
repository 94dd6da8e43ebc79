import { expect } from "chai";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { ErrorFragment, Interface, ZeroAddress, getAddress, id, type ParamType } from "ethers";
import {
  ClaimsInsurance__factory,
  DataMarketplace__factory,
  DeviceRegistry__factory,
  InsurancePool__factory,
  OracleCommittee__factory,
  TestToken__factory,
} from "@triad/contracts";
import {
  CONTRACT_ERROR_SENTENCES,
  ContractRefusedError,
  NotFoundError,
  contractErrorsInterface,
  explainContractError,
  formatDuration,
  formatRelative,
  formatTimestamp,
  formatTokens,
  parseTokenAmount,
  type ExplainContext,
} from "@triad/sdk";

/**
 * Every custom error of the contracts has a sentence (contracts/interfaces/*.sol, parsed here, and every error in the
 * deployed contracts' ABIs, OpenZeppelin's included), and the sentences say amounts in tokens, enums by name and
 * times as dates: the cases of issue 16 verbatim.
 */

const INTERFACES = path.resolve(import.meta.dirname, "../../../contracts/interfaces");
const TOKEN = { symbol: "tUSD", decimals: 6 };
const CTX: ExplainContext = { token: TOKEN, shareDecimals: 12, now: 1_800_000_000n };
const tusd = (n: bigint) => n * 10n ** 6n;

/** `error Name(type name, …);` declarations of a Solidity file (comments dropped first). */
function solidityErrors(source: string): { name: string; params: string[] }[] {
  const code = source.replace(/\/\/[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
  return [...code.matchAll(/\berror\s+(\w+)\s*\(([^)]*)\)\s*;/g)].map((m) => ({
    name: m[1],
    params: m[2]
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== "")
      .map((p) => p.split(/\s+/).pop()!),
  }));
}

/** Revert data of `name(args)` as a node returns it. */
function revert(name: string, args: unknown[]): string {
  return contractErrorsInterface().encodeErrorResult(name, args);
}

/** What ethers throws for a reverted eth_call / estimateGas: the data at different depths. */
const shapes = (data: string): unknown[] => [
  { code: "CALL_EXCEPTION", data, message: "execution reverted" },
  { code: "UNKNOWN_ERROR", error: { code: -32603, message: "reverted", data } },
  { code: "UNKNOWN_ERROR", info: { error: { code: 3, data: { data } } } },
  { message: "wrapped", cause: { code: "CALL_EXCEPTION", data } },
];

function explain(name: string, args: unknown[], ctx: ExplainContext = CTX) {
  const error = explainContractError({ code: "CALL_EXCEPTION", data: revert(name, args) }, ctx);
  expect(error, name).to.not.equal(undefined);
  return error!;
}

/** A value of `param`'s type for a sentence (typical, zero or extreme). */
function sample(param: ParamType): fc.Arbitrary<unknown> {
  if (param.baseType === "address") return fc.constantFrom(ZeroAddress, getAddress("0x" + "ab".repeat(20)));
  if (param.baseType === "bool") return fc.boolean();
  if (param.baseType === "string") return fc.constantFrom("", "a metadata URI far longer than thirty-one bytes");
  if (param.type === "bytes32") return fc.constantFrom(id("ai4i-2020/v1"), id("x"), "0x" + "00".repeat(32));
  if (param.type === "bytes1") return fc.constantFrom("0x00", "0x04");
  const bits = Number(/\d+$/.exec(param.type)?.[0] ?? 256);
  return fc.bigInt({ min: 0n, max: 2n ** BigInt(Math.min(bits, 256)) - 1n });
}

describe("contract errors as sentences", function () {
  it("every error of contracts/interfaces/*.sol has a sentence and decodes with its parameters", function () {
    const files = readdirSync(INTERFACES).filter((f) => f.endsWith(".sol"));
    expect(files.length).to.be.greaterThan(3);
    const declared = files.flatMap((f) => solidityErrors(readFileSync(path.join(INTERFACES, f), "utf8")).map((e) => ({ ...e, file: f })));
    expect(declared.length).to.be.greaterThan(90);
    const missing = declared.filter((e) => !CONTRACT_ERROR_SENTENCES[e.name]).map((e) => `${e.file}: ${e.name}`);
    expect(missing, "errors without a sentence (add them to packages/sdk/src/contract-errors.ts)").to.deep.equal([]);
    for (const e of declared) {
      const fragment = contractErrorsInterface().getError(e.name);
      expect(fragment, `${e.name} is not decoded (rebuild the bindings: npm run compile)`).to.not.equal(null);
      expect(
        fragment!.inputs.map((p) => p.name),
        e.name,
      ).to.deep.equal(e.params);
    }
  });

  it("every error in the deployed contracts' ABIs (OpenZeppelin's too) decodes and has a sentence", function () {
    const abis = [
      DeviceRegistry__factory,
      DataMarketplace__factory,
      InsurancePool__factory,
      ClaimsInsurance__factory,
      OracleCommittee__factory,
      TestToken__factory,
    ];
    const problems: string[] = [];
    for (const factory of abis) {
      for (const fragment of new Interface(factory.abi).fragments) {
        if (!(fragment instanceof ErrorFragment)) continue;
        const known = contractErrorsInterface().getError(fragment.format("sighash"));
        if (!known) problems.push(`${fragment.format("sighash")} is not decoded`);
        if (!CONTRACT_ERROR_SENTENCES[fragment.name]) problems.push(`${fragment.name} has no sentence`);
      }
    }
    expect(problems).to.deep.equal([]);
  });

  it("every sentence is one line with no raw placeholder, whatever the arguments", function () {
    for (const fragment of contractErrorsInterface().fragments) {
      if (!(fragment instanceof ErrorFragment)) continue;
      fc.assert(
        fc.property(fc.tuple(...fragment.inputs.map(sample)), fc.boolean(), (args, withToken) => {
          const error = explain(fragment.name, args, withToken ? CTX : {});
          expect(error.message, fragment.name).to.match(/^[^\n\r]+$/);
          expect(error.message, fragment.name).not.to.match(/undefined|NaN|\[object|null/);
          expect(error.details.error).to.equal(fragment.name);
          expect(Object.keys(error.details.args as object)).to.deep.equal(fragment.inputs.map((p) => p.name));
        }),
        { numRuns: 12 },
      );
    }
  });

  it("the cases of issue 16: amounts in tokens, enums by name, one wording for what does not exist", function () {
    const device = getAddress("0x" + "d1".repeat(20));
    const caller = getAddress("0x" + "ca".repeat(20));
    const cases: [string, unknown[], string, "NOT_FOUND" | "CONTRACT_REFUSED"][] = [
      [
        "ClaimsInvalidAmount",
        [1n, 999_999_000_000n, 2_200_000_000n],
        "a claim on policy 1 must be more than 0 and at most its remaining coverage, 2200 tUSD, not 999999 tUSD",
        "CONTRACT_REFUSED",
      ],
      ["ClaimsUnexpectedStatus", [1n, 6n], "claim 1 is settled already (Paid)", "CONTRACT_REFUSED"],
      ["MarketPurchaseNotPending", [1n, 2n], "purchase 1 was delivered already", "CONTRACT_REFUSED"],
      ["ClaimsNotDeviceOwner", [device, caller, ZeroAddress], `device ${device} is not registered`, "NOT_FOUND"],
      ["ClaimsUnexpectedStatus", [99n, 0n], "claim 99 does not exist", "NOT_FOUND"],
      ["MarketPurchaseNotPending", [99n, 0n], "purchase 99 does not exist", "NOT_FOUND"],
      ["MarketListingNotFound", [99n], "listing 99 does not exist", "NOT_FOUND"],
      ["ClaimsUnknownPolicy", [99n], "policy 99 does not exist", "NOT_FOUND"],
      ["ERC721NonexistentToken", [99n], "policy 99 does not exist", "NOT_FOUND"],
      ["DeviceNotActive", [device, 2n], `device ${device} is Suspended: this needs an Active device`, "CONTRACT_REFUSED"],
      ["DeviceInvalidStatusTransition", [device, 1n, 1n], `device ${device} is already Active`, "CONTRACT_REFUSED"],
      [
        "ClaimsCoverageNotAboveDeductible",
        [tusd(50n), tusd(100n)],
        "coverage of 50 tUSD does not exceed the product's deductible of 100 tUSD: the policy could never pay",
        "CONTRACT_REFUSED",
      ],
      ["ERC20InsufficientBalance", [caller, 1_500_000n, tusd(25n)], `${caller} holds 1.5 tUSD, 25 tUSD needed`, "CONTRACT_REFUSED"],
      ["ERC4626ExceededMaxRedeem", [caller, 10n ** 17n, 0n], "can redeem at most 0 shares now, not 100000 shares", "CONTRACT_REFUSED"],
    ];
    for (const [name, args, message, code] of cases) {
      for (const shape of shapes(revert(name, args))) {
        const error = explainContractError(shape, CTX)!;
        expect(error.message, name).to.contain(message);
        expect(error.code, name).to.equal(code);
        expect(error).to.be.instanceOf(code === "NOT_FOUND" ? NotFoundError : ContractRefusedError);
      }
    }
  });

  it("times are ISO dates with how far they are from the chain's time; the acting account reads 'you'", function () {
    const now = 1_800_000_000n;
    const open = explain("ClaimsAppealWindowOpen", [3n, now + 120n, now]);
    expect(open.message).to.equal(
      `claim 3 can be settled once its appeal window closes, at ${formatTimestamp(now + 120n)} (in 2 min) (chain time)`,
    );
    expect(open.message).to.contain("2027-01-15T08:02:00Z (in 2 min)");
    const late = explain("MarketDeliveryDeadlinePassed", [4n, now - 3n * 3600n, now]);
    expect(late.message).to.contain("(3 h ago)");
    const me = getAddress("0x" + "aa".repeat(20));
    const holder = getAddress("0x" + "bb".repeat(20));
    expect(explain("ClaimsNotPolicyHolder", [1n, me, holder], { ...CTX, account: me }).message).to.equal(
      `policy 1 is held by ${holder}, not by you (${me}): only the holder of the policy can do this`,
    );
  });

  it("without a token, amounts are named as base units; a revert with no data or an unknown error is still one sentence", function () {
    expect(explain("ClaimsInvalidCoverage", [5n, 7n], {}).message).to.contain("5 base units");
    expect(explainContractError({ code: "CALL_EXCEPTION", data: "0x", reason: null })!.message).to.equal(
      "the contract refused the transaction without saying why",
    );
    expect(explainContractError({ code: "CALL_EXCEPTION", data: "0xdeadbeef" })!.message).to.contain("unknown error");
    const reason = new Interface(["error Error(string)"]).encodeErrorResult("Error", ["nope"]);
    expect(explainContractError({ code: "CALL_EXCEPTION", data: reason })!.message).to.equal("the contract refused: nope");
    expect(explainContractError(new Error("socket hang up"))).to.equal(undefined);
  });
});

describe("formatting for people", function () {
  it("token amounts, with limits in scientific notation", function () {
    expect(formatTokens(1_500_000_000n, TOKEN)).to.equal("1500 tUSD");
    expect(formatTokens(12_500_000n, TOKEN)).to.equal("12.5 tUSD");
    expect(formatTokens(2n ** 128n - 1n, TOKEN)).to.equal("3.4e32 tUSD");
  });

  it("parseTokenAmount: decimals and exponents exactly, too many decimals and values above the limit named", function () {
    const opts = { label: "--price", max: 2n ** 128n - 1n, maxLabel: "the largest price", symbol: "tUSD" };
    expect(parseTokenAmount("12.5", 6, opts)).to.equal(12_500_000n);
    expect(parseTokenAmount("1e3", 6, opts)).to.equal(1_000_000_000n);
    expect(parseTokenAmount("2.5e-3", 6, opts)).to.equal(2_500n);
    expect(() => parseTokenAmount("1e40", 6, opts)).to.throw("--price 1e40 is above the largest price, 3.4e32 tUSD");
    expect(() => parseTokenAmount("1.0000001", 6, opts)).to.throw('--price has more than 6 decimals: "1.0000001"');
    expect(() => parseTokenAmount("-1", 6, opts)).to.throw('--price must be an amount in whole tokens such as 100 or 12.5, got "-1"');
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), (units) => {
        expect(parseTokenAmount(formatTokens(units, TOKEN).split(" ")[0], 6, { label: "x" })).to.equal(units);
      }),
    );
  });

  it("durations and relative times", function () {
    expect(formatDuration(45)).to.equal("45 s");
    expect(formatDuration(120)).to.equal("2 min");
    expect(formatDuration(5400)).to.equal("1.5 h");
    expect(formatDuration(86_400)).to.equal("1 day");
    expect(formatDuration(30n * 86_400n)).to.equal("30 days");
    expect(formatRelative(100, 100)).to.equal("now");
    expect(formatRelative(0, 7200)).to.equal("2 h ago");
    expect(formatTimestamp(0)).to.equal("-");
  });
});
