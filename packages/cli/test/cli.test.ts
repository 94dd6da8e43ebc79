import { expect } from "chai";
import net from "node:net";
import path from "node:path";
import { connection, ethers } from "@triad/devkit/network";
import { encryptKeystoreJsonSync, type Wallet } from "ethers";
import { COMMANDS, runCli } from "../src/cli.ts";
import { allOptions } from "../src/lib/command.ts";
import { EXIT_CODES } from "../src/lib/common.ts";
import {
  NETWORK,
  deployTriadForTasks,
  EXIT,
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
 * The command line itself: help, usage errors (exit code 2), the connection (`--rpc-url`) and the ways to name
 * the acting account (`--from`, `--private-key`, `$TRIAD_PRIVATE_KEY`, `--keystore`), and chain:advance.
 */

/** runCli with `argv` as given (no option building), on the in-process chain unless `provider` is null. */
async function triad(
  argv: string[],
  { provider = true, env = {} }: { provider?: boolean; env?: Record<string, string | undefined> } = {},
): Promise<TaskRun> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const browser = provider ? new ethers.BrowserProvider(connection.provider, undefined, { cacheTimeout: -1 }) : undefined;
  let stdout = "";
  let stderr = "";
  try {
    const exitCode = await runCli(argv, {
      provider: browser,
      network: NETWORK,
      stdout: { write: (s: string) => void (stdout += s) },
      stderr: { write: (s: string) => void (stderr += s) },
    });
    return { stdout, stderr, exitCode, json: exitCode === 0 && argv.includes("--json") ? JSON.parse(stdout) : undefined };
  } finally {
    browser?.destroy();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A port on 127.0.0.1 where nothing listens (taken, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A fresh key holding some ETH for gas (it is no account of the node). */
async function fundedWallet(label: string): Promise<Wallet> {
  const wallet = testWallet(label);
  const [admin] = await ethers.getSigners();
  await (await admin.sendTransaction({ to: wallet.address, value: ethers.parseEther("1") })).wait();
  return wallet;
}

describe("triad command line", function () {
  useTaskEnvironment();

  describe("help", function () {
    it("triad --help lists every command with its summary, the shared options and the environment", async function () {
      for (const argv of [["--help"], ["-h"], ["help"]]) {
        const run = await triad(argv, { provider: false });
        expect(run.exitCode, argv.join(" ")).to.equal(0);
        expect(run.stderr).to.equal("");
        for (const spec of COMMANDS) expect(run.stdout).to.contain(`  ${spec.name}`).and.contain(spec.summary);
        for (const text of [
          "--rpc-url",
          "--from",
          "--private-key",
          "--keystore",
          "--json",
          "TRIAD_RPC_URL",
          "TRIAD_PRIVATE_KEY",
          "TRIAD_KEYSTORE_PASSWORD",
          "TRIAD_DEPLOYMENTS_DIR",
          "--verbose",
          "Exit codes",
          ...Object.keys(EXIT_CODES),
        ]) {
          expect(run.stdout).to.contain(text);
        }
        // Each exit code is documented with the error codes of its class.
        for (const [code, exit] of Object.entries(EXIT_CODES))
          expect(run.stdout).to.match(new RegExp(`\\n  ${exit}  [^\\n]+\\n {7}[^\\n]*\\b${code}\\b`));
      }
    });

    it("triad <command> --help lists every option of the command, its required options in the usage line", async function () {
      for (const spec of COMMANDS) {
        const run = await triad([spec.name, "--help"], { provider: false });
        expect(run.exitCode, spec.name).to.equal(0);
        expect(run.stderr).to.equal("");
        const { own, account, connection: shared } = allOptions(spec);
        for (const option of [...own, ...account, ...shared])
          expect(run.stdout, `${spec.name} --${option.name}`).to.contain(`--${option.name}`);
        const usageLine = run.stdout.split("\n")[0];
        for (const option of spec.options.filter((o) => o.required)) expect(usageLine).to.contain(`--${option.name} `);
        // Commands that act as an account document the three ways to name it; the others take none of them.
        expect(run.stdout.includes("--private-key"), spec.name).to.equal(spec.account !== undefined);
        // `help <command>` prints the same.
        expect((await triad(["help", spec.name], { provider: false })).stdout).to.equal(run.stdout);
      }
    });

    it("--help wins over anything else on the line (even missing or unknown options)", async function () {
      const run = await triad(["market:list", "--bogus", "--help"], { provider: false });
      expect(run.exitCode).to.equal(0);
      expect(run.stdout).to.match(
        /^Usage: triad market:list --kind <kind> --price <tokens> --file <file> --devices <addresses> \[options\]\n/,
      );
    });
  });

  describe("usage errors: one line, exit code 2, nothing run", function () {
    it("no command, an unknown command, an unknown option, a missing option or value, a stray argument, a repeated option", async function () {
      const device = testWallet("cli/device").address;
      const cases: [string[], string][] = [
        [[], "no command given"],
        [["device:frobnicate"], 'unknown command "device:frobnicate"'],
        [["device:show", "--devise", device], "unknown option --devise for device:show (see triad device:show --help)"],
        [["device:show", "-d", device], "unknown option -d for device:show"],
        [["device:show"], "missing --device (see triad device:show --help)"],
        [["device:show", "--device"], "--device needs a value"],
        [["device:show", "--device", "--json"], "--device needs a value"],
        [["device:show", "--device", device, "extra"], 'unexpected argument "extra"'],
        [["device:show", "--device", device, "--device", device], "--device is given twice"],
        [["device:show", "--device", device, "--json=yes"], "--json takes no value"],
        [
          ["evidence:build", "--dataset", "x.json", "--incident-at", "1", "--out", "y.json", "--from", "1"],
          "unknown option --from for evidence:build",
        ],
        [
          ["device:suspend", "--device", device, "--from", "1", "--private-key", testKey("cli/k")],
          "use only one of --from, --private-key and --keystore",
        ],
      ];
      for (const [argv, message] of cases) {
        const run = await triad(argv);
        expectOneError(run, message, 2);
      }
    });

    it("a bad value is a failure of the command (exit code 1), not a usage error", async function () {
      await loadTaskFixture(deployTriadForTasks);
      expectOneError(await triad(["device:show", "--device", "0x1234"]), '--device must be a 0x-prefixed 20-byte address, got "0x1234"', 1);
      // A value may start with a dash: the command says what is wrong with it.
      expectOneError(await triad(["chain:advance", "--seconds", "-5"]), '--seconds must be a whole number, got "-5"', 1);
    });
  });

  describe("connection", function () {
    it("an unreachable --rpc-url (or $TRIAD_RPC_URL) is one error line naming it", async function () {
      const url = `http://127.0.0.1:${await closedPort()}`;
      const device = testWallet("cli/device").address;
      const byOption = await triad(["device:show", "--device", device, "--rpc-url", url], { provider: false });
      expectOneError(byOption, `cannot reach a JSON-RPC node at ${url}: ECONNREFUSED`, EXIT.NETWORK);
      const byEnv = await triad(["device:show", "--device", device], { provider: false, env: { TRIAD_RPC_URL: url } });
      expectOneError(byEnv, `cannot reach a JSON-RPC node at ${url}`, EXIT.NETWORK);
      expectOneError(
        await triad(["device:show", "--device", device, "--rpc-url", "localhost:8545"], { provider: false }),
        '--rpc-url must be an http:// or https:// URL, got "localhost:8545"',
      );
    });
  });

  describe("acting account", function () {
    it("--private-key and $TRIAD_PRIVATE_KEY sign with a key the node does not manage; --from wins over the variable", async function () {
      const { registry, signers } = await loadTaskFixture(deployTriadForTasks);
      const owner = await fundedWallet("cli/owner");
      const [keyA, keyB, keyC] = ["a", "b", "c"].map((l) => testWallet(`cli/device-${l}`));

      const a = expectSuccess(
        await triad(["device:register", "--device-key", keyA.privateKey, "--private-key", owner.privateKey.slice(2), "--json"]),
      );
      expect(a.json).to.include({ device: keyA.address, owner: owner.address });
      const b = expectSuccess(
        await triad(["device:register", "--device-key", keyB.privateKey, "--json"], { env: { TRIAD_PRIVATE_KEY: owner.privateKey } }),
      );
      expect(b.json).to.include({ device: keyB.address, owner: owner.address });
      const c = expectSuccess(
        await triad(["device:register", "--device-key", keyC.privateKey, "--from", "1", "--json"], {
          env: { TRIAD_PRIVATE_KEY: owner.privateKey },
        }),
      );
      expect(c.json).to.include({ owner: signers.seller.address });
      expect((await registry.ownerAndStatus(keyB.address)).owner).to.equal(owner.address);

      // The variable also makes a read act as that account.
      const shown = expectSuccess(await triad(["pool:show", "--json"], { env: { TRIAD_PRIVATE_KEY: owner.privateKey } }));
      expect(shown.json.account).to.equal(owner.address);
    });

    it("a malformed --private-key or $TRIAD_PRIVATE_KEY is refused without echoing it", async function () {
      await loadTaskFixture(deployTriadForTasks);
      const almost = testKey("cli/owner").slice(0, -1);
      const device = testKey("cli/device");
      const byOption = expectOneError(
        await triad(["device:register", "--device-key", device, "--private-key", almost]),
        "--private-key must be a 32-byte hex private key",
      );
      expect(byOption).not.to.contain(almost.slice(2, 20));
      const byEnv = expectOneError(
        await triad(["device:register", "--device-key", device], { env: { TRIAD_PRIVATE_KEY: almost } }),
        "TRIAD_PRIVATE_KEY must be a 32-byte hex private key",
      );
      expect(byEnv).not.to.contain(almost.slice(2, 20));
    });

    it("--keystore decrypts with $TRIAD_KEYSTORE_PASSWORD; a missing or wrong password is one error line", async function () {
      const { signers } = await loadTaskFixture(deployTriadForTasks);
      const owner = await fundedWallet("cli/keystore-owner");
      const keystore = writeTempFile(
        "owner.json",
        encryptKeystoreJsonSync({ address: owner.address, privateKey: owner.privateKey }, "pässword", { scrypt: { N: 1 << 10 } }),
      );
      const device = testWallet("cli/keystore-device");
      const argv = ["device:register", "--device-key", device.privateKey, "--keystore", keystore, "--json"];

      expectOneError(
        await triad(argv, { env: { TRIAD_KEYSTORE_PASSWORD: undefined } }),
        "--keystore needs its password in $TRIAD_KEYSTORE_PASSWORD",
      );
      expectOneError(
        await triad(argv, { env: { TRIAD_KEYSTORE_PASSWORD: "wrong" } }),
        `cannot decrypt --keystore ${keystore}: wrong password`,
      );
      const missing = path.join(path.dirname(keystore), "absent.json");
      expectOneError(
        await triad(["device:register", "--device-key", device.privateKey, "--keystore", missing], {
          env: { TRIAD_KEYSTORE_PASSWORD: "x" },
        }),
        `cannot read --keystore ${missing}: ENOENT`,
      );

      const run = expectSuccess(await triad(argv, { env: { TRIAD_KEYSTORE_PASSWORD: "pässword" } }));
      expect(run.json).to.include({ device: device.address, owner: owner.address });
      expect(run.json.owner).not.to.equal(signers.admin.address);
    });

    it("a node without accounts needs a key: one error line says how to give one", async function () {
      await loadTaskFixture(deployTriadForTasks);
      // The in-process chain, seen through a node that manages no account (like a public RPC endpoint).
      const noAccounts = {
        request: (a: { method: string; params?: unknown[] }) =>
          a.method === "eth_accounts" ? Promise.resolve([]) : connection.provider.request(a),
      };
      const provider = new ethers.BrowserProvider(noAccounts, undefined, { cacheTimeout: -1 });
      let stderr = "";
      const code = await runCli(["device:suspend", "--device", testWallet("cli/device").address], {
        provider,
        network: NETWORK,
        stdout: { write: () => undefined },
        stderr: { write: (s: string) => void (stderr += s) },
      });
      provider.destroy();
      expect(code).to.equal(1);
      expect(stderr).to.equal(
        `error: network ${NETWORK} has no accounts configured: name one with --private-key, $TRIAD_PRIVATE_KEY or --keystore\n`,
      );
    });
  });

  describe("chain:advance", function () {
    it("moves the clock of a local chain and mines a block", async function () {
      await loadTaskFixture(deployTriadForTasks);
      const before = (await ethers.provider.getBlock("latest"))!;
      const run = expectSuccess(await runTask("chain:advance", { seconds: "3600", json: true }));
      const after = (await ethers.provider.getBlock("latest"))!;
      expect(after.number).to.equal(before.number + 1);
      expect(after.timestamp).to.be.at.least(before.timestamp + 3600);
      expect(run.json).to.deep.equal({ seconds: "3600", timestamp: after.timestamp });
      const human = expectSuccess(await runTask("chain:advance", { seconds: "1" }));
      expect(human.stdout).to.match(/^Chain time is now \d{4}-\d\d-\d\dT[\d:]+Z \(\d+\), \d+ s later\n$/);
      expectOneError(await runTask("chain:advance", { seconds: "0" }), "--seconds must be at least 1, got 0");
    });

    it("on a node that does not answer evm_increaseTime (a public chain) it says so in one line", async function () {
      await loadTaskFixture(deployTriadForTasks);
      const publicLike = {
        request: (a: { method: string; params?: unknown[] }) =>
          a.method.startsWith("evm_")
            ? Promise.reject(Object.assign(new Error(`the method ${a.method} does not exist/is not available`), { code: -32601 }))
            : connection.provider.request(a),
      };
      const provider = new ethers.BrowserProvider(publicLike, undefined, { cacheTimeout: -1 });
      const before = await ethers.provider.getBlockNumber();
      let stderr = "";
      const code = await runCli(["chain:advance", "--seconds", "60"], {
        provider,
        network: NETWORK,
        stdout: { write: () => undefined },
        stderr: { write: (s: string) => void (stderr += s) },
      });
      provider.destroy();
      expect(code).to.equal(EXIT.NETWORK);
      expect(stderr).to.equal(
        `error: chain:advance only works on a local chain (a Hardhat or Anvil node): network ${NETWORK} (chain 31337) does not answer evm_increaseTime\n`,
      );
      expect(await ethers.provider.getBlockNumber()).to.equal(before);
    });
  });

  describe("errors", function () {
    it("--verbose (and nothing else, not even DEBUG) adds the underlying error with its stack trace", async function () {
      await loadTaskFixture(deployTriadForTasks);
      const device = testWallet("cli/unregistered").address;
      const argv = ["device:suspend", "--device", device, "--from", "3"];
      const quiet = await triad(argv, { env: { DEBUG: "1" } });
      const message = expectOneError(quiet, `device ${device} is not registered`, EXIT.NOT_FOUND);
      const verbose = await triad([...argv, "--verbose"]);
      expect(verbose.exitCode).to.equal(EXIT.NOT_FOUND);
      const lines = verbose.stderr.trimEnd().split("\n");
      expect(lines[0]).to.equal(`error: ${message}`);
      expect(lines.some((l) => /^\s+at /.test(l))).to.equal(true);
    });

    it("a contract's refusal is its error's sentence (tokens, names, dates), exit code 4; with --json one object", async function () {
      const { signers } = await loadTaskFixture(deployTriadForTasks);
      const key = testWallet("cli/refused");
      expectSuccess(await triad(["device:register", "--device-key", key.privateKey, "--from", "1"]));
      const human = await triad(["device:resume", "--device", key.address, "--from", "1"]);
      expectOneError(human, `device ${key.address} is already Active`, EXIT.REFUSED);
      const json = await triad(["device:resume", "--device", key.address, "--from", "1", "--json"]);
      expectOneError(json, `device ${key.address} is already Active`, EXIT.REFUSED);
      expect(JSON.parse(json.stdout)).to.deep.equal({
        error: {
          code: "CONTRACT_REFUSED",
          message: `device ${key.address} is already Active`,
          details: { error: "DeviceInvalidStatusTransition", args: { device: key.address, current: "1", requested: "1" } },
        },
      });
      const stranger = await triad(["device:suspend", "--device", key.address, "--from", "3", "--json"]);
      expect(JSON.parse(stranger.stdout).error.message).to.equal(
        `you (${signers.stranger.address}) may not manage device ${key.address}: only its owner or an admin can`,
      );
    });
  });
});
