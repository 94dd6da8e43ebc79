import { expect } from "chai";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { TypedDataEncoder, Wallet, ZeroHash, id, keccak256, recoverAddress, toUtf8Bytes } from "ethers";
import {
  AI4I_COLUMNS,
  AI4I_SCHEMA,
  ClaimStatus,
  DeploymentNotFoundError,
  DeviceStatus,
  InvalidInputError,
  READING_TYPES,
  ListingKind,
  ListingStatus,
  ModelStatus,
  PurchaseStatus,
  ROLES,
  SECP256K1_N,
  TriadError,
  buildReadingTree,
  deviceBindingDigest,
  deviceRegistryDomain,
  enumName,
  enumValue,
  enumValues,
  loadDeployment,
  metadataHash,
  parseAi4iCsv,
  parsePrivateKey,
  prepareRegistration,
  readingDigest,
  readingProof,
  recoverDeviceBinding,
  recoverReading,
  saveDeployment,
  sensorSchemaId,
  signAi4iRows,
  signDeviceBinding,
  signReading,
  telemetryToValues,
  valuesToTelemetry,
  verifyReadingProof,
  type Ai4iRow,
  type Ai4iTelemetry,
  type DeploymentRecord,
  type DeviceBinding,
  type DeviceMetadata,
  type Reading,
} from "../src/node.ts";

const CSV_FILE = path.resolve(import.meta.dirname, "../../../data/ai4i2020/ai4i2020-train.csv");
const CONTRACTS_DIR = path.resolve(import.meta.dirname, "../../../contracts");
const CSV_TEXT = readFileSync(CSV_FILE, "utf8");

const DEVICE = new Wallet(id("triad/test/sdk/device"));
const OTHER_KEY = new Wallet(id("triad/test/sdk/other"));
const OWNER = "0x00000000000000000000000000000000000000A1";
const REGISTRY = "0x00000000000000000000000000000000000000B2";
const DOMAIN = deviceRegistryDomain(31337n, REGISTRY);
const META: DeviceMetadata = { schema: "triad.device/v1", sensorSchema: AI4I_SCHEMA, model: "mill-sensor-x1", firmware: "1.0.0" };
const BINDING: DeviceBinding = {
  device: DEVICE.address,
  owner: OWNER,
  metadataHash: metadataHash(META),
  nonce: 0n,
  deadline: 1_800_000_000n,
};
const READING: Reading = {
  device: DEVICE.address,
  seq: 42n,
  timestamp: 1_700_000_000n,
  values: [298100n, 308600n, 1551n, 42800n, 0n, 1n],
};

const telemetryOf = ({ airTempK, processTempK, rpm, torqueNm, toolWearMin, variant }: Ai4iRow): Ai4iTelemetry => ({
  airTempK,
  processTempK,
  rpm,
  torqueNm,
  toolWearMin,
  variant,
});

/** The CSV text with line `lineNumber` (1-based, as in the error messages) replaced. */
function withLine(lineNumber: number, replace: (line: string) => string): string {
  const lines = CSV_TEXT.split("\n");
  lines[lineNumber - 1] = replace(lines[lineNumber - 1]);
  return lines.join("\n");
}

