import { JsonRpcProvider, Wallet, getBytes, isHexString, type TransactionRequest, type TypedDataField } from "ethers";
import type { Page } from "playwright-core";

/**
 * An injected EIP-1193 test wallet for browser tests. `installTestWallet` adds a script that runs before the page's
 * own: it defines `window.ethereum` and announces the same provider by EIP-6963 (`eip6963:announceProvider`, again
 * on every `eip6963:requestProvider`). Its `request()` forwards to Node through `page.exposeFunction`, where an
 * ethers `Wallet` holding a Hardhat test key signs `eth_sendTransaction`, `personal_sign` and
 * `eth_signTypedData_v4`; the wallet methods (`eth_requestAccounts`, `eth_accounts`, `eth_chainId`,
 * `wallet_switchEthereumChain`, `wallet_addEthereumChain`) are answered here, and every other method goes to the
 * node's JSON-RPC unchanged. Chain switches emit `chainChanged`; connecting and `setAccount` emit `accountsChanged`.
 * Every request is recorded, so a test can assert what the app asked the wallet for.
 */

export interface TestWalletOptions {
  /** The node's JSON-RPC URL (the wallet's "network"). */
  rpcUrl: string;
  /** The signing key (a Hardhat test key). */
  privateKey: string;
  /** The chain the wallet says it is on at start (default: the node's): another id tests the "wrong network" path. */
  chainId?: number;
  /** The name the wallet announces (EIP-6963 `info.name`). */
  name?: string;
}

export interface WalletRequest {
  method: string;
  params: unknown;
  /** The error code when the wallet refused or the node failed. */
  error?: number;
}

export interface TestWallet {
  readonly address: string;
  /** The chain id the wallet currently reports. */
  readonly chainId: number;
  /** Every request the page made, in order. */
  readonly requests: WalletRequest[];
  /** The next `n` signature or transaction requests are refused as a user would (EIP-1193 error 4001). */
  rejectNext(n?: number): void;
  /** Switches to another key and tells the page (`accountsChanged`). */
  setAccount(privateKey: string): Promise<void>;
  /** Requests whose method is `method`. */
  calls(method: string): WalletRequest[];
}

interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}
interface Reply {
  result?: unknown;
  error?: RpcError;
  events?: { event: string; data: unknown }[];
}

const BINDING = "__triadTestWalletRequest";
const SIGNING = new Set(["eth_sendTransaction", "personal_sign", "eth_signTypedData_v4"]);

const hexChain = (id: number): string => "0x" + id.toString(16);
const bigOrUndefined = (v: unknown): bigint | undefined => (typeof v === "string" || typeof v === "number" ? BigInt(v) : undefined);

