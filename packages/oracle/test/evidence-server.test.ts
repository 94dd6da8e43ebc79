/**
 * The evidence server made safe to expose (issue 15, item 6): authenticated uploads, a per-client quota, a bound on
 * what it stores, a content check, and bytes served only as JSON. Real HTTP servers on 127.0.0.1.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet, getAddress, id } from "ethers";
import { TriadError, evidenceHash } from "@triad/sdk";
import { bytesOf, makeBundle, normalRows, startOracleCli, waitFor } from "@triad/devkit";
import { startEvidenceServer, type EvidenceServerOptions } from "../src/evidence-server.ts";

const TOKEN = "a-long-enough-upload-token-0123456789";
const DEVICE = new Wallet(id("triad/test/oracle/evidence-server/device"));
const REGISTRY = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");

/** A valid bundle; `n` changes its readings (and so its bytes and hash). */
async function bundle(n: number): Promise<{ bytes: Uint8Array; hash: string }> {
  const { bytes, hash } = await makeBundle({
    deviceKey: DEVICE,
    chainId: 31337n,
    registry: REGISTRY,
    rows: normalRows(2 + (n % 3), 10 * n),
    incidentAt: 1_700_000_000n + BigInt(n),
  });
  return { bytes, hash };
}

function upload(url: string, bytes: Uint8Array, token?: string, method = "POST", at = "/evidence"): Promise<Response> {
  return fetch(`${url}${at}`, {
    method,
    body: new Uint8Array(bytes),
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

/** The same, chunked: no Content-Length, so the limits apply while the body streams in. */
function uploadChunked(url: string, bytes: Uint8Array, token: string): Promise<Response> {
  const half = Math.floor(bytes.byteLength / 2);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, half));
      controller.enqueue(bytes.slice(half));
      controller.close();
    },
  });
  return fetch(`${url}/evidence`, { method: "POST", body, headers: { authorization: `Bearer ${token}` }, duplex: "half" } as RequestInit);
}

