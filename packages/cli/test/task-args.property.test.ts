import { expect } from "chai";
import * as fc from "fast-check";
import { Wallet, getAddress, isAddress } from "ethers";
import { SECP256K1_N, registerDevice } from "@triad/sdk";
import { CliError, formatAmount, parseAddress, parseAmount, parsePrivateKey, parseUint } from "../src/lib/common.ts";
import {
  ai4iCsv,
  deployTriadForTasks,
  expectOneError,
  expectSuccess,
  loadTaskFixture,
  runTask,
  testKey,
  testWallet,
  useTaskEnvironment,
  writeTempFile,
  type TaskRun,
} from "./fixtures.ts";

/**
 * Property-based checks of the CLI's argument handling: the parsers against simple models, and whole task
 * invocations with arbitrary argument values, which must either succeed or fail with exactly one `error:` line
 * and the exit code of its class — never throw out of `runCli`, never print a stack or a second line.
 */

const RUNS = { numRuns: 40 } as const;
const TASK_RUNS = { numRuns: 30 } as const;
const TOKEN_DECIMALS = 6;

const hexDigits = (minLength: number, maxLength = minLength) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF"), minLength, maxLength });
const decimalDigits = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength, maxLength });

/** Strings a user might type, or mistype: any code points (newlines, controls, non-ASCII digits) and near misses. */
const anyText = fc.oneof(
  fc.string(),
  fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom("\n", "\r\n", "\r"), fc.string({ maxLength: 8 })).map((p) => p.join("")),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constantFrom(
    "",
    " ",
    "\n",
    "0x",
    "-1",
    "+1",
    "1e3",
    "0x10",
    "1_000",
    "١٢٣",
    "１２",
    "1.",
    ".5",
    "1.2.3",
    " 7 ",
    "\t8\n",
    "NaN",
    "Infinity",
  ),
);

const numberText = fc.oneof(
  decimalDigits(1, 30),
  fc.bigInt({ min: 0n, max: 2n ** 260n }).map(String),
  fc.tuple(decimalDigits(1, 20), decimalDigits(0, 22)).map(([i, f]) => `${i}.${f}`),
  fc
    .tuple(fc.constantFrom("", " ", "-", "+", "0x", "\n"), decimalDigits(1, 8), fc.constantFrom("", " ", ".", "\n", "e2"))
    .map((p) => p.join("")),
  anyText,
);

/** Amounts in scientific notation, usable or not ("1e3", "2.5e-3", "1e-7", "3e40"). */
const exponentText = fc
  .tuple(decimalDigits(1, 6), fc.option(decimalDigits(1, 6)), fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), decimalDigits(1, 2))
  .map(([i, f, e, sign, x]) => `${i}${f === null ? "" : `.${f}`}${e}${sign}${x}`);

/**
 * The model of an amount in base units: decimal digits, an optional fraction and an optional exponent, exact; undefined
 * when it is not such a number or has more decimals than the token.
 */
function modelUnits(text: string, decimals: number): bigint | undefined {
  const m = /^([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]{1,4}))?$/.exec(text.trim());
  if (!m) return undefined;
  let value = BigInt(m[1] + (m[2] ?? "")) * 10n ** BigInt(decimals + 40);
  const exponent = Number(m[3] ?? 0) - (m[2] ?? "").length;
  value = exponent >= 0 ? value * 10n ** BigInt(exponent) : value / 10n ** BigInt(-exponent);
  const scale = 10n ** 40n;
  // Exact only when nothing was cut off: compare with the value scaled back.
  const exactValue = exponent >= 0 ? true : (BigInt(m[1] + (m[2] ?? "")) * 10n ** BigInt(decimals + 40)) % 10n ** BigInt(-exponent) === 0n;
  if (!exactValue || value % scale !== 0n) return undefined;
  return value / scale;
}

const addressText = fc.oneof(
  hexDigits(40).map((h) => `0x${h}`), // random case: mostly a bad checksum
  hexDigits(40).map((h) => `0x${h.toLowerCase()}`),
  hexDigits(40).map((h) => getAddress(`0x${h.toLowerCase()}`)),
  fc.integer({ min: 0, max: 60 }).chain((n) => hexDigits(n).map((h) => `0x${h}`)),
  anyText,
);

const keyText = fc.oneof(
  hexDigits(64).map((h) => `0x${h}`),
  hexDigits(64),
  fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }).map((k) => `0x${k.toString(16).padStart(64, "0")}`),
  fc.constantFrom("0x" + "0".repeat(64), SECP256K1_N.toString(16), (SECP256K1_N - 1n).toString(16), (SECP256K1_N + 1n).toString(16)),
  fc.integer({ min: 0, max: 70 }).chain((n) => hexDigits(n)),
  anyText,
);

/** Runs `fn`; returns the CliError it threw, undefined if it returned, and fails on any other throw. */
function pluginErrorOf(fn: () => unknown): CliError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(CliError);
    return err as CliError;
  }
}

