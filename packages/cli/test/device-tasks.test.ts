import { expect } from "chai";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ethers } from "@triad/devkit/network";
import {
  AI4I_SCHEMA,
  parseReadingDataset,
  DeviceStatus as DeviceStatusNames,
  deviceRegistryDomain,
  enumValues,
  formatTimestamp,
  parseAi4iCsv,
  prepareReadingBatch,
  registerDevice,
  sensorSchemaId,
  signAi4iRows,
  verifyAnchoredReadings,
} from "@triad/sdk";
import { saveDeployment } from "@triad/sdk/node";
import {
  ai4iCsv,
  deployTriadForTasks,
  EXIT,
  expectOneError,
  expectSuccess,
  loadTaskFixture,
  runTask,
  tempDir,
  testKey,
  testWallet,
  useTaskEnvironment,
  withDeploymentsDir,
  writeTempFile,
} from "./fixtures.ts";

const DeviceStatus = enumValues(DeviceStatusNames);
const ROWS = 3;

/** The deployed suite with nothing registered. */
async function deviceTasksFixture() {
  return deployTriadForTasks();
}

/** {@link deviceTasksFixture} with one device registered (through the SDK) to `seller`, and a CSV of AI4I rows. */
async function registeredDeviceFixture() {
  const base = await deployTriadForTasks();
  const owner = base.signers.seller;
  const deviceKey = testWallet("devices/registered");
  await registerDevice(base.registry.connect(owner), { deviceKey, metadataURI: "ipfs://triad/device-metadata" });
  const csv = writeTempFile("readings.csv", ai4iCsv(ROWS));
  return { ...base, owner, deviceKey, device: deviceKey.address, csv };
}

