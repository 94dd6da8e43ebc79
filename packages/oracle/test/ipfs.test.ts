import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { networkHelpers, ethers } from "@triad/devkit/network";
import {
  daemonEnv,
  deployOracleFixture,
  jsonLines,
  normalRows,
  persistingFailureRows,
  serveChainOverHttp,
  startOracleCli,
  testConfig,
  waitFor,
} from "@triad/devkit";
import { ipfsCidOf, openIpfs, type IpfsClient } from "@triad/sdk/node";
import { ConfigError, parseConfig } from "../src/config.ts";
import { createOracle } from "../src/daemon.ts";
import { openConfiguredIpfs } from "../src/ipfs.ts";

const { loadFixture } = networkHelpers;

/**
 * ipfs:// evidence (docs/protocol.md §2 content addressing, §7.4): a claimant's Helia node publishes the bundle; the daemon's own node,
 * configured by ORACLE_IPFS_DIR and ORACLE_IPFS_PEERS, dials it over loopback TCP and fetches the bundle by CID,
 * each block verified against the CID, then the bytes against the claim's evidenceHash.
 */
describe("oracle: evidence on IPFS", function () {
  this.timeout(180_000);
  const dirs: string[] = [];
  const clients: IpfsClient[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "triad-oracle-ipfs-"));
    dirs.push(dir);
    return dir;
  };
  afterEach(async function () {
    for (const c of clients.splice(0)) await c.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("reads the IPFS variables: a Helia node (dir, peers, listen) or a Kubo API, ipfs then allowed; one line per mistake", function () {
    const peer = "/ip4/127.0.0.1/tcp/4101/p2p/12D3KooWDNJxmwz8Rx3NkzWqXFu423jEG7PxpEHAUHXVcjSp4f8R";
    const helia = parseConfig(
      { ORACLE_IPFS_DIR: "ipfs-node", ORACLE_IPFS_PEERS: ` ${peer} ,`, ORACLE_IPFS_LISTEN: "/ip4/0.0.0.0/tcp/4102" },
      {},
      "/srv",
    );
    expect(helia.ipfs).to.deep.equal({ kind: "helia", dir: "/srv/ipfs-node", peers: [peer], listen: ["/ip4/0.0.0.0/tcp/4102"] });
    expect(helia.evidence.schemes).to.deep.equal(["https", "ipfs"]);
    const kubo = parseConfig({ ORACLE_IPFS_API: "http://127.0.0.1:5001", ORACLE_EVIDENCE_SCHEMES: "ipfs" });
    expect(kubo.ipfs).to.deep.equal({ kind: "kubo", apiUrl: "http://127.0.0.1:5001" });
    expect(kubo.evidence.schemes).to.deep.equal(["ipfs"]);
    expect(parseConfig({}).ipfs).to.equal(undefined);

    const problems = (env: Record<string, string>) => {
      try {
        parseConfig(env);
      } catch (error) {
        expect(error).to.be.instanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ ORACLE_IPFS_DIR: "a", ORACLE_IPFS_API: "http://127.0.0.1:5001" })).to.deep.equal([
      "ORACLE_IPFS_API: set either ORACLE_IPFS_DIR (Helia in-process) or ORACLE_IPFS_API (Kubo), not both",
    ]);
    expect(problems({ ORACLE_IPFS_PEERS: peer })).to.deep.equal([
      "ORACLE_IPFS_PEERS: needs ORACLE_IPFS_DIR (they configure the in-process Helia node)",
    ]);
    expect(problems({ ORACLE_IPFS_DIR: "a", ORACLE_IPFS_PEERS: "/ip4/127.0.0.1/tcp/4101" })[0]).to.match(
      /^ORACLE_IPFS_PEERS: must be comma-separated multiaddrs ending in \/p2p\/<peer id>/,
    );
    expect(problems({ ORACLE_IPFS_DIR: "a", ORACLE_EVIDENCE_SCHEMES: "https" })).to.deep.equal([
      "ORACLE_EVIDENCE_SCHEMES: does not include ipfs, but ORACLE_IPFS_DIR is set",
    ]);
    expect(problems({ ORACLE_IPFS_API: "ftp://x" })[0]).to.match(/^ORACLE_IPFS_API: must be a URL with scheme http, https/);
  });

  it("the daemon fetches ipfs:// evidence through its configured node, verified against the CID and the evidence hash", async function () {
    const f = await loadFixture(deployOracleFixture);
    const [member] = f.members;
    // The claimant's node, holding two bundles.
    const claimant = await openIpfs({ dir: tempDir() });
    clients.push(claimant);
    const failure = await f.bundle([...normalRows(5), ...persistingFailureRows("OSF")]);
    const failureCid = await claimant.add(failure.bytes);
    expect(failureCid).to.equal(await ipfsCidOf(failure.bytes));
    const genuine = await f.fileClaim({ hash: failure.hash, uri: `ipfs://${failureCid}`, incidentAt: failure.incidentAt });
    // A claim whose URI names other (valid) content than its evidence hash: the CID checks out, the hash does not.
    const other = await f.insureNewDevice("ipfs-other");
    const normal = await f.bundle(normalRows(6, 20), { device: other.device });
    const normalCid = await claimant.add(normal.bytes);
    const swapped = await f.fileClaim({
      hash: normal.hash,
      uri: `ipfs://${failureCid}`,
      incidentAt: normal.incidentAt,
      policy: other.policyId,
    });
    expect(normalCid).to.not.equal(failureCid);

    // The daemon's node, from its environment variables, dialling the claimant's.
    const config = parseConfig({ ORACLE_IPFS_DIR: tempDir(), ORACLE_IPFS_PEERS: claimant.multiaddrs().join(",") });
    const ipfs = (await openConfiguredIpfs(config, pino({ level: "silent" })))!;
    clients.push(ipfs);
    expect(ipfs.kind).to.equal("helia");
    const oracle = createOracle({
      provider: ethers.provider,
      signer: member,
      addresses: f.addresses,
      model: f.model,
      logger: pino({ level: "silent" }),
      ipfs,
      config: testConfig({
        evidence: { ...testConfig().evidence!, schemes: config.evidence.schemes, timeoutMs: 20_000, deadlineMs: 60_000 },
      }),
    });
    try {
      const report = await oracle.tick();
      const outcomes = new Map(report.outcomes.map((o) => [o.claimId, o]));
      expect(outcomes.get(genuine)).to.deep.include({ outcome: "approved", finalised: true });
      expect(outcomes.get(swapped)).to.deep.include({ outcome: "rejected", reason: "HASH_MISMATCH" });
    } finally {
      await oracle.stop();
    }
  });
  it("`oracle run` with ORACLE_IPFS_DIR and ORACLE_IPFS_PEERS starts its node, decides an ipfs:// claim, and stops on SIGTERM", async function () {
    const f = await loadFixture(deployOracleFixture);
    const claimant = await openIpfs({ dir: tempDir() });
    clients.push(claimant);
    const failure = await f.bundle([...normalRows(5), ...persistingFailureRows("PWF")]);
    const claimId = await f.fileClaim({
      hash: failure.hash,
      uri: `ipfs://${await claimant.add(failure.bytes)}`,
      incidentAt: failure.incidentAt,
    });
    const rpc = await serveChainOverHttp();
    try {
      const daemon = startOracleCli(
        ["run"],
        daemonEnv(f, rpc.url, path.join(tempDir(), "checkpoint.json"), {
          ORACLE_EVIDENCE_SCHEMES: "ipfs",
          ORACLE_IPFS_DIR: tempDir(),
          ORACLE_IPFS_PEERS: claimant.multiaddrs().join(","),
          ORACLE_EVIDENCE_TIMEOUT_MS: "20000",
          ORACLE_EVIDENCE_DEADLINE_MS: "60000",
        }),
      );
      await waitFor(
        async () => (await f.claims.getClaim(claimId)).status !== 1n || daemon.process.exitCode !== null,
        "the daemon's verdict on the ipfs:// claim",
        120_000,
      );
      daemon.process.kill("SIGTERM");
      expect(await daemon.exited, daemon.stderr.join("")).to.equal(0);
      const [decision] = await f.claims.queryFilter(f.claims.filters.VerdictFinalised(claimId));
      expect(decision?.args.approved, daemon.stdout.join("\n")).to.equal(true);
      const started = jsonLines(daemon.stdout).find((l) => String(l.msg).startsWith("IPFS node started"));
      expect(started, "the log line naming the node's multiaddrs").to.not.equal(undefined);
      expect((started!.multiaddrs as string[])[0]).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo/);
    } finally {
      await rpc.close();
    }
  });
});
