import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { BrowserProvider, JsonRpcProvider, getAddress, type Eip1193Provider, type Signer } from "ethers";
import { TriadError } from "@triad/sdk";
import { useConfig } from "./config.ts";

/**
 * The wallet: any injected EIP-1193 provider, discovered through EIP-6963 (`eip6963:announceProvider`) and
 * `window.ethereum`, wrapped in ethers' BrowserProvider; the network is checked against config.json's chain and
 * switching is offered (`wallet_switchEthereumChain`, then `wallet_addEthereumChain` when the wallet does not know
 * the chain). On a local chain (31337) a "Local test account" option signs with one of the node's unlocked accounts
 * (Hardhat's default mnemonic) through a JSON-RPC signer: test keys, never for real money.
 *
 * Reads go through `readProvider` (config.rpcUrl) whether or not a wallet is connected, so pages work read-only.
 */

/** An EIP-1193 provider with the event methods wallets implement. */
export interface InjectedProvider extends Eip1193Provider {
  on?(event: string, listener: (...args: unknown[]) => void): void;
  removeListener?(event: string, listener: (...args: unknown[]) => void): void;
}

/** One way to connect, as offered in the wallet menu. */
export interface WalletOption {
  /** "eip6963:<rdns or uuid>", "injected" (window.ethereum) or "local". */
  id: string;
  name: string;
  /** The wallet's icon (a data: URI from EIP-6963), if any. */
  icon?: string;
  kind: "injected" | "local";
  provider?: InjectedProvider;
}

export type WalletStatus = "disconnected" | "connecting" | "connected";

export interface WalletState {
  status: WalletStatus;
  /** The connected account (checksummed). */
  account?: string;
  /** The chain the wallet is on (the local option is always on the app's chain). */
  chainId?: number;
  /** True when connected to another chain than config.json's: writes are disabled until `switchNetwork()`. */
  wrongNetwork: boolean;
  /** The connected wallet's option ("local" for the local test account). */
  option?: WalletOption;
  /** Index of the local test account in use (0–9), when option is "local". */
  localIndex?: number;
  /** The account's signer, when connected and on the right chain. */
  signer?: Signer;
  /** Reads: a JSON-RPC provider on config.rpcUrl, always there. */
  readProvider: JsonRpcProvider;
  /** Ways to connect: the discovered wallets, and on a local chain the local test account. */
  options: WalletOption[];
  /** The last connection error as one sentence. */
  error?: string;
  connect(optionId: string, localIndex?: number): Promise<void>;
  disconnect(): void;
  switchNetwork(): Promise<void>;
}

const STORAGE_KEY = "triad.wallet";

interface EIP6963Detail {
  info: { uuid: string; name: string; icon?: string; rdns?: string };
  provider: InjectedProvider;
}

const WalletContext = createContext<WalletState | undefined>(undefined);

/** The wallet state and actions (inside `<WalletProvider>`). */
export function useWallet(): WalletState {
  const wallet = useContext(WalletContext);
  if (!wallet) throw new TriadError("useWallet() outside <WalletProvider>", "NO_WALLET_CONTEXT");
  return wallet;
}

/** A wallet's error (user rejected, unknown chain…) as one sentence. */
export function walletErrorSentence(err: unknown): string {
  const e = err as { code?: number | string; message?: string; shortMessage?: string; info?: { error?: { code?: number } } };
  const code = e?.info?.error?.code ?? e?.code;
  if (code === 4001 || code === "ACTION_REJECTED") return "you declined the request in your wallet";
  if (code === -32002) return "your wallet already has a request open: finish it in the wallet first";
  if (err instanceof TriadError) return err.message;
  return e?.shortMessage ?? e?.message ?? String(err);
}

function discoverWallets(onFound: (option: WalletOption) => void): () => void {
  const onAnnounce = (event: Event) => {
    const detail = (event as CustomEvent<EIP6963Detail>).detail;
    if (!detail?.provider || !detail.info) return;
    onFound({
      id: `eip6963:${detail.info.rdns ?? detail.info.uuid}`,
      name: detail.info.name,
      icon: detail.info.icon,
      kind: "injected",
      provider: detail.provider,
    });
  };
  window.addEventListener("eip6963:announceProvider", onAnnounce);
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  return () => window.removeEventListener("eip6963:announceProvider", onAnnounce);
}