/** Runs `body` with a fresh temporary directory that is removed afterwards. */
function inTempDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), "triad-sdk-test-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("SDK", function () {
  describe("contract enums, roles and private keys", function () {
    /** The members of `enum <name> { … }` in a Solidity file of contracts/, in declaration order. */
    function solidityEnum(file: string, name: string): string[] {
      const source = readFileSync(path.join(CONTRACTS_DIR, file), "utf8");
      const body = new RegExp(`enum\\s+${name}\\s*\\{([^}]*)\\}`).exec(source)?.[1];
      if (body === undefined) throw new Error(`no enum ${name} in ${file}`);
      return body
        .split(",")
        .map((member) => member.replace(/\/\/.*$/gm, "").trim())
        .filter((member) => member !== "");
    }

    it("lists each enum's names in the contracts' declaration order", function () {
      expect([...DeviceStatus]).to.deep.equal(solidityEnum("interfaces/IDeviceRegistry.sol", "DeviceStatus"));
      expect([...ClaimStatus]).to.deep.equal(solidityEnum("interfaces/IClaimsInsurance.sol", "ClaimStatus"));
      expect([...ModelStatus]).to.deep.equal(solidityEnum("interfaces/IOracleCommittee.sol", "ModelStatus"));
      expect([...ListingKind]).to.deep.equal(solidityEnum("interfaces/IDataMarketplace.sol", "ListingKind"));
      expect([...ListingStatus]).to.deep.equal(solidityEnum("interfaces/IDataMarketplace.sol", "ListingStatus"));
      expect([...PurchaseStatus]).to.deep.equal(solidityEnum("interfaces/IDataMarketplace.sol", "PurchaseStatus"));
    });

    it("enumValue and enumName convert between a name and its ABI value, refusing what is not in the enum", function () {
      expect(enumValue(ClaimStatus, "None")).to.equal(0n);
      expect(enumValue(ClaimStatus, "Paid")).to.equal(6n);
      expect(enumValue(ListingKind, "Model")).to.equal(2n);
      expect(enumName(ClaimStatus, 6n)).to.equal("Paid");
      expect(enumName(PurchaseStatus, 3)).to.equal("Refunded");
      for (const names of [DeviceStatus, ClaimStatus, ModelStatus, ListingKind, ListingStatus, PurchaseStatus]) {
        names.forEach((name, i) => {
          expect(enumName(names, enumValue(names, name))).to.equal(name);
          expect(enumValue(names, enumName(names, i))).to.equal(BigInt(i));
        });
      }
      expect(() => enumName(DeviceStatus, 4n)).to.throw(InvalidInputError, "enum value 4 is out of range (0..3)");
      expect(() => enumValue(DeviceStatus, "Paused" as (typeof DeviceStatus)[number])).to.throw(
        InvalidInputError,
        '"Paused" is not one of None, Active, Suspended, Revoked',
      );
    });

    it("enumValues maps every name to its ABI value in one frozen object", function () {
      const Status = enumValues(ClaimStatus);
      expect(Status).to.deep.equal({ None: 0n, Filed: 1n, Approved: 2n, Rejected: 3n, Appealed: 4n, Escalated: 5n, Paid: 6n, Closed: 7n });
      expect(enumValues(ListingKind)).to.deep.equal({ Dataset: 0n, Stream: 1n, Model: 2n });
      for (const names of [DeviceStatus, ClaimStatus, ModelStatus, ListingKind, ListingStatus, PurchaseStatus]) {
        const values: Record<string, bigint> = enumValues(names);
        expect(Object.keys(values)).to.deep.equal([...names]);
        for (const name of names) expect(values[name]).to.equal(enumValue(names, name));
      }
      expect(Object.isFrozen(Status)).to.equal(true);
    });

    it("ROLES are the keccak256 ids the contracts declare (and the zero default admin role)", function () {
      const declared = new Map<string, string>();
      for (const file of [
        "devices/DeviceRegistry.sol",
        "insurance/ClaimsInsurance.sol",
        "insurance/InsurancePool.sol",
        "oracle/OracleCommittee.sol",
        "market/DataMarketplace.sol",
      ]) {
        const source = readFileSync(path.join(CONTRACTS_DIR, file), "utf8");
        for (const m of source.matchAll(/bytes32 public constant (\w+_ROLE) = keccak256\("(\w+)"\);/g)) declared.set(m[1], id(m[2]));
      }
      expect(Object.fromEntries(declared)).to.deep.equal(
        Object.fromEntries(Object.entries(ROLES).filter(([name]) => name !== "DEFAULT_ADMIN_ROLE")),
      );
      expect(ROLES.DEFAULT_ADMIN_ROLE).to.equal(ZeroHash);
      expect(ROLES.CLAIMS_ROLE).to.equal(id("CLAIMS_ROLE"));
    });

    it("parsePrivateKey accepts 64 hex digits (0x optional, blanks trimmed) of a number in [1, N)", function () {
      const key = Wallet.createRandom().privateKey;
      expect(parsePrivateKey(key, "--device-key")).to.equal(key);
      expect(parsePrivateKey(` ${key.slice(2)}\n`, "--device-key")).to.equal(key);
      expect(parsePrivateKey((SECP256K1_N - 1n).toString(16), "KEY")).to.equal(`0x${(SECP256K1_N - 1n).toString(16)}`);
      expect(parsePrivateKey("0x" + "0".repeat(63) + "1", "KEY")).to.equal("0x" + "0".repeat(63) + "1");
    });

    it("parsePrivateKey refuses anything else, naming the label and never echoing a long value", function () {
      const key = Wallet.createRandom().privateKey;
      for (const bad of [key.slice(0, -1), `${key}0`, `${key.slice(0, -1)}g`, "", undefined]) {
        expect(() => parsePrivateKey(bad, "--device-key"))
          .to.throw(InvalidInputError, "--device-key must be a 32-byte hex private key (64 hex digits), got ")
          .with.property("details")
          .that.deep.equals({ label: "--device-key" });
      }
      expect(() => parsePrivateKey("0xabc", "--buyer-key")).to.throw(
        InvalidInputError,
        '--buyer-key must be a 32-byte hex private key (64 hex digits), got "0xabc"',
      );
      expect(() => parsePrivateKey(undefined, "TRIAD_PRIVATE_KEY")).to.throw(
        InvalidInputError,
        "TRIAD_PRIVATE_KEY must be a 32-byte hex private key (64 hex digits), got nothing",
      );
      for (const outOfRange of ["0".repeat(64), SECP256K1_N.toString(16), (SECP256K1_N + 1n).toString(16), "f".repeat(64)]) {
        expect(() => parsePrivateKey(outOfRange, "KEY")).to.throw(
          InvalidInputError,
          "KEY must be a secp256k1 private key: a number from 1 to the curve order - 1",
        );
      }
      for (const secret of [key.slice(0, -1), "f".repeat(64)]) {
        let message = "";
        try {
          parsePrivateKey(secret, "KEY");
        } catch (err) {
          message = (err as Error).message;
        }
        expect(message).to.match(/^KEY must be a /);
        expect(message).not.to.contain(secret.slice(6, 20));
      }
    });
  });

  describe("EIP-712 domain", function () {
    it("deviceRegistryDomain is the normative DeviceRegistry domain", function () {
      expect(deviceRegistryDomain(31337, REGISTRY)).to.deep.equal({
        name: "Triad DeviceRegistry",
        version: "1",
        chainId: 31337n,
        verifyingContract: REGISTRY,
      });
    });
  });

  describe("device bindings", function () {
    it("a signed binding recovers to the device, and its signature is over deviceBindingDigest", async function () {
      const signature = await signDeviceBinding(DEVICE, DOMAIN, BINDING);
      expect(recoverDeviceBinding(DOMAIN, BINDING, signature)).to.equal(DEVICE.address);
      expect(recoverAddress(deviceBindingDigest(DOMAIN, BINDING), signature)).to.equal(DEVICE.address);
    });

    it("the digest binds every field of the binding and of the domain", function () {
      const variants = [
        deviceBindingDigest(DOMAIN, BINDING),
        deviceBindingDigest(DOMAIN, { ...BINDING, device: OTHER_KEY.address }),
        deviceBindingDigest(DOMAIN, { ...BINDING, owner: REGISTRY }),
        deviceBindingDigest(DOMAIN, { ...BINDING, metadataHash: ZeroHash }),
        deviceBindingDigest(DOMAIN, { ...BINDING, nonce: 1n }),
        deviceBindingDigest(DOMAIN, { ...BINDING, deadline: BINDING.deadline + 1n }),
        deviceBindingDigest({ ...DOMAIN, chainId: 1n }, BINDING),
        deviceBindingDigest({ ...DOMAIN, verifyingContract: OWNER }, BINDING),
        deviceBindingDigest({ ...DOMAIN, name: "Triad ClaimsInsurance" }, BINDING),
        deviceBindingDigest({ ...DOMAIN, version: "2" }, BINDING),
      ];
      expect(new Set(variants).size).to.equal(variants.length);
    });

    it("a signature does not recover to the device for a changed binding or domain", async function () {
      const signature = await signDeviceBinding(DEVICE, DOMAIN, BINDING);
      expect(recoverDeviceBinding(DOMAIN, { ...BINDING, nonce: 1n }, signature)).to.not.equal(DEVICE.address);
      expect(recoverDeviceBinding({ ...DOMAIN, chainId: 1n }, BINDING, signature)).to.not.equal(DEVICE.address);
    });

    it("prepareRegistration returns what register needs, signed by the device for nonce 0 by default", async function () {
      const registration = await prepareRegistration({
        deviceKey: DEVICE,
        owner: OWNER,
        domain: DOMAIN,
        metadata: META,
        metadataURI: "ipfs://meta",
        deadline: BINDING.deadline,
      });
      expect(registration).to.deep.include({
        device: DEVICE.address,
        sensorSchema: id(AI4I_SCHEMA),
        metadataHash: metadataHash(META),
        metadataURI: "ipfs://meta",
        deadline: BINDING.deadline,
      });
      expect(recoverDeviceBinding(DOMAIN, BINDING, registration.signature)).to.equal(DEVICE.address);
    });

    it("prepareRegistration signs the given nonce", async function () {
      const registration = await prepareRegistration({
        deviceKey: DEVICE,
        owner: OWNER,
        domain: DOMAIN,
        metadata: META,
        metadataURI: "ipfs://meta",
        nonce: 5n,
        deadline: BINDING.deadline,
      });
      expect(recoverDeviceBinding(DOMAIN, { ...BINDING, nonce: 5n }, registration.signature)).to.equal(DEVICE.address);
      expect(recoverDeviceBinding(DOMAIN, BINDING, registration.signature)).to.not.equal(DEVICE.address);
    });
  });

  describe("metadata and schema ids", function () {
    it("sensorSchemaId is keccak256 of the schema string, ai4i-2020/v1 by default", function () {
      expect(sensorSchemaId()).to.equal(keccak256(toUtf8Bytes("ai4i-2020/v1")));
      expect(sensorSchemaId("other/v2")).to.equal(keccak256(toUtf8Bytes("other/v2")));
    });

    it("metadataHash is keccak256 of the canonical JSON, whatever the key order of the input", function () {
      const canonical = '{"schema":"triad.device/v1","sensorSchema":"ai4i-2020/v1","model":"mill-sensor-x1","firmware":"1.0.0"}';
      expect(metadataHash(META)).to.equal(keccak256(toUtf8Bytes(canonical)));
      const reordered = { firmware: "1.0.0", model: "mill-sensor-x1", sensorSchema: AI4I_SCHEMA, schema: "triad.device/v1" } as const;
      expect(metadataHash(reordered)).to.equal(metadataHash(META));
      expect(metadataHash({ ...META, firmware: "1.0.1" })).to.not.equal(metadataHash(META));
    });
  });

  describe("readings", function () {
    it("a signed reading recovers to the device, and its signature is over readingDigest", async function () {
      const signed = await signReading(DEVICE, DOMAIN, READING);
      expect(signed).to.deep.include(READING);
      expect(recoverReading(DOMAIN, signed)).to.equal(DEVICE.address);
      expect(recoverAddress(readingDigest(DOMAIN, READING), signed.signature)).to.equal(DEVICE.address);
    });

    it("a tampered reading does not recover to the device", async function () {
      const signed = await signReading(DEVICE, DOMAIN, READING);
      const tampered = [
        { ...signed, seq: signed.seq + 1n },
        { ...signed, timestamp: signed.timestamp + 1n },
        { ...signed, values: [...signed.values.slice(0, 5), 2n] },
        { ...signed, values: signed.values.slice(0, 5) },
        { ...signed, device: OTHER_KEY.address },
      ];
      for (const reading of tampered) {
        expect(recoverReading(DOMAIN, reading)).to.not.equal(DEVICE.address);
      }
      expect(recoverReading({ ...DOMAIN, chainId: 1n }, signed)).to.not.equal(DEVICE.address);
    });

    it("signs negative values and the int64 extremes, each to a distinct digest", async function () {
      const valueSets = [[1n], [-1n], [-(2n ** 63n)], [2n ** 63n - 1n], [-(2n ** 63n), 2n ** 63n - 1n]];
      const digests = new Set<string>();
      for (const values of valueSets) {
        const reading = { ...READING, values };
        expect(recoverReading(DOMAIN, await signReading(DEVICE, DOMAIN, reading))).to.equal(DEVICE.address);
        digests.add(readingDigest(DOMAIN, reading));
      }
      expect(digests.size).to.equal(valueSets.length);
    });

    it("readingDigest equals ethers' generic EIP-712 encoder for random readings, domains and extreme values", function () {
      fc.assert(
        fc.property(
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 12 }),
          fc.integer({ min: 1, max: 2 ** 40 }),
          (seq, timestamp, values, chainId) => {
            const domain = { ...DOMAIN, chainId: BigInt(chainId) };
            const reading = { ...READING, seq, timestamp, values };
            expect(readingDigest(domain, reading)).to.equal(TypedDataEncoder.hash(domain, READING_TYPES, reading));
          },
        ),
        { numRuns: 200, seed: 11 },
      );
    });

    it("refuses values outside int64 and seq outside uint64", function () {
      expect(() => readingDigest(DOMAIN, { ...READING, values: [2n ** 63n] })).to.throw();
      expect(() => readingDigest(DOMAIN, { ...READING, values: [-(2n ** 63n) - 1n] })).to.throw();
      expect(() => readingDigest(DOMAIN, { ...READING, seq: 2n ** 64n })).to.throw();
      expect(() => readingDigest(DOMAIN, { ...READING, seq: -1n })).to.throw();
    });

    it("signAi4iRows signs consecutive readings of the device's telemetry", async function () {
      const rows = parseAi4iCsv(CSV_TEXT).slice(0, 3);
      const byMinute = await signAi4iRows({ deviceKey: DEVICE, domain: DOMAIN, rows, startSeq: 10n, startTimestamp: 1_700_000_000n });
      expect(byMinute.map((r) => [r.seq, r.timestamp])).to.deep.equal([
        [10n, 1_700_000_000n],
        [11n, 1_700_000_060n],
        [12n, 1_700_000_120n],
      ]);
      for (const [i, reading] of byMinute.entries()) {
        expect(reading.device).to.equal(DEVICE.address);
        expect(reading.values).to.deep.equal(telemetryToValues(rows[i]));
        expect(recoverReading(DOMAIN, reading)).to.equal(DEVICE.address);
      }
      const bySecond = await signAi4iRows({
        deviceKey: DEVICE,
        domain: DOMAIN,
        rows,
        startSeq: 0n,
        startTimestamp: 5n,
        intervalSeconds: 1n,
      });
      expect(bySecond.map((r) => r.timestamp)).to.deep.equal([5n, 6n, 7n]);
    });
  });

  describe("reading Merkle trees", function () {
    const digests = [0, 1, 2, 3, 4].map((i) => readingDigest(DOMAIN, { ...READING, seq: BigInt(i) }));

    it("every member's proof verifies off-chain against the root", function () {
      const tree = buildReadingTree(digests);
      for (const digest of digests) {
        expect(verifyReadingProof(tree.root, digest, readingProof(tree, digest))).to.equal(true);
      }
    });

    it("a proof does not verify for another digest, a truncated proof or another root", function () {
      const tree = buildReadingTree(digests);
      const proof = readingProof(tree, digests[0]);
      const outsider = readingDigest(DOMAIN, { ...READING, seq: 99n });
      expect(verifyReadingProof(tree.root, digests[1], proof)).to.equal(false);
      expect(verifyReadingProof(tree.root, outsider, proof)).to.equal(false);
      expect(verifyReadingProof(tree.root, digests[0], proof.slice(1))).to.equal(false);
      expect(verifyReadingProof(buildReadingTree(digests.slice(1)).root, digests[0], proof)).to.equal(false);
    });

    it("the leaf is the double keccak of the ABI-encoded digest (what DeviceRegistry.verifyReading hashes)", function () {
      const tree = buildReadingTree([digests[0]]);
      expect(tree.root).to.equal(keccak256(keccak256(digests[0])));
    });

    it("the root depends on the set of readings, not their order", function () {
      expect(buildReadingTree([...digests].reverse()).root).to.equal(buildReadingTree(digests).root);
    });

    it("readingProof finds a digest whatever its hex case and refuses a non-member", function () {
      const tree = buildReadingTree(digests);
      expect(readingProof(tree, digests[2].toUpperCase().replace("0X", "0x"))).to.deep.equal(readingProof(tree, digests[2]));
      const outsider = readingDigest(DOMAIN, { ...READING, seq: 99n });
      expect(() => readingProof(tree, outsider))
        .to.throw(InvalidInputError, `reading digest ${outsider} is not in this batch`)
        .with.property("details")
        .that.deep.equals({ digest: outsider, root: tree.root });
    });

    it("buildReadingTree refuses an empty batch", function () {
      expect(() => buildReadingTree([])).to.throw(InvalidInputError, "a reading batch needs at least one reading");
    });
  });

  describe("AI4I 2020 data", function () {
    it("parseAi4iCsv reads the 8,000 training rows, 271 of them failures", function () {
      const rows = parseAi4iCsv(CSV_TEXT);
      expect(rows).to.have.length(8000);
      expect(rows.filter((r) => r.failure === 1)).to.have.length(271);
      expect(rows[0]).to.deep.equal({
        udi: 1,
        productId: "M14860",
        variant: "M",
        airTempK: 298.1,
        processTempK: 308.6,
        rpm: 1551,
        torqueNm: 42.8,
        toolWearMin: 0,
        failure: 0,
        modes: { TWF: 0, HDF: 0, PWF: 0, OSF: 0, RNF: 0 },
      });
    });

    it("parses CRLF line endings and skips blank lines", function () {
      // Compared as JSON: chai's deep equality takes seconds on 8,000 rows.
      const expected = JSON.stringify(parseAi4iCsv(CSV_TEXT));
      expect(JSON.stringify(parseAi4iCsv(CSV_TEXT.replace(/\n/g, "\r\n")))).to.equal(expected);
      expect(JSON.stringify(parseAi4iCsv(withLine(3, (line) => `\n${line}\n`)))).to.equal(expected);
    });

    it("refuses a wrong header, naming line 1 and the source", function () {
      const renamed = withLine(1, (line) => line.replace("Torque [Nm]", "Torque"));
      expect(() => parseAi4iCsv(renamed, "plant.csv")).to.throw(InvalidInputError, /^plant\.csv: line 1 is not the AI4I 2020 header/);
      expect(() => parseAi4iCsv("", "empty.csv")).to.throw(InvalidInputError, /^empty\.csv: line 1 is not the AI4I 2020 header/);
      const reordered = [AI4I_COLUMNS[1], AI4I_COLUMNS[0], ...AI4I_COLUMNS.slice(2)].join(",");
      expect(() => parseAi4iCsv(withLine(1, () => reordered))).to.throw(InvalidInputError, /line 1 is not the AI4I 2020 header/);
    });

    it("refuses a non-numeric value, naming the line and column", function () {
      const text = withLine(100, (line) =>
        line
          .split(",")
          .map((c, i) => (i === 6 ? "4x2" : c))
          .join(","),
      );
      expect(() => parseAi4iCsv(text, "plant.csv"))
        .to.throw(InvalidInputError, 'plant.csv: line 100: column "Torque [Nm]" is not a number: "4x2"')
        .with.property("details")
        .that.deep.equals({ line: 100, column: "Torque [Nm]" });
      const empty = withLine(7, (line) =>
        line
          .split(",")
          .map((c, i) => (i === 5 ? "" : c))
          .join(","),
      );
      expect(() => parseAi4iCsv(empty)).to.throw(InvalidInputError, 'CSV: line 7: column "Rotational speed [rpm]" is not a number: ""');
    });

    it("refuses a bad product type, a failure flag other than 0/1 and a short row, naming the line", function () {
      const badType = withLine(5, (line) =>
        line
          .split(",")
          .map((c, i) => (i === 2 ? "X" : c))
          .join(","),
      );
      expect(() => parseAi4iCsv(badType)).to.throw(InvalidInputError, 'CSV: line 5: column "Type" must be L, M or H, got "X"');
      const badFlag = withLine(8001, (line) =>
        line
          .split(",")
          .map((c, i) => (i === 8 ? "2" : c))
          .join(","),
      );
      expect(() => parseAi4iCsv(badFlag)).to.throw(InvalidInputError, 'CSV: line 8001: column "Machine failure" must be 0 or 1, got "2"');
      const short = withLine(42, (line) => line.split(",").slice(0, 10).join(","));
      expect(() => parseAi4iCsv(short)).to.throw(InvalidInputError, "CSV: line 42 has 10 columns, expected 14");
    });

    it("counts lines in the file, blank ones included", function () {
      const text = withLine(2, (line) => `\n${line}`).replace(/\n(3,L47182,L,298\.1)/, "\n3,L47182,Q,298.1");
      expect(() => parseAi4iCsv(text)).to.throw(InvalidInputError, /^CSV: line 4: column "Type"/);
    });

    it("telemetryToValues of the first row is [298100, 308600, 1551, 42800, 0, 1] and round-trips", function () {
      const first = telemetryOf(parseAi4iCsv(CSV_TEXT)[0]);
      expect(first).to.deep.equal({ airTempK: 298.1, processTempK: 308.6, rpm: 1551, torqueNm: 42.8, toolWearMin: 0, variant: "M" });
      const values = telemetryToValues(first);
      expect(values).to.deep.equal([298100n, 308600n, 1551n, 42800n, 0n, 1n]);
      expect(valuesToTelemetry(values)).to.deep.equal(first);
    });

    it("every training row round-trips through telemetryToValues and valuesToTelemetry", function () {
      const mismatched = parseAi4iCsv(CSV_TEXT)
        .filter((row) => JSON.stringify(valuesToTelemetry(telemetryToValues(row))) !== JSON.stringify(telemetryOf(row)))
        .map((row) => row.udi);
      expect(mismatched).to.deep.equal([]);
    });

    it("telemetryToValues rounds decimals exactly, half away from zero, and maps L/M/H to 0/1/2", function () {
      const base: Ai4iTelemetry = { airTempK: 1.005, processTempK: 0.0005, rpm: 2.5, torqueNm: 0.0004, toolWearMin: 7, variant: "L" };
      // 1.005 * 1000 is 1004.9999999999999 in binary floating point: naive scaling would give 1004.
      expect(telemetryToValues(base)).to.deep.equal([1005n, 1n, 3n, 0n, 7n, 0n]);
      expect(telemetryToValues({ ...base, variant: "H" })[5]).to.equal(2n);
      expect(telemetryToValues({ ...base, torqueNm: -1.5, rpm: -2.5 }).slice(2, 4)).to.deep.equal([-3n, -1500n]);
    });

    it("valuesToTelemetry refuses a wrong number of values and an unknown variant", function () {
      expect(() => valuesToTelemetry([1n, 2n, 3n, 4n, 5n])).to.throw(InvalidInputError, "an ai4i-2020/v1 reading has 6 values, got 5");
      for (const variant of [3n, -1n]) {
        expect(() => valuesToTelemetry([298100n, 308600n, 1551n, 42800n, 0n, variant])).to.throw(
          InvalidInputError,
          `product variant must be 0, 1 or 2, got ${variant}`,
        );
      }
    });
  });

  describe("deployment records", function () {
    const RECORD: DeploymentRecord = {
      chainId: 31337,
      startBlock: 12,
      contracts: { DeviceRegistry: REGISTRY, TestToken: OWNER },
      token: OWNER,
      updatedAt: "2025-01-01T00:00:00.000Z",
    };

    it("saveDeployment and loadDeployment round-trip, leaving only the record file", function () {
      inTempDir((dir) => {
        const file = saveDeployment(RECORD, dir);
        expect(file).to.equal(path.join(dir, "31337.json"));
        expect(readdirSync(dir)).to.deep.equal(["31337.json"]);
        expect(loadDeployment(31337n, { dir, required: ["DeviceRegistry", "TestToken"] })).to.deep.equal(RECORD);
        const updated = { ...RECORD, startBlock: 99 };
        saveDeployment(updated, dir);
        expect(loadDeployment(31337, { dir })).to.deep.equal(updated);
      });
    });

    it("names the missing file when there is no record for the chain", function () {
      inTempDir((dir) => {
        const file = path.join(dir, "11155111.json");
        expect(() => loadDeployment(11155111, { dir }))
          .to.throw(DeploymentNotFoundError, `no deployment for chain 11155111: ${file} does not exist`)
          .that.is.instanceOf(TriadError)
          .and.deep.includes({ code: "DEPLOYMENT_NOT_FOUND", details: { chainId: 11155111, file } });
      });
    });

    it("names the missing contracts when a required one is not in the record", function () {
      inTempDir((dir) => {
        const file = saveDeployment(RECORD, dir);
        expect(() => loadDeployment(31337, { dir, required: ["DeviceRegistry", "OracleCommittee", "ClaimsInsurance"] }))
          .to.throw(DeploymentNotFoundError, `deployment record ${file} lacks OracleCommittee, ClaimsInsurance`)
          .with.property("details")
          .that.deep.equals({ file, missing: ["OracleCommittee", "ClaimsInsurance"] });
      });
    });

    it("refuses JSON that is not a deployment record", function () {
      inTempDir((dir) => {
        const file = path.join(dir, "31337.json");
        for (const text of ["null", "[]", '{"chainId":31337}', '{"chainId":31337,"contracts":null}']) {
          writeFileSync(file, text);
          expect(() => loadDeployment(31337, { dir }), text).to.throw(
            DeploymentNotFoundError,
            `deployment record ${file} has no "contracts" object`,
          );
        }
      });
    });

    it("refuses a record saved for another chain", function () {
      inTempDir((dir) => {
        saveDeployment(RECORD, dir);
        const file = path.join(dir, "5.json");
        // For example a local record copied over a testnet's.
        writeFileSync(file, readFileSync(path.join(dir, "31337.json")));
        expect(() => loadDeployment(5n, { dir }))
          .to.throw(DeploymentNotFoundError, `deployment record ${file} is for chain 31337, not 5`)
          .with.property("details")
          .that.deep.equals({ file, chainId: 5, recordChainId: 31337 });
      });
    });

    it("refuses a record that is not JSON", function () {
      inTempDir((dir) => {
        const file = path.join(dir, "31337.json");
        writeFileSync(file, "{ not json");
        expect(() => loadDeployment(31337, { dir })).to.throw(DeploymentNotFoundError, `deployment record ${file} is not valid JSON`);
      });
    });
  });
});