async function withServer(options: EvidenceServerOptions, run: (server: Awaited<ReturnType<typeof startEvidenceServer>>) => Promise<void>) {
  const server = await startEvidenceServer({ port: 0, ...options });
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

async function startError(options: EvidenceServerOptions): Promise<TriadError> {
  try {
    const server = await startEvidenceServer({ port: 0, ...options });
    await server.close();
  } catch (error) {
    expect(error).to.be.instanceOf(TriadError);
    return error as TriadError;
  }
  expect.fail("expected the evidence server to refuse these options");
}

describe("oracle: the evidence server, safe to expose (issue 15)", function () {
  this.timeout(60_000);

  it("uploads need the bearer token: 401 without, 403 with another, 201 with it; without a token uploads are refused", async function () {
    const { bytes, hash } = await bundle(1);
    await withServer({ token: TOKEN }, async (server) => {
      const anonymous = await upload(server.url, bytes);
      expect(anonymous.status).to.equal(401);
      expect(anonymous.headers.get("www-authenticate")).to.match(/^Bearer/);
      expect(((await anonymous.json()) as { error: string }).error).to.include("Authorization: Bearer");
      expect((await upload(server.url, bytes, TOKEN.slice(0, -1) + "x")).status).to.equal(403);
      expect((await upload(server.url, bytes, "short")).status).to.equal(403);
      expect((await upload(server.url, bytes, TOKEN, "PUT", `/evidence/${hash}`)).status).to.equal(201);
      const stored = await upload(server.url, bytes, TOKEN);
      expect(stored.status).to.equal(201);
      expect(await stored.json()).to.deep.equal({ hash, uri: `${server.url}/evidence/${hash}`, bytes: bytes.byteLength });
      // Reading needs no token: the URI is what a claim files.
      expect((await fetch(`${server.url}/evidence/${hash}`)).status).to.equal(200);
    });
    await withServer({}, async (server) => {
      const refused = await upload(server.url, bytes);
      expect(refused.status).to.equal(403);
      expect(((await refused.json()) as { error: string }).error).to.include("no upload token");
      expect(server.usage()).to.deep.equal({ bytes: 0, bundles: 0 });
    });
    await withServer({ openUploads: true }, async (server) => {
      expect((await upload(server.url, bytes)).status).to.equal(201);
    });
  });

  it("open uploads only on a loopback address; a short token, a quota or a bound below one bundle refuse to start", async function () {
    expect((await startError({ host: "0.0.0.0", openUploads: true })).message).to.include("loopback");
    expect((await startError({ token: "short" })).message).to.include("at least 16 characters");
    expect((await startError({ maxBytes: 4096, quotaBytesPerMinute: 1000 })).message).to.include("quota");
    expect((await startError({ maxBytes: 4096, maxTotalBytes: 1000 })).message).to.include("bound");
    // With a token, any address may be used (the token protects uploads).
    await withServer({ host: "0.0.0.0", token: TOKEN }, async (server) => {
      expect(server.url).to.match(/^http:\/\/0\.0\.0\.0:\d+$/);
    });
  });

  it("only evidence bundles are stored (422 otherwise), served as JSON that is never sniffed, immutable because the path is the hash", async function () {
    await withServer({ token: TOKEN }, async (server) => {
      const html = await upload(server.url, bytesOf("<html><script>alert(document.cookie)</script></html>"), TOKEN);
      expect(html.status).to.equal(422);
      expect(await html.json()).to.include({ reason: "MALFORMED_JSON" });
      const notBundle = await upload(server.url, bytesOf({ hello: "world" }), TOKEN);
      expect(notBundle.status).to.equal(422);
      expect(await notBundle.json()).to.include({ reason: "WRONG_SCHEMA" });
      expect(server.usage()).to.deep.equal({ bytes: 0, bundles: 0 });

      const { bytes, hash } = await bundle(2);
      expect((await upload(server.url, bytes, TOKEN)).status).to.equal(201);
      const served = await fetch(`${server.url}/evidence/${hash}`);
      expect(served.status).to.equal(200);
      expect(served.headers.get("content-type")).to.equal("application/json");
      expect(served.headers.get("x-content-type-options")).to.equal("nosniff");
      expect(served.headers.get("content-security-policy")).to.include("sandbox");
      expect(served.headers.get("cache-control")).to.equal("public, max-age=31536000, immutable");
      expect(evidenceHash(new Uint8Array(await served.arrayBuffer()))).to.equal(hash);
      // Errors are JSON too, and carry no cache header.
      const missing = await fetch(`${server.url}/evidence/${id("missing")}`);
      expect(missing.status).to.equal(404);
      expect(missing.headers.get("x-content-type-options")).to.equal("nosniff");
      expect(missing.headers.get("cache-control")).to.equal(null);
    });
  });

  it("a client past its quota gets 429 with Retry-After, and uploads again once the minute has refilled it", async function () {
    const bundles = await Promise.all([3, 4, 5].map(bundle));
    const largest = Math.max(...bundles.map((b) => b.bytes.byteLength));
    let clock = 1_000_000;
    const quota = 2 * largest + 10;
    await withServer({ token: TOKEN, maxBytes: largest, quotaBytesPerMinute: quota, now: () => clock }, async (server) => {
      expect((await upload(server.url, bundles[0].bytes, TOKEN)).status).to.equal(201);
      expect((await upload(server.url, bundles[1].bytes, TOKEN)).status).to.equal(201);
      const over = await upload(server.url, bundles[2].bytes, TOKEN);
      expect(over.status).to.equal(429);
      expect((await uploadChunked(server.url, bundles[2].bytes, TOKEN)).status).to.equal(429);
      expect(Number(over.headers.get("retry-after"))).to.be.within(1, 60);
      expect(server.usage().bundles).to.equal(2);
      clock += 60_000; // a minute later the bucket is full again
      expect((await upload(server.url, bundles[2].bytes, TOKEN)).status).to.equal(201);
      expect(server.usage().bundles).to.equal(3);
    });
  });

  it("the store is bounded: 507 when an upload does not fit, also while it streams; PUT of a stored hash answers at once", async function () {
    const [a, b, c] = await Promise.all([6, 7, 8].map(bundle));
    const maxTotalBytes = a.bytes.byteLength + b.bytes.byteLength + Math.floor(c.bytes.byteLength / 2);
    const maxBytes = Math.max(a.bytes.byteLength, b.bytes.byteLength, c.bytes.byteLength);
    await withServer({ token: TOKEN, maxBytes, maxTotalBytes }, async (server) => {
      expect((await upload(server.url, a.bytes, TOKEN)).status).to.equal(201);
      expect((await upload(server.url, b.bytes, TOKEN)).status).to.equal(201);
      const full = await upload(server.url, c.bytes, TOKEN);
      expect(full.status).to.equal(507);
      expect((await uploadChunked(server.url, c.bytes, TOKEN)).status).to.equal(507);
      expect(((await full.json()) as { error: string }).error).to.include("full");
      // Stored plus in-flight bytes are bounded, so even a copy of a stored bundle is refused when POSTed; a PUT to
      // its hash is answered without reading the body.
      expect((await upload(server.url, a.bytes, TOKEN)).status).to.equal(507);
      const again = await upload(server.url, a.bytes, TOKEN, "PUT", `/evidence/${a.hash}`);
      expect(again.status).to.equal(200);
      expect(await again.json()).to.deep.equal({ hash: a.hash, uri: `${server.url}/evidence/${a.hash}`, bytes: a.bytes.byteLength });
      expect((await upload(server.url, a.bytes, undefined, "PUT", `/evidence/${a.hash}`)).status).to.equal(401);
      expect(server.usage()).to.deep.equal({ bytes: a.bytes.byteLength + b.bytes.byteLength, bundles: 2 });
      expect((await fetch(`${server.url}/evidence/${c.hash}`)).status).to.equal(404);
    });
  });

  it("on disk: what is stored counts after a restart, and a file changed on disk is not served", async function () {
    const dir = mkdtempSync(path.join(tmpdir(), "triad-evidence-store-"));
    try {
      const [a, b] = await Promise.all([9, 10].map(bundle));
      await withServer({ token: TOKEN, dir }, async (server) => {
        expect((await upload(server.url, a.bytes, TOKEN)).status).to.equal(201);
        expect((await upload(server.url, b.bytes, TOKEN)).status).to.equal(201);
      });
      writeFileSync(path.join(dir, `${b.hash}.json`), "<html>swapped</html>");
      await withServer({ token: TOKEN, dir, maxBytes: 1024 * 1024, maxTotalBytes: 1024 * 1024 }, async (server) => {
        expect(server.usage()).to.deep.equal({ bytes: a.bytes.byteLength + "<html>swapped</html>".length, bundles: 2 });
        expect((await fetch(`${server.url}/evidence/${a.hash}`)).status).to.equal(200);
        const swapped = await fetch(`${server.url}/evidence/${b.hash}`);
        expect(swapped.status).to.equal(500);
        expect(swapped.headers.get("content-type")).to.equal("application/json");
        expect(await swapped.text()).not.to.include("<html>");
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the evidence-server command: the token from ORACLE_EVIDENCE_SERVER_TOKEN or --token-file; open uploads refused off loopback", async function () {
    const refused = startOracleCli(["evidence-server", "--port", "0", "--host", "0.0.0.0", "--open-uploads"], {});
    expect(await refused.exited).to.equal(1);
    expect(refused.stderr.join("")).to.match(/^error: open uploads \(no token\) are only allowed on a loopback address/);
    expect(refused.stderr.join("")).not.to.include("    at ");

    const dir = mkdtempSync(path.join(tmpdir(), "triad-evidence-cli-"));
    const tokenFile = path.join(dir, "token");
    writeFileSync(tokenFile, `${TOKEN}\n`);
    for (const [args, env] of [
      [["--token-file", tokenFile], {}],
      [[], { ORACLE_EVIDENCE_SERVER_TOKEN: TOKEN }],
    ] as [string[], Record<string, string>][]) {
      const server = startOracleCli(["evidence-server", "--port", "0", "--quota", "2000000", ...args], env);
      try {
        await waitFor(() => server.stdout.some((l) => l.includes('"url"')), "the evidence server's address");
        const { url } = JSON.parse(server.stdout.find((l) => l.includes('"url"'))!) as { url: string };
        const { bytes, hash } = await bundle(11);
        expect((await upload(url, bytes)).status).to.equal(401);
        const stored = await upload(url, bytes, TOKEN);
        expect(stored.status).to.equal(201);
        expect(((await stored.json()) as { hash: string }).hash).to.equal(hash);
      } finally {
        server.process.kill("SIGTERM");
        await server.exited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
