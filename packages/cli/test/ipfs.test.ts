import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { networkHelpers } from "@triad/devkit/network";
import { fetchEvidence, openConfiguredIpfs, parseConfig } from "@triad/oracle";
import { evidenceHash, registerDevice } from "@triad/sdk";
import { ipfsCidOf, type IpfsClient } from "@triad/sdk/node";
import { runIpfsCli } from "../src/ipfs-service.ts";
import {
  EXIT,
  INCIDENT_OFFSET,
  ai4iCsv,
  deployTriadForTasks,
  expectOneError,
  expectSuccess,
  incidentCsv,
  loadTaskFixture,
  runTask,
  tempDir,
  testKey,
  testWallet,
  useTaskEnvironment,
  writeTempFile,
} from "./fixtures.ts";

const { time } = networkHelpers;

/**
 * Content on IPFS from the command line (docs/protocol.md §2, content addressing): evidence:build --publish and market:list --publish
 * write into a folder (`--ipfs-dir`), `triad ipfs serve` serves that folder over loopback TCP, and the oracle's node
 * (ORACLE_IPFS_DIR + ORACLE_IPFS_PEERS) and a buyer's (market:access --ipfs-dir --ipfs-peers) fetch by CID, every
 * block verified against it. Real Helia nodes, real chain (in-process Hardhat).
 */
