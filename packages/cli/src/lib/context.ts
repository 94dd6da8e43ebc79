import { readFileSync } from "node:fs";
import { Wallet, getAddress, type ContractRunner, type JsonRpcApiProvider, type Signer } from "ethers";
import { loadDeployment, type ContractName, type DeploymentRecord } from "@triad/sdk/node";
import { checkPrivateKey, describeError, fail, fileError, parseAddress } from "./common.ts";

/**
 * What every command gets: the chain (an ethers JSON-RPC provider), a label naming it in messages, the acting
 * account (made on first use from `--from` / `--private-key` / `--keystore` / `$TRIAD_PRIVATE_KEY`) and the
 * deployment record of the chain. Commands never read argv or print: they return their result.
 */
export interface Context {
  readonly provider: JsonRpcApiProvider;
  /** Names the chain in messages: the RPC URL (or the label the caller of runCli gave). */
  readonly network: string;
  readonly env: NodeJS.ProcessEnv;
  chainId(): Promise<bigint>;
  /** The deployment record of the chain (deployments/<chainId>.json, or $TRIAD_DEPLOYMENTS_DIR), with `required`. */
  deployment(required: readonly ContractName[]): Promise<DeploymentRecord>;
  /** The acting account (a node-managed account or a local key), connected to the provider. */
  signer(): Promise<Signer>;
  /** The acting account when one was named (an option or $TRIAD_PRIVATE_KEY), else the provider: for reads. */
  reader(): Promise<ContractRunner>;
  /** The latest block's timestamp. */
  latestTimestamp(): Promise<bigint>;
}

/** The account options as given on the command line (at most one of them; the dispatcher checks that). */
export interface AccountChoice {
  from?: string;
  privateKey?: string;
  keystore?: string;
}

export interface ContextParams {
  provider: JsonRpcApiProvider;
  network: string;
  account?: AccountChoice;
  env?: NodeJS.ProcessEnv;
}

export function createContext({ provider, network, account = {}, env = process.env }: ContextParams): Context {
  let signer: Promise<Signer> | undefined;
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
        return loadDeployment(chainId, { required });
      } catch (err) {
        fail(`${describeError(err)} — network ${network}`);
      }
    },
    signer() {
      signer ??= resolveSigner(provider, network, account, env);
      return signer;
    },
    async reader() {
      return named ? ctx.signer() : provider;
    },
    async latestTimestamp() {
      const block = await provider.getBlock("latest");
      if (!block) fail(`network ${network} returned no latest block`);
      return BigInt(block.timestamp);
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
    fail(`cannot read --keystore ${file}: ${fileError(err)}`);
  }
  const password = env.TRIAD_KEYSTORE_PASSWORD;
  if (password === undefined) fail(`--keystore needs its password in $TRIAD_KEYSTORE_PASSWORD`);
  try {
    return (await Wallet.fromEncryptedJson(json, password)).connect(provider);
  } catch {
    fail(`cannot decrypt --keystore ${file}: wrong password, or not an encrypted JSON keystore`);
  }
}
