import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { importBytes } from "ipfs-unixfs-importer";
import type { CID } from "multiformats/cid";
import { IPFS_IMPORT_OPTIONS, ipfsCidOf, openIpfs, parseIpfsUri, type IpfsClient } from "@triad/sdk/node";
import { expectTriadError } from "@triad/sdk/testing";

/**
 * Content on IPFS (docs/protocol.md §2, content addressing): real Helia nodes talking Bitswap over loopback TCP, and a real (tiny)
 * trustless HTTP gateway serving blocks, honest or not. Every read is verified block by block against the CID.
 */
describe("IPFS content (openIpfs)", function () {
  this.timeout(120_000);

  const dirs: string[] = [];
  const clients: IpfsClient[] = [];
  const servers: Server[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "triad-ipfs-"));
    dirs.push(dir);
    return dir;
  };
  const open = async (...args: Parameters<typeof openIpfs>) => {
    const client = await openIpfs(...args);
    clients.push(client);
    return client;
  };
  afterEach(async function () {
    for (const c of clients.splice(0)) await c.close();
    for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** Deterministic bytes that are not all alike (so every 1 MiB chunk is a different block). */
  const bytesOf = (length: number, seed = 1) =>
    Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 17 + (i >> 10) + (i >> 20) * 7) & 0xff);
  const bundle = new TextEncoder().encode(JSON.stringify({ schema: "triad.evidence/v2", readings: [1, 2, 3] }));

  /** The blocks of `bytes` as `add` makes them (CID string → block bytes), and the file's CID. */
  async function blocksOf(bytes: Uint8Array): Promise<{ cid: string; blocks: Map<string, Uint8Array> }> {
    const blocks = new Map<string, Uint8Array>();
    const store = {
      put: async (cid: CID, block: Uint8Array) => {
        blocks.set(cid.toString(), block);
        return cid;
      },
    };
    const { cid } = await importBytes(bytes, store, { ...IPFS_IMPORT_OPTIONS });
    return { cid: cid.toString(), blocks };
  }

  /**
   * A trustless gateway (GET /ipfs/<cid>?format=raw) serving `blocks`; `answer` may replace a block's bytes or the
   * whole reply (to tamper, to hang, to send too much).
   */
  async function gateway(
    blocks: Map<string, Uint8Array>,
    answer?: (cid: string, block: Uint8Array | undefined, res: ServerResponse) => boolean,
  ): Promise<{ url: string; requests: string[] }> {
    const requests: string[] = [];
    const server = createServer((req, res) => {
      const match = /^\/ipfs\/([a-z0-9]+)\?format=raw$/.exec(req.url ?? "");
      requests.push(req.url ?? "");
      if (!match || req.headers.accept !== "application/vnd.ipld.raw") {
        res.writeHead(400).end("bad request");
        return;
      }
      const block = blocks.get(match[1]);
      if (answer?.(match[1], block, res)) return;
      if (!block) {
        res.writeHead(404).end("not found");
        return;
      }
      res.writeHead(200, { "content-type": "application/vnd.ipld.raw" }).end(block);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
  }

  describe("Helia nodes over loopback TCP", function () {
    it("A adds a bundle and a multi-block file; B dials A and fetches both by CID, verified", async function () {
      const a = await open({ dir: tempDir() });
      expect(a.kind).to.equal("helia");
      expect(a.multiaddrs()).to.have.length.greaterThan(0);
      for (const addr of a.multiaddrs()) expect(addr).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo/);
      const big = bytesOf(2_500_000);
      const bundleCid = await a.add(bundle);
      const bigCid = await a.add(big);
      // CIDv1 (base32), the same as computed locally with the same settings.
      expect(bundleCid).to.equal(await ipfsCidOf(bundle));
      expect(bigCid).to.equal(await ipfsCidOf(big));
      expect(bundleCid).to.match(/^bafk/); // one raw block
      expect(bigCid).to.match(/^bafy/); // dag-pb root over 1 MiB raw leaves

      const b = await open({ dir: tempDir(), peers: a.multiaddrs() });
      expect(Buffer.from(await b.get(bundleCid, { maxBytes: 10_000 })).equals(Buffer.from(bundle))).to.equal(true);
      expect(Buffer.from(await b.get(`ipfs://${bigCid}`, { maxBytes: 3_000_000 })).equals(Buffer.from(big))).to.equal(true);
    });

    it("a node reopened on its folder keeps its peer id and serves its blocks with no peer", async function () {
      const dir = tempDir();
      const first = await openIpfs({ dir });
      const peerId = first.multiaddrs()[0].split("/p2p/")[1];
      const cid = await first.add(bundle);
      await first.close();
      const again = await open({ dir });
      expect(again.multiaddrs()[0].split("/p2p/")[1]).to.equal(peerId);
      expect(Buffer.from(await again.get(cid, { maxBytes: 10_000 })).equals(Buffer.from(bundle))).to.equal(true);
    });

    it("dials a configured peer again after it restarted (same folder, same port), on the next read", async function () {
      const dirA = tempDir();
      const first = await openIpfs({ dir: dirA });
      const [address] = first.multiaddrs();
      const b = await open({ dir: tempDir(), peers: [address] });
      const before = await first.add(bundle);
      expect(Buffer.from(await b.get(before, { maxBytes: 10_000 })).equals(Buffer.from(bundle))).to.equal(true);
      await first.close();
      const port = /\/tcp\/(\d+)\//.exec(address)![1];
      const again = await open({ dir: dirA, listen: [`/ip4/127.0.0.1/tcp/${port}`] });
      expect(again.multiaddrs()).to.deep.equal([address]);
      const later = bytesOf(5_000, 7);
      const cid = await again.add(later);
      await new Promise((resolve) => setTimeout(resolve, 3_000)); // the re-dial pace of an unreachable peer
      expect(Buffer.from(await b.get(cid, { maxBytes: 10_000, timeoutMs: 20_000 })).equals(Buffer.from(later))).to.equal(true);
    });

    it("refuses content above maxBytes from its declared size, before reading it", async function () {
      const a = await open({ dir: tempDir() });
      const cid = await a.add(bytesOf(2_500_000));
      const b = await open({ dir: tempDir(), peers: a.multiaddrs() });
      await expectTriadError(b.get(cid, { maxBytes: 1_000_000 }), { code: "IPFS_TOO_LARGE", message: "(2500000 bytes)" });
      // Only the root block was fetched: the leaves are still missing on B (a read of them offline fails).
      const offline = await open({ dir: tempDir() });
      await expectTriadError(offline.get(cid, { maxBytes: 3_000_000 }), { code: "IPFS_NOT_FOUND", message: "no peer is connected" });
    });

    it("says IPFS_NOT_FOUND when no connected peer has the content (at its own deadline), and honours a caller's abort", async function () {
      const a = await open({ dir: tempDir() });
      const b = await open({ dir: tempDir(), peers: a.multiaddrs() });
      const missing = await ipfsCidOf(bytesOf(100, 9));
      await expectTriadError(b.get(missing, { maxBytes: 1_000, timeoutMs: 1_500 }), {
        code: "IPFS_NOT_FOUND",
        message: "no peer of the IPFS node",
      });
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error("deadline of the claim")), 300);
      const error = await expectTriadError(b.get(missing, { maxBytes: 1_000, signal: controller.signal }), {
        code: "IPFS_UNAVAILABLE",
        message: "was cancelled",
      });
      expect((error.cause as Error).message).to.equal("deadline of the claim");
    });

    it("refuses a peer multiaddr without a peer id, and a CID that is not one", async function () {
      await expectTriadError(openIpfs({ dir: tempDir(), peers: ["/ip4/127.0.0.1/tcp/4001"] }), {
        code: "INVALID_INPUT",
        message: "names no peer id",
      });
      const a = await open({ dir: tempDir() });
      await expectTriadError(a.get("ipfs://not-a-cid", { maxBytes: 10 }), { code: "INVALID_INPUT", message: "does not name an IPFS CID" });
    });
  });

  describe("a trustless HTTP gateway", function () {
    it("reads a multi-block file block by block, each verified, and refuses to add", async function () {
      const big = bytesOf(2_200_000, 3);
      const { cid, blocks } = await blocksOf(big);
      expect(blocks.size).to.equal(4); // three 1 MiB-or-less raw leaves and the root
      const gw = await gateway(blocks);
      const client = await open({ gatewayUrl: `${gw.url}/ipfs/` });
      expect(Buffer.from(await client.get(cid, { maxBytes: 3_000_000 })).equals(Buffer.from(big))).to.equal(true);
      expect(gw.requests).to.have.length(4);
      await expectTriadError(client.add(bundle), { code: "IPFS_UNAVAILABLE", message: "read-only" });
    });

    it("refuses a gateway that serves other bytes for a CID (IPFS_CID_MISMATCH), whether the root or a leaf", async function () {
      const big = bytesOf(2_200_000, 4);
      const { cid, blocks } = await blocksOf(big);
      const leaf = [...blocks.keys()].find((k) => k !== cid)!;
      // Another file's bytes under the root's CID.
      const other = await gateway(blocks, (asked, _block, res) => {
        if (asked !== cid) return false;
        res.writeHead(200).end(bundle);
        return true;
      });
      const wrongRoot = await open({ gatewayUrl: other.url });
      await expectTriadError(wrongRoot.get(cid, { maxBytes: 3_000_000 }), {
        code: "IPFS_CID_MISMATCH",
        message: `do not hash to its CID`,
      });
      // One flipped byte in one leaf.
      const flipped = await gateway(blocks, (asked, block, res) => {
        if (asked !== leaf || !block) return false;
        const copy = Uint8Array.from(block);
        copy[1000] ^= 0xff;
        res.writeHead(200).end(copy);
        return true;
      });
      const wrongLeaf = await open({ gatewayUrl: flipped.url });
      const error = await expectTriadError(wrongLeaf.get(`ipfs://${cid}`, { maxBytes: 3_000_000 }), { code: "IPFS_CID_MISMATCH" });
      expect(error.details.cid).to.equal(leaf);
    });

    it("says IPFS_NOT_FOUND for a missing block, IPFS_UNAVAILABLE for a failing or unreachable gateway", async function () {
      const { cid, blocks } = await blocksOf(bundle);
      const empty = await gateway(new Map());
      await expectTriadError((await open({ gatewayUrl: empty.url })).get(cid, { maxBytes: 10_000 }), { code: "IPFS_NOT_FOUND" });
      const failing = await gateway(blocks, (_cid, _block, res) => {
        res.writeHead(502).end("bad gateway");
        return true;
      });
      await expectTriadError((await open({ gatewayUrl: failing.url })).get(cid, { maxBytes: 10_000 }), {
        code: "IPFS_UNAVAILABLE",
        message: "HTTP 502",
      });
      // A port nobody listens on: the closed server's.
      const closed = await gateway(blocks);
      const client = await open({ gatewayUrl: closed.url });
      await new Promise((resolve) => servers.pop()!.close(resolve));
      await expectTriadError(client.get(cid, { maxBytes: 10_000 }), { code: "IPFS_UNAVAILABLE", message: "cannot reach" });
    });

    it("enforces maxBytes: a declared size above it, and a block streamed past the block limit, are refused", async function () {
      const big = bytesOf(2_200_000, 5);
      const { cid, blocks } = await blocksOf(big);
      const gw = await gateway(blocks);
      const client = await open({ gatewayUrl: gw.url });
      await expectTriadError(client.get(cid, { maxBytes: 2_199_999 }), { code: "IPFS_TOO_LARGE" });
      expect(gw.requests).to.have.length(1); // the root only
      // A gateway that streams endlessly under a CID: refused once past the largest block accepted.
      let sent = 0;
      const endless = await gateway(blocks, (_cid, _block, res) => {
        res.writeHead(200);
        const chunk = new Uint8Array(64 * 1024);
        const pump = () => {
          while (sent < 64 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
          if (sent < 64 * 1024 * 1024 && !res.destroyed) res.once("drain", pump);
          else res.end();
        };
        res.on("close", () => (sent = Infinity));
        pump();
        return true;
      });
      await expectTriadError((await open({ gatewayUrl: endless.url })).get(cid, { maxBytes: 3_000_000 }), {
        code: "IPFS_TOO_LARGE",
        message: "larger than 4194304 bytes",
      });
    });

    it("honours an abort signal while the gateway hangs", async function () {
      const { cid, blocks } = await blocksOf(bundle);
      const hanging = await gateway(blocks, () => true); // never answers
      const client = await open({ gatewayUrl: hanging.url });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      await expectTriadError(client.get(cid, { maxBytes: 10_000, signal: controller.signal }), {
        code: "IPFS_UNAVAILABLE",
        message: "was cancelled",
      });
      await expectTriadError(client.get(cid, { maxBytes: 10_000, timeoutMs: 300 }), {
        code: "IPFS_UNAVAILABLE",
        message: "did not deliver",
      });
      for (const s of servers) s.closeAllConnections();
    });
  });

  it("parses ipfs:// URIs to CIDv1 and a path", function () {
    const v0 = "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR";
    expect(parseIpfsUri(`ipfs://${v0}`).cid).to.match(/^bafybei/);
    expect(parseIpfsUri("ipfs://bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku/a/b/")).to.deep.equal({
      cid: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
      path: "a/b",
    });
    expect(parseIpfsUri("/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku").path).to.equal("");
  });
});