/** Adds the wallet to `page` (call before `page.goto`). */
export async function installTestWallet(page: Page, options: TestWalletOptions): Promise<TestWallet> {
  // No response cache: two transactions in a row (an approval, then the call) must each read the current nonce.
  const node = new JsonRpcProvider(options.rpcUrl, undefined, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  const nodeChainId = Number((await node.getNetwork()).chainId);
  let signer = new Wallet(options.privateKey, node);
  let chainId = options.chainId ?? nodeChainId;
  let connected = false;
  let rejections = 0;
  const requests: WalletRequest[] = [];

  async function forward(method: string, params: unknown): Promise<Reply> {
    const response = await fetch(options.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: params ?? [] }),
    });
    const body = (await response.json()) as { result?: unknown; error?: RpcError };
    return body.error ? { error: body.error } : { result: body.result };
  }

  async function sendTransaction(tx: Record<string, unknown>): Promise<string> {
    const request: TransactionRequest = {
      to: typeof tx.to === "string" ? tx.to : undefined,
      data: typeof tx.data === "string" ? tx.data : typeof tx.input === "string" ? tx.input : undefined,
      value: bigOrUndefined(tx.value),
      gasLimit: bigOrUndefined(tx.gas ?? tx.gasLimit),
      nonce: tx.nonce === undefined ? undefined : Number(tx.nonce),
      maxFeePerGas: bigOrUndefined(tx.maxFeePerGas),
      maxPriorityFeePerGas: bigOrUndefined(tx.maxPriorityFeePerGas),
      gasPrice: tx.maxFeePerGas === undefined ? bigOrUndefined(tx.gasPrice) : undefined,
    };
    return (await signer.sendTransaction(request)).hash;
  }

  async function signTypedData(json: string): Promise<string> {
    const typed = JSON.parse(json) as {
      domain: Record<string, unknown>;
      types: Record<string, TypedDataField[]>;
      message: Record<string, unknown>;
    };
    const types = { ...typed.types };
    delete types.EIP712Domain; // ethers derives the domain's type from the domain itself
    return signer.signTypedData(typed.domain, types, typed.message);
  }

  function ownAccount(address: unknown): RpcError | undefined {
    if (typeof address === "string" && address.toLowerCase() !== signer.address.toLowerCase()) {
      return { code: 4100, message: `the test wallet holds ${signer.address}, not ${address}` };
    }
    return undefined;
  }

  async function handle(method: string, params: unknown[]): Promise<Reply> {
    switch (method) {
      case "eth_chainId":
        return { result: hexChain(chainId) };
      case "net_version":
        return { result: String(chainId) };
      case "eth_accounts":
        return { result: connected ? [signer.address] : [] };
      case "eth_requestAccounts":
      case "wallet_requestPermissions": {
        const events = connected ? [] : [{ event: "accountsChanged", data: [signer.address] }];
        connected = true;
        return {
          result: method === "eth_requestAccounts" ? [signer.address] : [{ parentCapability: "eth_accounts" }],
          events,
        };
      }
      case "wallet_getPermissions":
        return { result: connected ? [{ parentCapability: "eth_accounts" }] : [] };
      case "wallet_revokePermissions":
        connected = false;
        return { result: null, events: [{ event: "accountsChanged", data: [] }] };
      case "wallet_switchEthereumChain":
      case "wallet_addEthereumChain": {
        const wanted = Number((params[0] as { chainId?: string } | undefined)?.chainId);
        if (wanted !== nodeChainId) {
          return {
            error: {
              code: 4902,
              message: `Unrecognized chain ID ${hexChain(wanted)}: the test wallet knows ${hexChain(nodeChainId)} only`,
            },
          };
        }
        const events = chainId === wanted ? [] : [{ event: "chainChanged", data: hexChain(wanted) }];
        chainId = wanted;
        return { result: null, events };
      }
      case "eth_sendTransaction": {
        const tx = (params[0] ?? {}) as Record<string, unknown>;
        const refused = ownAccount(tx.from);
        return refused ? { error: refused } : { result: await sendTransaction(tx) };
      }
      case "personal_sign": {
        const [message, address] = params as [string, string];
        const refused = ownAccount(address);
        if (refused) return { error: refused };
        return { result: await signer.signMessage(isHexString(message) ? getBytes(message) : message) };
      }
      case "eth_signTypedData_v4": {
        const [address, json] = params as [string, string | object];
        const refused = ownAccount(address);
        if (refused) return { error: refused };
        return { result: await signTypedData(typeof json === "string" ? json : JSON.stringify(json)) };
      }
      case "eth_sign":
      case "eth_signTransaction":
        return { error: { code: 4200, message: `the test wallet does not support ${method}` } };
      default:
        return forward(method, params);
    }
  }

  await page.exposeFunction(BINDING, async (raw: string): Promise<string> => {
    const { method, params } = JSON.parse(raw) as { method: string; params?: unknown };
    const list = Array.isArray(params) ? params : params === undefined ? [] : [params];
    const record: WalletRequest = { method, params };
    requests.push(record);
    let reply: Reply;
    if (SIGNING.has(method) && !connected) {
      reply = { error: { code: 4100, message: "the test wallet is not connected: ask for eth_requestAccounts first" } };
    } else if (SIGNING.has(method) && rejections > 0) {
      rejections--;
      reply = { error: { code: 4001, message: "User rejected the request." } };
    } else {
      try {
        reply = await handle(method, list);
      } catch (error) {
        const e = error as { code?: unknown; message?: string; data?: unknown; info?: { error?: RpcError } };
        reply = { error: e.info?.error ?? { code: typeof e.code === "number" ? e.code : -32603, message: e.message ?? String(error) } };
      }
    }
    if (reply.error) record.error = reply.error.code;
    return JSON.stringify(reply);
  });

  const args = { binding: BINDING, name: options.name ?? "Triad Test Wallet", uuid: globalThis.crypto.randomUUID() };
  // tsx (esbuild, keepNames) wraps named functions in `__name(…)` calls: the page gets a stand-in for that helper.
  await page.addInitScript({
    content: `(() => { const __name = (f) => f; (${injectedProvider.toString()})(${JSON.stringify(args)}); })();`,
  });

  return {
    get address() {
      return signer.address;
    },
    get chainId() {
      return chainId;
    },
    requests,
    rejectNext(n = 1) {
      rejections += n;
    },
    async setAccount(privateKey: string) {
      signer = new Wallet(privateKey, node);
      if (connected) await emit(page, "accountsChanged", [signer.address]);
    },
    calls(method: string) {
      return requests.filter((r) => r.method === method);
    },
  };
}

