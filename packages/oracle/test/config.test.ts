import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet, encryptKeystoreJsonSync } from "ethers";
import { loadSigner } from "../src/cli.ts";
import { ConfigError, CONFIG_VARIABLES, parseConfig } from "../src/config.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

function problemsOf(env: Record<string, string>, requirements = {}): string[] {
  try {
    parseConfig(env, requirements, ROOT);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

describe("oracle config", function () {
  it("defaults are valid and every variable is documented in .env.example and the README", function () {
    const config = parseConfig({}, {}, ROOT);
    expect(config).to.include({
      confirmations: 2,
      batchSize: 20,
      metricsPort: 9464,
      metricsHost: "127.0.0.1",
      tfjsBackend: "auto",
      logLevel: "info",
    });
    expect(config.evidence).to.include({ maxBytes: 1024 * 1024, timeoutMs: 10_000, retries: 2 });
    const example = readFileSync(path.join(ROOT, ".env.example"), "utf8");
    const readme = readFileSync(path.join(ROOT, "packages/oracle/README.md"), "utf8");
    for (const name of CONFIG_VARIABLES) {
      expect(example, `.env.example documents ${name}`).to.match(new RegExp(`^#? ?${name}=`, "m"));
      expect(readme, `packages/oracle/README.md documents ${name}`).to.include(`\`${name}\``);
    }
  });

  it("parses a complete configuration", function () {
    const config = parseConfig(
      {
        ORACLE_RPC_URL: "http://127.0.0.1:8545",
        ORACLE_PRIVATE_KEY: KEY.slice(2),
        ORACLE_CLAIMS_ADDRESS: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        ORACLE_CONFIRMATIONS: "0",
        ORACLE_EVIDENCE_SCHEMES: "http, HTTPS",
        ORACLE_EVIDENCE_HOSTS: "127.0.0.1,evidence.example.org",
        ORACLE_METRICS_PORT: "off",
        ORACLE_BATCH_SIZE: "1",
        ORACLE_CHECKPOINT_FILE: "tmp/cp.json",
        ORACLE_LOG_LEVEL: "",
      },
      { rpc: true, signer: true },
      ROOT,
    );
    expect(config.signer).to.deep.equal({ kind: "privateKey", privateKey: KEY });
    expect(config.evidence.schemes).to.deep.equal(["http", "https"]);
    expect(config.evidence.hosts).to.deep.equal(["127.0.0.1", "evidence.example.org"]);
    expect(config.metricsPort).to.equal(undefined);
    expect(config.confirmations).to.equal(0);
    expect(config.checkpointFile).to.equal(path.join(ROOT, "tmp/cp.json"));
    expect(config.logLevel).to.equal("info"); // empty means unset
  });

  it("each bad variable gets exactly one line naming it", function () {
    const cases: [string, string, RegExp][] = [
      ["ORACLE_RPC_URL", "localhost:8545", /URL with scheme/],
      ["ORACLE_CHAIN_ID", "zero", /whole number/],
      ["ORACLE_PRIVATE_KEY", "0x1234", /64 hex digits/],
      ["ORACLE_PRIVATE_KEY", `0x${"0".repeat(64)}`, /secp256k1 private key/],
      ["ORACLE_CLAIMS_ADDRESS", "0x12", /address/],
      ["ORACLE_REGISTRY_ADDRESS", "registry", /address/],
      ["ORACLE_COMMITTEE_ADDRESS", "0xZZ", /address/],
      ["ORACLE_CONFIRMATIONS", "-1", /whole number/],
      ["ORACLE_POLL_INTERVAL_MS", "5", /between 10/],
      ["ORACLE_START_BLOCK", "1.5", /whole number/],
      ["ORACLE_EVIDENCE_SCHEMES", "ftp", /http, https, ipfs/],
      ["ORACLE_EVIDENCE_HOSTS", ",", /at least one host/],
      ["ORACLE_EVIDENCE_MAX_BYTES", "10", /between 64/],
      ["ORACLE_EVIDENCE_TIMEOUT_MS", "soon", /whole number/],
      ["ORACLE_EVIDENCE_RETRIES", "99", /between 0 and 10/],
      ["ORACLE_EVIDENCE_RETRY_DELAY_MS", "x", /whole number/],
      ["ORACLE_IPFS_GATEWAY", "gateway", /URL/],
      ["ORACLE_BATCH_SIZE", "0", /between 1/],
      ["ORACLE_CONCURRENCY", "0", /between 1/],
      ["ORACLE_VERIFY_WORKERS", "99", /between 0 and 16/],
      ["ORACLE_LOG_BLOCK_RANGE", "0", /between 1/],
      ["ORACLE_METRICS_PORT", "99999", /65535/],
      ["ORACLE_HEALTH_MAX_LAG_BLOCKS", "-3", /whole number/],
      ["ORACLE_RPC_RETRIES", "50", /between 0 and 20/],
      ["ORACLE_RPC_RETRY_BASE_MS", "0", /between 1/],
      ["ORACLE_TFJS_BACKEND", "gpu", /auto, tfjs-node, wasm, cpu/],
      ["ORACLE_LOG_LEVEL", "loud", /one of/],
      ["ORACLE_KEYSTORE_FILE", "/nonexistent/keystore.json", /does not exist/],
    ];
    for (const [name, value, message] of cases) {
      const problems = problemsOf({ [name]: value, ...(name === "ORACLE_KEYSTORE_FILE" ? { ORACLE_KEYSTORE_PASSWORD: "pw" } : {}) });
      expect(problems, `${name}=${value}`).to.have.length(1);
      expect(problems[0]).to.match(new RegExp(`^${name}: `));
      expect(problems[0]).to.match(message);
      expect(problems[0]).to.not.include("\n");
    }
    // All at once: one line each, and secrets are never echoed.
    const all = problemsOf(Object.fromEntries(cases.map(([n, v]) => [n, v])));
    expect(all.length).to.be.at.least(cases.length - 1); // the keystore conflict replaces the missing-file line
    expect(all.join("\n")).to.not.include("0x1234");
  });

  it("cross-field rules and per-command requirements", function () {
    expect(problemsOf({}, { rpc: true, signer: true })).to.deep.equal([
      "ORACLE_RPC_URL: is required (the JSON-RPC endpoint of the chain)",
      "ORACLE_PRIVATE_KEY: is required (or ORACLE_KEYSTORE_FILE + ORACLE_KEYSTORE_PASSWORD): the committee member's key",
    ]);
    const dir = mkdtempSync(path.join(os.tmpdir(), "triad-config-"));
    const keystore = path.join(dir, "key.json");
    writeFileSync(keystore, "{}");
    expect(problemsOf({ ORACLE_KEYSTORE_FILE: keystore })).to.deep.equal([
      "ORACLE_KEYSTORE_PASSWORD: is required with ORACLE_KEYSTORE_FILE",
    ]);
    expect(problemsOf({ ORACLE_KEYSTORE_FILE: keystore, ORACLE_KEYSTORE_PASSWORD: "pw", ORACLE_PRIVATE_KEY: KEY })).to.deep.equal([
      "ORACLE_KEYSTORE_FILE: set either ORACLE_PRIVATE_KEY or ORACLE_KEYSTORE_FILE, not both",
    ]);
    expect(problemsOf({ ORACLE_EVIDENCE_SCHEMES: "https,ipfs" })).to.deep.equal([
      "ORACLE_IPFS_GATEWAY: is required when ORACLE_EVIDENCE_SCHEMES includes ipfs",
    ]);
  });

  it("loads the key from a private key or an encrypted keystore; a wrong password is one line naming it", async function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), "triad-keystore-"));
    const keystore = path.join(dir, "member.json");
    const member = new Wallet(KEY);
    writeFileSync(
      keystore,
      encryptKeystoreJsonSync({ address: member.address, privateKey: member.privateKey }, "correct horse", { scrypt: { N: 1 << 10 } }),
    );
    const fromKeystore = parseConfig({ ORACLE_KEYSTORE_FILE: keystore, ORACLE_KEYSTORE_PASSWORD: "correct horse" }, { signer: true }, ROOT);
    expect((await loadSigner(fromKeystore)).address).to.equal(member.address);
    expect((await loadSigner(parseConfig({ ORACLE_PRIVATE_KEY: KEY }, {}, ROOT))).address).to.equal(member.address);
    const wrong = parseConfig({ ORACLE_KEYSTORE_FILE: keystore, ORACLE_KEYSTORE_PASSWORD: "wrong" }, { signer: true }, ROOT);
    const error = await loadSigner(wrong).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as ConfigError).problems).to.have.length(1);
    expect((error as ConfigError).problems[0]).to.match(/^ORACLE_KEYSTORE_PASSWORD: cannot decrypt the keystore .*incorrect password/);
  });

  it("the CLI prints one line per bad variable, no stack trace, and exits 2", function () {
    const emptyEnvFile = path.join(mkdtempSync(path.join(os.tmpdir(), "triad-config-")), ".env");
    writeFileSync(emptyEnvFile, "");
    const cli = ["--import", "tsx", "packages/oracle/src/cli.ts", "run", "--dotenv", emptyEnvFile];
    const run = spawnSync(process.execPath, cli, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ORACLE_RPC_URL: "nope", ORACLE_PRIVATE_KEY: "0x12", ORACLE_BATCH_SIZE: "0" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.status).to.equal(2);
    const lines = run.stderr.trim().split("\n");
    expect(lines).to.deep.equal([
      'config error: ORACLE_RPC_URL: must be a URL with scheme http, https, ws, wss (got "nope")',
      "config error: ORACLE_PRIVATE_KEY: must be 64 hex digits (optionally 0x-prefixed): a secp256k1 private key, from 1 to the curve order - 1",
      'config error: ORACLE_BATCH_SIZE: must be between 1 and 500 (got "0")',
    ]);
    expect(run.stdout).to.equal("");
  });
});
