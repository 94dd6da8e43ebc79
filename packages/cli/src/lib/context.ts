import { readFileSync } from "node:fs";
import { Wallet, getAddress, type ContractRunner, type JsonRpcApiProvider, type Signer } from "ethers";
import { TestToken__factory } from "@triad/contracts";
import { DeploymentNotFoundError, type ExplainContext, type ScanRange, type TokenInfo } from "@triad/sdk";
import { loadDeployment, type ContractName, type DeploymentRecord } from "@triad/sdk/node";
import { checkPrivateKey, fail, fileError, parseAddress } from "./common.ts";

/**
 * What every command gets: the chain (an ethers JSON-RPC provider), a label naming it in messages, the acting
 * account (made on first use from `--from` / `--private-key` / `--keystore` / `$TRIAD_PRIVATE_KEY`), the deployment
 * record of the chain (checked against the chain: a record whose contracts are not there is refused), the token read
 * once, and progress output for steps that take a while. Commands never read argv or print: they return their result.
 */
export interface Context {
  readonly provider: JsonRpcApiProvider;
  /** Names the chain in messages: the RPC URL (or the label the caller of runCli gave). */
  readonly network: string;
  readonly env: NodeJS.ProcessEnv;
  chainId(): Promise<bigint>;
  /**
   * The deployment record of the chain (deployments/<chainId>.json, or $TRIAD_DEPLOYMENTS_DIR), with `required`,
   * each of which must have code on the chain (else STALE_DEPLOYMENT: a restarted local node, another chain).
   */
  deployment(required: readonly ContractName[]): Promise<DeploymentRecord>;
  /** The acting account (a node-managed account or a local key), connected to the provider. */
  signer(): Promise<Signer>;
  /** The acting account's address (resolving it like {@link signer}). */
  account(): Promise<string>;
  /** The acting account when one was named (an option or $TRIAD_PRIVATE_KEY), else the provider: for reads. */
  reader(): Promise<ContractRunner>;
  /** The latest block's timestamp. */
  latestTimestamp(): Promise<bigint>;
  /** The deployment's ERC-20: symbol and decimals, read once. */
  token(): Promise<TokenInfo & { address: string }>;
  /** The blocks browse commands read events from: the deployment's start block to the latest (progress on slow scans). */
  scanRange(record: DeploymentRecord, what: string): Promise<ScanRange>;
  /**
   * Runs a step that may take a while (a transaction being mined, a scan of many blocks); when it takes longer than
   * a moment and progress output is on (a terminal), says `label…` and then how long it took.
   */
  step<T>(label: string, work: () => Promise<T>): Promise<T>;
  /** One progress line (what a long wait is waiting for), when progress output is on (a terminal); else nothing. */
  note(line: string): void;
  /** What error sentences need (token, chain time, acting account), as far as known without failing. */
  explainContext(): Promise<ExplainContext>;
}

/** The account options as given on the command line (at most one of them; the dispatcher checks that). */
export interface AccountChoice {
  from?: string;
  privateKey?: string;
  keystore?: string;
}

/** Where progress lines go: stderr when it is a terminal (never into a pipe or a --json run). */
export interface ProgressOutput {
  write(chunk: string): unknown;
  /** Show a step's label once it has run this long (default 1,500 ms). */
  afterMs?: number;
}

export interface ContextParams {
  provider: JsonRpcApiProvider;
  network: string;
  account?: AccountChoice;
  env?: NodeJS.ProcessEnv;
  progress?: ProgressOutput;
}

/** `npm run deploy -- --network <name>` for a chain id, naming the network for the local one. */
function deployHint(chainId: bigint): string {
  return `npm run deploy -- --network ${chainId === 31337n ? "localhost" : "<name>"}`;
}