/** Emits an EIP-1193 event from the injected provider of `page`. */
export async function emit(page: Page, event: string, data: unknown): Promise<void> {
  await page.evaluate(
    ([e, d]) => (window as unknown as { __triadTestWallet: { emit(e: string, d: unknown): void } }).__triadTestWallet.emit(e, d),
    [event, data] as const,
  );
}

/** The key of account `index` of Hardhat's default mnemonic, as a hex string (the node's test accounts). */
export const HARDHAT_KEYS: readonly string[] = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
];

/**
 * The page side (serialized into the page by `addInitScript`: it must not refer to anything outside itself). An
 * EIP-1193 provider whose `request` calls the exposed Node function and emits the events its answer lists.
 */
function injectedProvider(args: { binding: string; name: string; uuid: string }): void {
  type Listener = (data: unknown) => void;
  const w = window as unknown as Record<string, unknown>;
  const listeners = new Map<string, Set<Listener>>();
  const emitEvent = (event: string, data: unknown): void => {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        listener(data);
      } catch (error) {
        console.error(error);
      }
    }
  };
  const call = w[args.binding] as (raw: string) => Promise<string>;
  const provider = {
    isTriadTestWallet: true,
    async request(request: { method: string; params?: unknown }): Promise<unknown> {
      if (!request || typeof request.method !== "string") throw Object.assign(new Error("invalid request"), { code: -32600 });
      const reply = JSON.parse(await call(JSON.stringify({ method: request.method, params: request.params }))) as {
        result?: unknown;
        error?: { code: number; message: string; data?: unknown };
        events?: { event: string; data: unknown }[];
      };
      for (const { event, data } of reply.events ?? []) emitEvent(event, data);
      if (reply.error) throw Object.assign(new Error(reply.error.message), reply.error);
      return reply.result;
    },
    on(event: string, listener: Listener) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(listener);
      return provider;
    },
    removeListener(event: string, listener: Listener) {
      listeners.get(event)?.delete(listener);
      return provider;
    },
    emit: emitEvent,
  };
  provider.request = provider.request.bind(provider);
  w.ethereum = provider;
  w.__triadTestWallet = provider;
  const icon =
    "data:image/svg+xml;base64," +
    btoa('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#2b6"/></svg>');
  const info = Object.freeze({ uuid: args.uuid, name: args.name, icon, rdns: "org.triad.test-wallet" });
  const announce = (): void => {
    window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
  };
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
}