/** The CLI contract for any invocation: success (output, no error, no exit code) or exactly one `error:` line. */
function expectCleanOutcome(run: TaskRun): "ok" | "error" {
  if (run.exitCode === 0) {
    expect(run.stderr, "stderr of a successful run").to.equal("");
    expect(run.stdout, "stdout of a successful run").not.to.equal("");
    return "ok";
  }
  expectOneError(run, undefined, "any");
  return "error";
}

describe("task arguments (property-based)", function () {
  useTaskEnvironment();

  describe("parsers of src/lib/common", function () {
    it("parseUint accepts exactly ASCII digits (blanks around allowed) within [min, max]", function () {
      fc.assert(
        fc.property(numberText, fc.bigInt({ min: 0n, max: 100n }), fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n })), (text, min, max) => {
          const err = pluginErrorOf(() => parseUint(text, "n", { min, max: max ?? undefined }));
          const digits = /^[0-9]+$/.test(text.trim());
          const value = digits ? BigInt(text.trim()) : undefined;
          const accepted = value !== undefined && value >= min && (max === null || value <= max);
          if (accepted) {
            expect(err).to.equal(undefined);
            expect(parseUint(text, "n", { min, max: max ?? undefined })).to.equal(value);
          } else {
            expect(err?.message).to.match(/^--n must be /);
          }
        }),
        RUNS,
      );
    });

    it("parseAmount accepts whole tokens (an exponent allowed) with at most `decimals` decimals and scales them exactly", function () {
      fc.assert(
        fc.property(fc.oneof(numberText, exponentText), fc.integer({ min: 0, max: 18 }), (text, decimals) => {
          const err = pluginErrorOf(() => parseAmount(text, "price", decimals));
          const expected = modelUnits(text, decimals);
          if (expected !== undefined) {
            expect(err).to.equal(undefined);
            expect(parseAmount(text, "price", decimals)).to.equal(expected);
            const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(text.trim());
            if (m) {
              // Without an exponent: the same number written canonically (no leading zeros, no trailing fractional zeros).
              const int = m[1].replace(/^0+(?=\d)/, "");
              const frac = (m[2] ?? "").replace(/0+$/, "");
              expect(formatAmount(expected, decimals)).to.equal(frac ? `${int}.${frac}` : int);
            }
          } else {
            expect(err?.message).to.match(/^--price (must be an amount|has more than \d+ decimals)/);
          }
        }),
        RUNS,
      );
    });

    it("parseAmount(formatAmount(x, d), d) === x for every x >= 0 and d in 0..18", function () {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: 2n ** 256n }), fc.integer({ min: 0, max: 18 }), (units, decimals) => {
          const text = formatAmount(units, decimals);
          expect(text).to.match(/^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/);
          expect(parseAmount(text, "amount", decimals)).to.equal(units);
        }),
        RUNS,
      );
    });

    it("parseAddress returns the checksummed form of exactly the strings ethers accepts as addresses", function () {
      fc.assert(
        fc.property(addressText, (text) => {
          const err = pluginErrorOf(() => parseAddress(text, "device"));
          if (isAddress(text)) {
            expect(err).to.equal(undefined);
            const address = parseAddress(text, "device");
            expect(address).to.equal(getAddress(text));
            expect(address).to.match(/^0x[0-9a-fA-F]{40}$/);
          } else {
            expect(err?.message).to.match(/^--device must be a 0x-prefixed 20-byte address/);
          }
          // A lower-case 0x address is always accepted (no checksum to check).
          if (/^0x[0-9a-f]{40}$/.test(text)) expect(err).to.equal(undefined);
        }),
        RUNS,
      );
    });

    it("parsePrivateKey accepts exactly usable secp256k1 keys and never echoes a long value", function () {
      fc.assert(
        fc.property(keyText, (text) => {
          const err = pluginErrorOf(() => parsePrivateKey(text, "device-key"));
          const hex = /^(0x)?([0-9a-fA-F]{64})$/.exec(text.trim())?.[2];
          const usable = hex !== undefined && BigInt(`0x${hex}`) > 0n && BigInt(`0x${hex}`) < SECP256K1_N;
          if (usable) {
            expect(err).to.equal(undefined);
            const key = parsePrivateKey(text, "device-key");
            expect(key).to.equal(`0x${hex}`);
            expect(() => new Wallet(key)).not.to.throw();
          } else {
            expect(err?.message).to.match(/^--device-key must be a /);
            if (text.trim().length > 10) expect(err!.message).not.to.contain(text.trim());
          }
        }),
        RUNS,
      );
    });
  });

  describe("whole task invocations", function () {
    /** A registered device (owner: account 0, the default --from) and listing 1 by account 1. */
    async function propertyFixture() {
      const base = await deployTriadForTasks();
      const deviceKey = testWallet("property/device");
      await registerDevice(base.registry, { deviceKey });
      const sellersKey = testWallet("property/sellers-device");
      await registerDevice(base.registry.connect(base.signers.seller), { deviceKey: sellersKey });
      const file = writeTempFile("listed.csv", ai4iCsv(5));
      expectSuccess(await runTask("market:list", { kind: "dataset", price: "3", file, devices: sellersKey.address, from: "1" }));
      return { ...base, deviceKey, device: deviceKey.address, sellersDevice: sellersKey.address, file };
    }

    it("device:show and device:suspend with any --device", async function () {
      const { registry, device } = await loadTaskFixture(propertyFixture);
      const deviceText = fc.oneof(fc.constantFrom(device, device.toLowerCase(), ` ${device}`), addressText);
      await fc.assert(
        fc.asyncProperty(deviceText, fc.constantFrom("device:show", "device:suspend"), async (text, task) => {
          const run = await runTask(task, { device: text, json: true });
          const outcome = expectCleanOutcome(run);
          if (!isAddress(text)) expect(run.stdout + run.stderr).to.contain("--device must be a 0x-prefixed 20-byte address");
          if (task === "device:show" && isAddress(text)) {
            const registered = (await registry.ownerAndStatus(text)).status !== 0n;
            expect(outcome).to.equal(registered ? "ok" : "error");
            if (registered) expect(run.json.device).to.equal(getAddress(text));
          }
        }),
        TASK_RUNS,
      );
    });

    it("market:access and market:buy with any --listing", async function () {
      const { market } = await loadTaskFixture(propertyFixture);
      const listingText = fc.oneof(fc.constantFrom("0", "1", "2", " 1 ", "01"), numberText);
      await fc.assert(
        fc.asyncProperty(listingText, fc.constantFrom("market:access", "market:buy"), async (text, task) => {
          const buyerKey = task === "market:buy" ? { buyerKey: testKey("property/buyer") } : {};
          const run = await runTask(task, { listing: text, ...buyerKey, from: "2", json: true });
          const outcome = expectCleanOutcome(run);
          const id = /^[0-9]+$/.test(text.trim()) ? BigInt(text.trim()) : undefined;
          if (task === "market:access") {
            const exists = id !== undefined && id >= 1n && id <= (await market.listingCount());
            expect(outcome).to.equal(exists ? "ok" : "error");
            if (exists) expect(run.json.listingId).to.equal(String(id));
          }
          if (id === undefined) expect(run.stdout + run.stderr).to.contain("--listing must be a whole number");
        }),
        TASK_RUNS,
      );
    });

    it("market:list with any --price lists exactly the positive prices of at most 6 decimals", async function () {
      const { market, sellersDevice, file } = await loadTaskFixture(propertyFixture);
      const priceText = fc.oneof(
        fc.constantFrom("0", "1.1234567", "-1", "0.000001", "340282366920938463463374607431768.211455", "1e40", "2.5e-3", "1e-7"),
        exponentText,
        numberText,
      );
      await fc.assert(
        fc.asyncProperty(priceText, async (text) => {
          const before = await market.listingCount();
          const run = await runTask("market:list", {
            kind: "dataset",
            price: text,
            file,
            devices: sellersDevice,
            from: "1",
            force: true,
            yes: true, // a price below one token needs it
            json: true,
          });
          const outcome = expectCleanOutcome(run);
          const units = modelUnits(text, TOKEN_DECIMALS);
          const listable = units !== undefined && units > 0n && units < 2n ** 128n;
          expect(outcome, `price ${JSON.stringify(text)}`).to.equal(listable ? "ok" : "error");
          expect(await market.listingCount()).to.equal(listable ? before + 1n : before);
          if (listable) expect((await market.getListing(BigInt(run.json.listingId))).price).to.equal(units);
        }),
        TASK_RUNS,
      );
    });

    it("device:register with any --device-key registers exactly the usable, unregistered keys", async function () {
      const { registry, deviceKey } = await loadTaskFixture(propertyFixture);
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.constant(deviceKey.privateKey), keyText), async (text) => {
          const hex = /^(0x)?([0-9a-fA-F]{64})$/.exec(text.trim())?.[2];
          const usable = hex !== undefined && BigInt(`0x${hex}`) > 0n && BigInt(`0x${hex}`) < SECP256K1_N;
          const address = usable ? new Wallet(`0x${hex}`).address : undefined;
          const fresh = address !== undefined && (await registry.ownerAndStatus(address)).status === 0n;

          const run = await runTask("device:register", { deviceKey: text, json: true });

          expect(expectCleanOutcome(run)).to.equal(fresh ? "ok" : "error");
          if (fresh) expect(run.json.device).to.equal(address);
          if (!usable) expect(run.stdout).to.contain("--device-key must be a ");
          if (text.trim().length > 10) expect(run.stdout + run.stderr).not.to.contain(text.trim());
        }),
        TASK_RUNS,
      );
    });
  });
});
