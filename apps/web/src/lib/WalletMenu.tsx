import { useId, useRef, useState } from "react";
import { useConfig } from "./config.ts";
import { useWallet } from "./wallet.tsx";

/**
 * The wallet control in the header: "Connect wallet" opens the list of wallets found in the browser (EIP-6963) and,
 * on a local chain, the labelled local test account with its index; once connected, the account, the network (with
 * "Switch to …" when it is the wrong one) and "Disconnect".
 */
export function WalletMenu() {
  const config = useConfig();
  const wallet = useWallet();
  const dialog = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  const [localIndex, setLocalIndex] = useState(0);

  if (wallet.status === "connected") {
    return (
      <div className="wallet" data-testid="wallet">
        <span className="wallet-account" data-testid="wallet-account" data-account={wallet.account} title={wallet.account}>
          {wallet.option?.kind === "local" ? `Local test account ${wallet.localIndex} · ` : ""}
          {wallet.account!.slice(0, 6)}…{wallet.account!.slice(-4)}
        </span>
        {wallet.wrongNetwork ? (
          <button type="button" className="warn" onClick={() => void wallet.switchNetwork()} data-testid="wallet-switch">
            Wrong network (chain {wallet.chainId}): switch to {config.chainName}
          </button>
        ) : (
          <span className="badge ok" data-testid="wallet-network">
            {config.chainName}
          </span>
        )}
        <button type="button" className="link" onClick={wallet.disconnect} data-testid="wallet-disconnect">
          Disconnect
        </button>
        {wallet.error && (
          <p role="alert" className="error" data-testid="wallet-error">
            {wallet.error}
          </p>
        )}
      </div>
    );
  }

  const choose = async (id: string) => {
    await wallet.connect(id, localIndex);
    dialog.current?.close();
  };
  const injected = wallet.options.filter((o) => o.kind === "injected");
  const local = wallet.options.find((o) => o.kind === "local");
  return (
    <div className="wallet">
      <button
        type="button"
        className="primary"
        onClick={() => dialog.current?.showModal()}
        disabled={wallet.status === "connecting"}
        data-testid="wallet-connect"
      >
        {wallet.status === "connecting" ? "Connecting…" : "Connect wallet"}
      </button>
      {wallet.error && (
        <p role="alert" className="error" data-testid="wallet-error">
          {wallet.error}
        </p>
      )}
      <dialog ref={dialog} aria-labelledby={headingId} data-testid="wallet-dialog">
        <h2 id={headingId}>Connect a wallet</h2>
        {injected.length === 0 && (
          <p>No browser wallet found (install one such as MetaMask, or use the local test account on a local chain).</p>
        )}
        <ul className="plain">
          {injected.map((o) => (
            <li key={o.id}>
              <button type="button" onClick={() => void choose(o.id)} data-testid={`wallet-option-${o.id}`}>
                {o.icon && <img src={o.icon} alt="" width={20} height={20} />} {o.name}
              </button>
            </li>
          ))}
        </ul>
        {local && (
          <fieldset className="local-account">
            <legend>Local test account (chain 31337 only)</legend>
            <p className="muted">
              One of the local node&apos;s unlocked accounts of Hardhat&apos;s default mnemonic: test keys that anyone can use, never for
              real money.
            </p>
            <label>
              Account{" "}
              <select value={localIndex} onChange={(e) => setLocalIndex(Number(e.target.value))} data-testid="wallet-local-index">
                {Array.from({ length: 10 }, (_, i) => (
                  <option key={i} value={i}>
                    {i}
                  </option>
                ))}
              </select>
            </label>{" "}
            <button type="button" onClick={() => void choose("local")} data-testid="wallet-option-local">
              Use local test account {localIndex}
            </button>
          </fieldset>
        )}
        <div className="dialog-actions">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </dialog>
    </div>
  );
}