export function createContext({ provider, network, account = {}, env = process.env, progress }: ContextParams): Context {
  let signer: Promise<Signer> | undefined;
  let token: Promise<TokenInfo & { address: string }> | undefined;
  let record: DeploymentRecord | undefined;
  let signerAddress: string | undefined;
  const checked = new Set<string>();
  const named = account.from !== undefined || account.privateKey !== undefined || account.keystore !== undefined || !!env.TRIAD_PRIVATE_KEY;
  const ctx: Context = {
    provider,
    network,
    env,
    async chainId() {
      return (await provider.getNetwork()).chainId;
    },
    async deployment(required) {
      const chainId = await ctx.chainId();
      try {
        record = loadDeployment(chainId, { required });
      } catch (err) {
        if (!(err instanceof DeploymentNotFoundError)) throw err;
        const file = err.details.file as string | undefined;
        if (/does not exist/.test(err.message)) {
          fail(
            `no Triad deployment is recorded for chain ${chainId} (the node at ${network}): ${file} does not exist — deploy with ${deployHint(chainId)}, or set TRIAD_DEPLOYMENTS_DIR to the folder holding ${chainId}.json`,
            "NO_DEPLOYMENT",
            { chainId: String(chainId), file },
          );
        }
        fail(`${err.message} (the node at ${network} serves chain ${chainId})`, "NO_DEPLOYMENT", { chainId: String(chainId), file });
      }
      const unchecked = required.filter((name) => !checked.has(name));
      const codes = await Promise.all(unchecked.map((name) => provider.getCode(record!.contracts[name]!)));
      unchecked.forEach((name, i) => {
        if (codes[i] === "0x") {
          fail(
            `the deployment record of chain ${chainId} names ${name} at ${record!.contracts[name]}, but the node at ${network} has no contract there: the chain was reset since that deployment (a restarted local node keeps nothing) or the record is another chain's — deploy again with ${deployHint(chainId)}`,
            "STALE_DEPLOYMENT",
            { chainId: String(chainId), contract: name, address: record!.contracts[name] },
          );
        }
        checked.add(name);
      });
      return record!;
    },
    signer() {
      signer ??= resolveSigner(provider, network, account, env).then(async (s) => {
        signerAddress = await s.getAddress();
        return s;
      });
      return signer;
    },
    async account() {
      return (await ctx.signer()).getAddress();
    },
    async reader() {
      return named ? ctx.signer() : provider;
    },
    async latestTimestamp() {
      const block = await provider.getBlock("latest");
      if (!block) fail(`network ${network} returned no latest block`, "NETWORK_UNREACHABLE");
      return BigInt(block.timestamp);
    },
    token() {
      token ??= (async () => {
        const address = record?.token ?? (await ctx.deployment([])).token;
        if (!address) fail(`the deployment record of chain ${await ctx.chainId()} names no token`, "NO_DEPLOYMENT");
        const erc20 = TestToken__factory.connect(address, provider);
        const [symbol, decimals] = await Promise.all([erc20.symbol().catch(() => "tokens"), erc20.decimals()]);
        return { address, symbol, decimals: Number(decimals) };
      })();
      return token;
    },
    async scanRange(deployment, what) {
      const toBlock = await provider.getBlockNumber();
      const fromBlock = Math.min(deployment.startBlock ?? 0, toBlock);
      const range: ScanRange = { fromBlock, toBlock };
      if (progress && toBlock - fromBlock > 50_000) {
        let last = 0;
        range.onProgress = (scannedTo) => {
          const now = Date.now();
          if (now - last < 1000) return;
          last = now;
          progress.write(`  reading ${what}: block ${scannedTo} of ${toBlock}\n`);
        };
      }
      return range;
    },
    async step(label, work) {
      if (!progress) return work();
      const started = Date.now();
      let shown = false;
      const timer = setTimeout(() => {
        shown = true;
        progress.write(`${label}…\n`);
      }, progress.afterMs ?? 1500);
      try {
        const result = await work();
        if (shown) progress.write(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
        return result;
      } finally {
        clearTimeout(timer);
      }
    },
    note(line) {
      progress?.write(`${line}\n`);
    },
    async explainContext() {
      // Best effort within a few seconds: the error is reported either way.
      const quick = async <T>(p: Promise<T>): Promise<T | undefined> => {
        let timer: NodeJS.Timeout | undefined;
        try {
          return await Promise.race([
            p.catch(() => undefined),
            new Promise<undefined>((r) => (timer = globalThis.setTimeout(r, 3000) as unknown as NodeJS.Timeout)),
          ]);
        } finally {
          clearTimeout(timer);
        }
      };
      const [tokenInfo, now] = await Promise.all([record ? quick(ctx.token()) : undefined, quick(ctx.latestTimestamp())]);
      return { token: tokenInfo, now, account: signerAddress, shareDecimals: tokenInfo ? tokenInfo.decimals + 6 : undefined };
    },
  };
  return ctx;
}

async function resolveSigner(
  provider: JsonRpcApiProvider,
  network: string,
  account: AccountChoice,
  env: NodeJS.ProcessEnv,
): Promise<Signer> {
  if (account.privateKey !== undefined) return new Wallet(checkPrivateKey(account.privateKey, "--private-key"), provider);
  if (account.keystore !== undefined) return keystoreSigner(provider, account.keystore, env);
  if (account.from === undefined && env.TRIAD_PRIVATE_KEY)
    return new Wallet(checkPrivateKey(env.TRIAD_PRIVATE_KEY, "TRIAD_PRIVATE_KEY"), provider);
  return nodeAccount(provider, network, account.from);
}

/**
 * An account the node manages (`eth_accounts`: a local node's test accounts): the first, unless `from` names
 * another by index (0, 1, …) or address.
 */
async function nodeAccount(provider: JsonRpcApiProvider, network: string, from: string | undefined): Promise<Signer> {
  let accounts: string[];
  try {
    accounts = ((await provider.send("eth_accounts", [])) as string[]).map((a) => getAddress(a));
  } catch {
    accounts = []; // a node that does not offer eth_accounts manages no account
  }
  if (accounts.length === 0) {
    fail(`network ${network} has no accounts configured: name one with --private-key, $TRIAD_PRIVATE_KEY or --keystore`);
  }
  if (from === undefined || from === "") return provider.getSigner(accounts[0]);
  if (/^\d+$/.test(from)) {
    const i = Number(from);
    if (i >= accounts.length) fail(`--from ${from}: network ${network} has ${accounts.length} accounts (0..${accounts.length - 1})`);
    return provider.getSigner(accounts[i]);
  }
  const address = parseAddress(from, "from");
  if (!accounts.includes(address)) fail(`--from ${address} is not one of the accounts of network ${network}`);
  return provider.getSigner(address);
}

async function keystoreSigner(provider: JsonRpcApiProvider, file: string, env: NodeJS.ProcessEnv): Promise<Signer> {
  let json: string;
  try {
    json = readFileSync(file, "utf8");
  } catch (err) {
    fail(`cannot read --keystore ${file}: ${fileError(err)}`, "FILE_ERROR");
  }
  const password = env.TRIAD_KEYSTORE_PASSWORD;
  if (password === undefined) fail(`--keystore needs its password in $TRIAD_KEYSTORE_PASSWORD`);
  try {
    return (await Wallet.fromEncryptedJson(json, password)).connect(provider);
  } catch {
    fail(`cannot decrypt --keystore ${file}: wrong password, or not an encrypted JSON keystore`);
  }
}