describe("IPFS publishing and fetching (evidence:build, claim:file, market:list, market:access, ipfs serve)", function () {
  this.timeout(300_000);
  useTaskEnvironment();

  const clients: IpfsClient[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  afterEach(async function () {
    for (const stop of stops.splice(0)) await stop();
    for (const c of clients.splice(0)) await c.close();
  });

  /** `triad ipfs serve --dir <dir>` on a free loopback port, in-process; stopped after the test. */
  async function serve(dir: string): Promise<string[]> {
    let stdout = "";
    let stop!: () => void;
    const until = new Promise<void>((resolve) => (stop = resolve));
    const running = runIpfsCli(["serve", "--dir", dir, "--listen", "/ip4/127.0.0.1/tcp/0"], {
      stdout: { write: (s: string) => void (stdout += s) },
      env: {},
      until,
    });
    stops.push(async () => {
      stop();
      expect(await running).to.equal(0);
    });
    while (!stdout.includes("\n")) {
      const settled = await Promise.race([running.then(() => "ended"), new Promise((r) => setTimeout(() => r("waiting"), 50))]);
      if (settled === "ended") expect.fail(`ipfs serve ended before listening: ${stdout}`);
    }
    const line = JSON.parse(stdout.split("\n")[0]) as { peerId: string; multiaddrs: string[]; dir: string };
    expect(line.dir).to.equal(dir);
    expect(line.multiaddrs[0]).to.match(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${line.peerId}$`));
    return line.multiaddrs;
  }

  /** Device A of account 1, insured, with 33 anchored readings of a failure (readings:anchor), as in evidence.test.ts. */
  async function insuredIncidentFixture() {
    const base = await deployTriadForTasks();
    const key = testWallet("ipfs/device");
    expectSuccess(await runTask("device:register", { deviceKey: key.privateKey, from: "1" }));
    expectSuccess(await runTask("pool:deposit", { amount: "100000", from: "3" }));
    expectSuccess(await runTask("policy:buy", { device: key.address, coverage: "5000", days: "30", from: "1" }));
    await time.increase(86_400 + 3600);
    const csv = writeTempFile("ipfs-incident.csv", incidentCsv(true));
    const dataset = path.join(tempDir("triad-ipfs-"), "a.readings.json");
    const anchored = expectSuccess(
      await runTask("readings:anchor", { deviceKey: key.privateKey, csv, out: dataset, from: "1", json: true }),
    ).json;
    return { ...base, device: key.address, dataset, incidentAt: BigInt(anchored.firstTimestamp) + INCIDENT_OFFSET };
  }

  /** A device registered to the seller (account 1). */
  async function sellerFixture() {
    const base = await deployTriadForTasks();
    const deviceKey = testWallet("ipfs/market-device");
    await registerDevice(base.registry.connect(base.signers.seller), { deviceKey });
    return { ...base, device: deviceKey.address };
  }

  it("evidence:build --publish writes the bundle into --ipfs-dir; served, the oracle's node fetches it by CID; claim:file files its ipfs:// URI", async function () {
    const fx = await loadTaskFixture(insuredIncidentFixture);
    const publishDir = tempDir("triad-ipfs-publish-");
    const out = path.join(tempDir(), "a.evidence.json");
    const built = expectSuccess(
      await runTask("evidence:build", {
        dataset: fx.dataset,
        incidentAt: String(fx.incidentAt),
        out,
        publish: true,
        ipfsDir: publishDir,
        json: true,
      }),
    ).json;
    const bytes = new Uint8Array(readFileSync(out));
    const cid = await ipfsCidOf(bytes);
    expect(built.evidenceURI).to.equal(`ipfs://${cid}`);
    expect(cid).to.match(/^bafkrei/); // one raw block: the bundle is under 1 MiB

    // The human output says where it went and how to file it.
    const human = expectSuccess(
      await runTask("evidence:build", {
        dataset: fx.dataset,
        incidentAt: String(fx.incidentAt),
        out: path.join(tempDir(), "again.json"),
        ipfsDir: publishDir,
      }),
    );
    expect(human.stdout).to.contain(`  published to the IPFS node in ${publishDir} as ipfs://`);
    expect(human.stdout).to.contain(`triad ipfs serve --dir ${publishDir}`);

    // The folder served; the oracle's node, configured from its environment, dials it and fetches by CID.
    const multiaddrs = await serve(publishDir);
    const config = parseConfig({ ORACLE_IPFS_DIR: tempDir("triad-oracle-ipfs-"), ORACLE_IPFS_PEERS: multiaddrs.join(",") });
    const ipfs = (await openConfiguredIpfs(config, pino({ level: "silent" })))!;
    clients.push(ipfs);
    const fetched = await fetchEvidence(built.evidenceURI, { ...config.evidence, timeoutMs: 20_000, deadlineMs: 60_000 }, { ipfs });
    expect(Buffer.from(fetched).equals(Buffer.from(bytes))).to.equal(true);
    expect(evidenceHash(fetched)).to.equal(built.evidenceHash);

    // claim:file takes the ipfs:// URI of these bytes, and refuses one that names other content.
    const otherCid = await ipfsCidOf(new TextEncoder().encode("other content"));
    const refused = await runTask("claim:file", {
      policy: "1",
      amount: "1500",
      evidence: out,
      evidenceUri: `ipfs://${otherCid}`,
      from: "1",
    });
    expect(expectOneError(refused, `--evidence-uri ipfs://${otherCid} names other content than ${out} (whose CID is ${cid})`)).to.contain(
      "evidence:build --publish",
    );
    const filed = expectSuccess(
      await runTask("claim:file", { policy: "1", amount: "1500", evidence: out, evidenceUri: built.evidenceURI, from: "1", json: true }),
    ).json;
    expect(filed).to.include({ evidenceURI: built.evidenceURI, evidenceHash: built.evidenceHash });
    const claim = await fx.claims.getClaim(BigInt(filed.claimId));
    expect(claim.evidenceURI).to.equal(built.evidenceURI);
  });

  it("market:list --publish lists the encrypted file under its ipfs:// URI; the buyer's market:access fetches it by CID, decrypts and verifies it", async function () {
    const fx = await loadTaskFixture(sellerFixture);
    const sellerDir = tempDir("triad-ipfs-seller-");
    const file = writeTempFile("ipfs-dataset.csv", ai4iCsv(20));
    const listed = expectSuccess(
      await runTask("market:list", {
        kind: "dataset",
        price: "12.5",
        file,
        devices: fx.device,
        publish: true,
        ipfsDir: sellerDir,
        from: "1",
        json: true,
      }),
    ).json;
    const cid = await ipfsCidOf(new Uint8Array(readFileSync(listed.encryptedFile)));
    expect(listed.encryptedFileURI).to.equal(`ipfs://${cid}`);
    expect(listed.metadataURI).to.equal(`ipfs://${cid}`);
    expect((await fx.market.getListing(BigInt(listed.listingId))).metadataURI).to.equal(`ipfs://${cid}`);

    const buyerKey = testKey("ipfs/buyer-encryption-key");
    const bought = expectSuccess(await runTask("market:buy", { listing: listed.listingId, buyerKey, from: "2", json: true })).json;
    expectSuccess(await runTask("market:deliver", { purchase: bought.purchaseId, keyFile: listed.contentKeyFile, from: "1" }));

    const multiaddrs = await serve(sellerDir);
    const out = path.join(tempDir(), "bought.csv");
    const access = expectSuccess(
      await runTask("market:access", {
        listing: listed.listingId,
        purchase: bought.purchaseId,
        buyerKey,
        encryptedFile: listed.metadataURI,
        ipfsDir: tempDir("triad-ipfs-buyer-"),
        ipfsPeers: multiaddrs.join(","),
        out,
        from: "2",
        json: true,
      }),
    ).json;
    expect(access).to.include({ verified: true, encryptedFileURI: listed.metadataURI, out });
    expect(readFileSync(out, "utf8")).to.equal(readFileSync(file, "utf8"));
  });

  it("says what is missing or wrong: no IPFS source, two sources, peers when publishing, a bad URL", async function () {
    const fx = await loadTaskFixture(insuredIncidentFixture);
    const out = path.join(tempDir(), "x.json");
    const args = { dataset: fx.dataset, incidentAt: String(fx.incidentAt), out };
    expectOneError(
      await runTask("evidence:build", { ...args, publish: true }),
      "publishing to IPFS needs --ipfs-dir <dir> (an in-process node) or --ipfs-api <url> (a Kubo node), or $TRIAD_IPFS_DIR / $TRIAD_IPFS_API",
      EXIT.USAGE,
    );
    expectOneError(
      await runTask("evidence:build", { ...args, ipfsDir: tempDir(), ipfsApi: "http://127.0.0.1:5001" }),
      "name one IPFS source, not --ipfs-dir and --ipfs-api",
      EXIT.USAGE,
    );
    expectOneError(
      await runTask("evidence:build", {
        ...args,
        ipfsPeers: "/ip4/127.0.0.1/tcp/4101/p2p/12D3KooWDNJxmwz8Rx3NkzWqXFu423jEG7PxpEHAUHXVcjSp4f8R",
      }),
      "unknown option --ipfs-peers for evidence:build",
      EXIT.USAGE,
    );
    expectOneError(
      await runTask("evidence:build", { ...args, ipfsApi: "ftp://x" }),
      '--ipfs-api must be an http:// or https:// URL, got "ftp://x"',
    );
    // Nothing was written: every check comes before the work.
    expect(() => readFileSync(out)).to.throw();
    // A Kubo API nobody answers: one sentence, network class.
    const unreachable = await runTask("evidence:build", { ...args, ipfsApi: "http://127.0.0.1:9" });
    expectOneError(unreachable, "cannot reach the Kubo node at http://127.0.0.1:9", EXIT.NETWORK);
    // The bundle itself was written before publishing failed: --out holds it.
    expect(readFileSync(out).length).to.be.greaterThan(1000);
  });
});