export function WalletProvider({ children }: { children: ReactNode }) {
  const config = useConfig();
  const readProvider = useMemo(
    () => new JsonRpcProvider(config.rpcUrl, config.chainId, { staticNetwork: true, pollingInterval: 1000 }),
    [config.rpcUrl, config.chainId],
  );
  const [announced, setAnnounced] = useState<WalletOption[]>([]);
  const [status, setStatus] = useState<WalletStatus>("disconnected");
  const [account, setAccount] = useState<string>();
  const [chainId, setChainId] = useState<number>();
  const [option, setOption] = useState<WalletOption>();
  const [localIndex, setLocalIndex] = useState<number>();
  const [signer, setSigner] = useState<Signer>();
  const [error, setError] = useState<string>();
  const detach = useRef<() => void>(undefined);

  useEffect(() => discoverWallets((found) => setAnnounced((list) => (list.some((o) => o.id === found.id) ? list : [...list, found]))), []);

  const options = useMemo(() => {
    const list = [...announced];
    const injected = (window as { ethereum?: InjectedProvider }).ethereum;
    if (injected && !list.some((o) => o.provider === injected)) {
      list.push({ id: "injected", name: "Browser wallet", kind: "injected", provider: injected });
    }
    if (config.chainId === 31337) list.push({ id: "local", name: "Local test account", kind: "local" });
    return list;
  }, [announced, config.chainId]);

  const reset = useCallback(() => {
    detach.current?.();
    detach.current = undefined;
    setStatus("disconnected");
    setAccount(undefined);
    setChainId(undefined);
    setOption(undefined);
    setSigner(undefined);
    setLocalIndex(undefined);
  }, []);

  /** Reads the injected wallet's account and chain, and makes the signer when it is on the app's chain. */
  const syncInjected = useCallback(
    async (chosen: WalletOption, accounts?: string[]) => {
      const eip1193 = chosen.provider!;
      const list = accounts ?? ((await eip1193.request({ method: "eth_accounts" })) as string[]);
      if (!list || list.length === 0) {
        reset();
        return;
      }
      const id = Number(await eip1193.request({ method: "eth_chainId" }));
      const address = getAddress(list[0]);
      setAccount(address);
      setChainId(id);
      setOption(chosen);
      setStatus("connected");
      setSigner(id === config.chainId ? await new BrowserProvider(eip1193, "any").getSigner(address) : undefined);
    },
    [config.chainId, reset],
  );

  const connect = useCallback(
    async (optionId: string, index = 0) => {
      setError(undefined);
      const chosen = options.find((o) => o.id === optionId);
      if (!chosen) {
        setError(`no wallet "${optionId}" in this browser`);
        return;
      }
      detach.current?.();
      setStatus("connecting");
      try {
        if (chosen.kind === "local") {
          const accounts = (await readProvider.send("eth_accounts", [])) as string[];
          if (!accounts[index]) throw new TriadError(`the local node has no account ${index}`, "NO_LOCAL_ACCOUNT");
          const localSigner = await readProvider.getSigner(index);
          setAccount(await localSigner.getAddress());
          setChainId(config.chainId);
          setOption(chosen);
          setLocalIndex(index);
          setSigner(localSigner);
          setStatus("connected");
        } else {
          const eip1193 = chosen.provider!;
          const accounts = (await eip1193.request({ method: "eth_requestAccounts" })) as string[];
          await syncInjected(chosen, accounts);
          const onAccounts = (...args: unknown[]) =>
            void syncInjected(chosen, args[0] as string[]).catch((e) => setError(walletErrorSentence(e)));
          const onChain = () => void syncInjected(chosen).catch((e) => setError(walletErrorSentence(e)));
          eip1193.on?.("accountsChanged", onAccounts);
          eip1193.on?.("chainChanged", onChain);
          detach.current = () => {
            eip1193.removeListener?.("accountsChanged", onAccounts);
            eip1193.removeListener?.("chainChanged", onChain);
          };
        }
        localStorage.setItem(STORAGE_KEY, JSON.stringify({ id: chosen.id, index }));
      } catch (err) {
        reset();
        setError(walletErrorSentence(err));
      }
    },
    [options, readProvider, config.chainId, syncInjected, reset],
  );

  const disconnect = useCallback(() => {
    localStorage.removeItem(STORAGE_KEY);
    reset();
  }, [reset]);

  const switchNetwork = useCallback(async () => {
    const eip1193 = option?.provider;
    if (!eip1193) return;
    setError(undefined);
    const hexId = `0x${config.chainId.toString(16)}`;
    try {
      await eip1193.request({ method: "wallet_switchEthereumChain", params: [{ chainId: hexId }] });
    } catch (err) {
      const code = (err as { code?: number }).code ?? (err as { data?: { originalError?: { code?: number } } }).data?.originalError?.code;
      if (code !== 4902) {
        setError(walletErrorSentence(err));
        return;
      }
      // The wallet does not know the chain: offer to add it.
      try {
        await eip1193.request({
          method: "wallet_addEthereumChain",
          params: [
            {
              chainId: hexId,
              chainName: config.chainName,
              rpcUrls: [new URL(config.rpcUrl, location.href).href],
              nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
              ...(config.explorerUrl ? { blockExplorerUrls: [config.explorerUrl] } : {}),
            },
          ],
        });
      } catch (addErr) {
        setError(walletErrorSentence(addErr));
        return;
      }
    }
    await syncInjected(option!).catch((e) => setError(walletErrorSentence(e)));
  }, [option, config, syncInjected]);

  // Reconnect silently to the wallet used last time (no prompt: eth_accounts only lists already-authorised accounts).
  const restored = useRef(false);
  useEffect(() => {
    if (restored.current || status !== "disconnected") return;
    const saved = (() => {
      try {
        return JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "null") as { id: string; index?: number } | null;
      } catch {
        return null;
      }
    })();
    if (!saved) {
      restored.current = true;
      return;
    }
    const chosen = options.find((o) => o.id === saved.id);
    if (!chosen) return; // EIP-6963 announcements may still arrive
    restored.current = true;
    if (chosen.kind === "local") void connect("local", saved.index ?? 0);
    else
      void (async () => {
        const accounts = (await chosen.provider!.request({ method: "eth_accounts" })) as string[];
        if (accounts.length > 0) await connect(chosen.id);
      })().catch(() => undefined);
  }, [options, status, connect]);

  const value: WalletState = {
    status,
    account,
    chainId,
    wrongNetwork: status === "connected" && chainId !== config.chainId,
    option,
    localIndex,
    signer,
    readProvider,
    options,
    error,
    connect,
    disconnect,
    switchNetwork,
  };
  return <WalletContext.Provider value={value}>{children}</WalletContext.Provider>;
}