describe("device tasks", function () {
  useTaskEnvironment();

  describe("device:register", function () {
    it("registers the --device-key's address to the --from account and prints the address", async function () {
      const { registry, signers } = await loadTaskFixture(deviceTasksFixture);
      const key = testWallet("devices/new");

      const run = expectSuccess(await runTask("device:register", { deviceKey: key.privateKey, from: "1" }));

      const lines = run.stdout.trimEnd().split("\n");
      expect(lines[0]).to.equal(`Registered device ${key.address}`);
      expect(lines[1]).to.contain(`owner ${signers.seller.address}, schema ${AI4I_SCHEMA}`);
      const [owner, status] = await registry.ownerAndStatus(key.address);
      expect(owner).to.equal(signers.seller.address);
      expect(status).to.equal(DeviceStatus.Active);
    });

    it("--json prints device, owner and gasUsed of the mined registration, with the given metadata URI", async function () {
      const { registry, signers } = await loadTaskFixture(deviceTasksFixture);
      const key = testWallet("devices/new");

      // Without 0x and with surrounding blanks: the parser normalises both.
      const run = expectSuccess(
        await runTask("device:register", { deviceKey: ` ${key.privateKey.slice(2)} `, metadataUri: "ipfs://meta", json: true }),
      );

      expect(run.json).to.include({ device: key.address, owner: signers.admin.address, sensorSchema: AI4I_SCHEMA });
      const receipt = (await ethers.provider.getTransactionReceipt(run.json.txHash))!;
      expect(run.json.gasUsed).to.equal(receipt.gasUsed.toString());
      expect(receipt.to).to.equal(await registry.getAddress());
      const d = await registry.getDevice(key.address);
      expect([d.owner, d.status, d.sensorSchema, d.metadataURI]).to.deep.equal([
        signers.admin.address,
        DeviceStatus.Active,
        sensorSchemaId(AI4I_SCHEMA),
        "ipfs://meta",
      ]);
    });

    it("refuses a device that is already registered, naming its owner", async function () {
      const { deviceKey, owner } = await loadTaskFixture(registeredDeviceFixture);
      const run = await runTask("device:register", { deviceKey: deviceKey.privateKey });
      expectOneError(run, `device ${deviceKey.address} is already registered (owner ${owner.address}, Active)`, EXIT.REFUSED);
    });

    it("refuses a malformed --device-key without echoing it", async function () {
      await loadTaskFixture(deviceTasksFixture);
      const almostKey = testKey("devices/new").slice(0, -1); // 63 hex digits
      const message = expectOneError(
        await runTask("device:register", { deviceKey: almostKey }),
        "--device-key must be a 32-byte hex private key",
      );
      expect(message).not.to.contain(almostKey.slice(2, 20));
    });

    it("refuses a 64-digit --device-key that is not a valid secp256k1 key (zero, or not below the curve order)", async function () {
      await loadTaskFixture(deviceTasksFixture);
      for (const deviceKey of ["0x" + "0".repeat(64), "f".repeat(64)]) {
        const message = expectOneError(await runTask("device:register", { deviceKey }), "--device-key must be a secp256k1 private key");
        expect(message).not.to.contain(deviceKey.slice(-20));
      }
    });

    it("refuses a malformed --schema", async function () {
      await loadTaskFixture(deviceTasksFixture);
      const run = await runTask("device:register", { deviceKey: testKey("devices/new"), schema: "has spaces" });
      expectOneError(run, `--schema must be a schema id such as ${AI4I_SCHEMA}`);
    });
  });

  describe("device:show", function () {
    it("prints status, owner, schema, metadata and next seq", async function () {
      const { registry, device, owner } = await loadTaskFixture(registeredDeviceFixture);
      const d = await registry.getDevice(device);

      const run = expectSuccess(await runTask("device:show", { device: device.toLowerCase() }));

      expect(run.stdout.trimEnd().split("\n")).to.deep.equal([
        `Device ${device}`,
        "  status      Active",
        `  owner       ${owner.address}`,
        `  schema      ${AI4I_SCHEMA}`,
        `  metadata    ipfs://triad/device-metadata (${d.metadataHash})`,
        `  registered  ${formatTimestamp(d.registeredAt, (await ethers.provider.getBlock("latest"))!.timestamp)}`,
        `  next seq    0 (readings:list --device ${device} shows its anchored batches)`,
        "  gateways    none: only the owner anchors its readings (device:gateway authorises a gateway)",
      ]);
    });

    it("--json prints the registry's view of the device", async function () {
      const { registry, device, owner } = await loadTaskFixture(registeredDeviceFixture);
      const d = await registry.getDevice(device);

      const run = expectSuccess(await runTask("device:show", { device, json: true }));

      expect(run.json).to.deep.equal({
        device,
        owner: owner.address,
        status: "Active",
        adminHold: false,
        sensorSchema: AI4I_SCHEMA,
        metadataHash: d.metadataHash,
        metadataURI: "ipfs://triad/device-metadata",
        registeredAt: Number(d.registeredAt),
        nextSeq: "0",
        pendingOwner: ethers.ZeroAddress,
        gateways: [],
      });
    });

    it("reports an unregistered device and a malformed address in one line each, even one with a line break", async function () {
      await loadTaskFixture(deviceTasksFixture);
      const unknown = testWallet("devices/unknown").address;
      expectOneError(await runTask("device:show", { device: unknown }), `device ${unknown} is not registered`, EXIT.NOT_FOUND);
      expectOneError(await runTask("device:show", { device: "0x1234" }), '--device must be a 0x-prefixed 20-byte address, got "0x1234"');
      // A line break in the value is escaped: still one line.
      expectOneError(await runTask("device:show", { device: "0x12\r\nab" }), String.raw`got "0x12\r\nab"`);
    });
  });

  describe("device:suspend, device:resume, device:revoke", function () {
    it("the owner suspends, resumes and revokes; each status lands on-chain", async function () {
      const { registry, device } = await loadTaskFixture(registeredDeviceFixture);
      const steps = [
        ["device:suspend", "Suspended", DeviceStatus.Suspended],
        ["device:resume", "Active", DeviceStatus.Active],
        ["device:revoke", "Revoked", DeviceStatus.Revoked],
      ] as const;
      for (const [task, name, status] of steps) {
        const run = expectSuccess(await runTask(task, { device, from: "1", json: true }));
        expect(run.json).to.include({ device, status: name });
        expect((await registry.ownerAndStatus(device)).status).to.equal(status);
      }
    });

    it("prints the new status in human output", async function () {
      const { device } = await loadTaskFixture(registeredDeviceFixture);
      const run = expectSuccess(await runTask("device:suspend", { device, from: "1" }));
      expect(run.stdout).to.match(new RegExp(`^Device ${device} is now Suspended \\(gas \\d+\\)\\n$`));
    });

    it("an account that is neither owner nor admin gets DeviceUnauthorized in one line; nothing changes", async function () {
      const { registry, device, signers } = await loadTaskFixture(registeredDeviceFixture);
      for (const task of ["device:suspend", "device:revoke"]) {
        const run = await runTask(task, { device, from: signers.stranger.address });
        expectOneError(
          run,
          `you (${signers.stranger.address}) may not manage device ${device}: only its owner or an admin can`,
          EXIT.REFUSED,
        );
      }
      expect((await registry.ownerAndStatus(device)).status).to.equal(DeviceStatus.Active);
    });

    it("an admin suspension holds: the owner cannot resume it (DeviceAdminHold)", async function () {
      const { registry, device } = await loadTaskFixture(registeredDeviceFixture);
      expectSuccess(await runTask("device:suspend", { device })); // account 0: the admin
      expect((await registry.getDevice(device)).adminHold).to.equal(true);
      expectOneError(
        await runTask("device:resume", { device, from: "1" }),
        `device ${device} is under an admin hold: only an admin can resume it`,
        EXIT.REFUSED,
      );
      expect((await registry.ownerAndStatus(device)).status).to.equal(DeviceStatus.Suspended);
    });

    it("resuming an Active device names the invalid transition", async function () {
      const { device } = await loadTaskFixture(registeredDeviceFixture);
      const run = await runTask("device:resume", { device, from: "1" });
      expectOneError(run, `device ${device} is already Active`, EXIT.REFUSED);
    });

    it("refuses a --from that is not a local account", async function () {
      const { device } = await loadTaskFixture(registeredDeviceFixture);
      const accounts = (await ethers.getSigners()).length;
      expectOneError(await runTask("device:suspend", { device, from: "999" }), `--from 999: network hardhat has ${accounts} accounts`);
      const outsider = testWallet("devices/outsider").address;
      expectOneError(await runTask("device:suspend", { device, from: outsider }), `--from ${outsider} is not one of the accounts`);
    });
  });

  describe("readings:anchor", function () {
    it("anchors the CSV rows as one batch whose root verifies with the registry and the SDK", async function () {
      const { registry, record, deviceKey, device, csv } = await loadTaskFixture(registeredDeviceFixture);

      const run = expectSuccess(await runTask("readings:anchor", { deviceKey: deviceKey.privateKey, csv, from: "1", json: true }));

      expect(run.json).to.include({ device, fromSeq: "0", toSeq: String(ROWS - 1), readings: ROWS, uri: `triad://readings/${device}/0` });
      const anchor = await registry.anchorOf(device, run.json.root);
      expect(anchor.device).to.equal(device);
      expect((await registry.getDevice(device)).nextSeq).to.equal(BigInt(ROWS));

      // Rebuild the batch as the task signs it: consecutive seqs, one per minute ending at the block before the anchor.
      const receipt = (await ethers.provider.getTransactionReceipt(run.json.txHash))!;
      expect(run.json.gasUsed).to.equal(receipt.gasUsed.toString());
      const before = (await ethers.provider.getBlock(receipt.blockNumber - 1))!;
      const domain = deviceRegistryDomain(record.chainId, record.contracts.DeviceRegistry!);
      const readings = await signAi4iRows({
        deviceKey,
        domain,
        rows: parseAi4iCsv(ai4iCsv(ROWS)),
        startSeq: 0n,
        startTimestamp: BigInt(before.timestamp) - 60n * BigInt(ROWS),
      });
      const batch = prepareReadingBatch(domain, readings);
      expect(batch.root).to.equal(run.json.root);
      const verification = await verifyAnchoredReadings(registry, { domain, device, root: run.json.root, readings: batch.entries });
      expect(verification.failures).to.deep.equal([]);
      expect(verification.valid).to.equal(true);
      for (const { reading, proof } of batch.entries) {
        const digest = await registry.readingDigest(reading.device, reading.seq, reading.timestamp, reading.values);
        expect(await registry.verifyReading(device, run.json.root, digest, proof)).to.equal(true);
      }
    });

    it("keeps the signed readings with their proofs (triad.dataset/v1) and refuses to overwrite them without --force", async function () {
      const { registry, record, deviceKey, device, csv } = await loadTaskFixture(registeredDeviceFixture);
      const out = path.join(tempDir(), "batch.readings.json");
      const run = expectSuccess(await runTask("readings:anchor", { deviceKey: deviceKey.privateKey, csv, out, from: "1", json: true }));
      expect(run.json.readingsFile).to.equal(out);
      const { file, batches } = parseReadingDataset(readFileSync(out));
      expect(file).to.include({ chainId: record.chainId, registry: record.contracts.DeviceRegistry, sensorSchema: AI4I_SCHEMA });
      expect(batches).to.have.length(1);
      expect(batches[0].root).to.equal(run.json.root);
      expect(batches[0].readings).to.have.length(ROWS);
      const domain = deviceRegistryDomain(record.chainId, record.contracts.DeviceRegistry!);
      const verification = await verifyAnchoredReadings(registry, { domain, device, root: batches[0].root, readings: batches[0].readings });
      expect(verification.failures).to.deep.equal([]);
      expect(verification.valid).to.equal(true);

      const again = await runTask("readings:anchor", { deviceKey: deviceKey.privateKey, csv, out, from: "1" });
      expectOneError(again, `${out} already exists: move it away, choose another --out or pass --force`);
      expect((await registry.getDevice(device)).nextSeq, "nothing was anchored").to.equal(BigInt(ROWS));
    });

    it("continues at the device's next seq and prints the range", async function () {
      const { deviceKey, device, csv } = await loadTaskFixture(registeredDeviceFixture);
      expectSuccess(await runTask("readings:anchor", { deviceKey: deviceKey.privateKey, csv, force: true, from: "1" }));
      const run = expectSuccess(await runTask("readings:anchor", { deviceKey: deviceKey.privateKey, csv, force: true, from: "1" }));
      expect(run.stdout).to.contain(`Anchored ${ROWS} readings of ${device} (seq ${ROWS}..${2 * ROWS - 1}, one a minute from `);
      expect(run.stdout).to.contain(`.seq${ROWS}-${2 * ROWS - 1}.readings.json`);
      expect(run.stdout).to.match(/root 0x[0-9a-f]{64}, gas \d+/);
    });

    it("--start-seq below the device's next seq is refused by the registry (AnchorInvalidRange)", async function () {
      const { registry, deviceKey, device, csv } = await loadTaskFixture(registeredDeviceFixture);
      expectSuccess(await runTask("readings:anchor", { deviceKey: deviceKey.privateKey, csv, force: true, from: "1" }));

      const run = await runTask("readings:anchor", { deviceKey: deviceKey.privateKey, csv, startSeq: "1", force: true, from: "1" });

      expectOneError(
        run,
        `readings 1..${ROWS} of device ${device} cannot be anchored: a batch runs forwards and starts at seq ${ROWS} or later`,
        EXIT.REFUSED,
      );
      expect((await registry.getDevice(device)).nextSeq).to.equal(BigInt(ROWS));
    });

    it("refuses a --start-seq that is not a whole number", async function () {
      const { deviceKey, csv } = await loadTaskFixture(registeredDeviceFixture);
      const run = await runTask("readings:anchor", { deviceKey: deviceKey.privateKey, csv, startSeq: "-1", from: "1" });
      expectOneError(run, '--start-seq must be a whole number, got "-1"');
    });

    it("a suspended device cannot anchor (DeviceNotActive)", async function () {
      const { deviceKey, device, csv } = await loadTaskFixture(registeredDeviceFixture);
      expectSuccess(await runTask("device:suspend", { device, from: "1" }));
      // (--force: an earlier test of this suite kept the same seq range's readings file next to the fixture's CSV)
      const run = await runTask("readings:anchor", { deviceKey: deviceKey.privateKey, csv, force: true, from: "1" });
      expectOneError(run, `device ${device} is Suspended: this needs an Active device`, EXIT.REFUSED);
    });

    it("reports a missing CSV, a wrong header, a CSV without rows and an unregistered device in one line each", async function () {
      const { deviceKey, csv } = await loadTaskFixture(registeredDeviceFixture);
      const key = deviceKey.privateKey;
      const missing = path.join(tempDir(), "absent.csv");
      expectOneError(await runTask("readings:anchor", { deviceKey: key, csv: missing }), `cannot read --csv ${missing}: ENOENT`);

      const wrongHeader = writeTempFile("wrong.csv", ai4iCsv(ROWS).replace("Torque [Nm]", "Torque"));
      expectOneError(await runTask("readings:anchor", { deviceKey: key, csv: wrongHeader }), "line 1 is not the AI4I 2020 header");

      const headerOnly = writeTempFile("empty.csv", ai4iCsv(0));
      expectOneError(await runTask("readings:anchor", { deviceKey: key, csv: headerOnly }), `${headerOnly} has no data rows`);

      const badRow = writeTempFile("bad-row.csv", ai4iCsv(ROWS).replace(/\n([^\n]*)\n$/, "\n$1,\n1,M1,X,1,2,3,4,5,0,0,0,0,0,0\n"));
      expectOneError(await runTask("readings:anchor", { deviceKey: key, csv: badRow }), 'column "Type" must be L, M or H');

      const stranger = testWallet("devices/unregistered");
      const run = await runTask("readings:anchor", { deviceKey: stranger.privateKey, csv });
      expectOneError(run, `device ${stranger.address} is not registered (run device:register first)`, EXIT.NOT_FOUND);
    });
  });

  describe("deployment record", function () {
    it("every device task reports a missing record in one line naming the chain and the network", async function () {
      const { device, deviceKey, csv } = await loadTaskFixture(registeredDeviceFixture);
      const empty = tempDir();
      await withDeploymentsDir(empty, async () => {
        const calls: [string, Record<string, unknown>][] = [
          ["device:register", { deviceKey: testKey("devices/new") }],
          ["device:show", { device }],
          ["device:suspend", { device }],
          ["readings:anchor", { deviceKey: deviceKey.privateKey, csv }],
        ];
        for (const [task, args] of calls) {
          const message = expectOneError(
            await runTask(task, args),
            "no Triad deployment is recorded for chain 31337 (the node at hardhat)",
            EXIT.NETWORK,
          );
          expect(message, task).to.contain(path.join(empty, "31337.json"));
          expect(message, task).to.contain("deploy with npm run deploy -- --network localhost");
        }
      });
      expect(existsSync(path.join(empty, "31337.json"))).to.equal(false);
    });

    it("refuses a record saved for another chain", async function () {
      const { record, device } = await loadTaskFixture(registeredDeviceFixture);
      const dir = tempDir();
      // A record of chain 1 stored under 31337's file name (say, a copied file).
      const file = saveDeployment(record, dir);
      writeFileSync(file, readFileSync(file, "utf8").replace('"chainId": 31337', '"chainId": 1'));
      await withDeploymentsDir(dir, async () => {
        expectOneError(await runTask("device:show", { device }), "is for chain 1, not 31337", EXIT.NETWORK);
      });
    });
  });
});
