import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from "react";
import {
  AbstractSigner,
  formatEther,
  Interface,
  type Provider,
  type Signer,
  type TransactionRequest,
  type TransactionResponse,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";
import {
  ClaimsInsurance__factory,
  DataMarketplace__factory,
  DeviceRegistry__factory,
  InsurancePool__factory,
  OracleCommittee__factory,
  TestToken__factory,
} from "@triad/contracts";
import { useConfig, type AppConfig } from "./config.ts";
import { connectContracts, useExplainContext, type TriadContracts } from "./contracts.tsx";
import { errorSentence } from "./errors.ts";
import { useWallet } from "./wallet.tsx";

/**
 * Transactions: every write goes through {@link TxButton}, which opens a dialog saying what the action does, its
 * estimated cost, its progress (each transaction the action sends: estimated gas and cost, waiting for the wallet,
 * sent, mined with the gas it used) and the result, or the error as one sentence.
 *
 * Progress is observed, not declared: the action gets the contracts connected to a {@link TrackingSigner}, which
 * reports each transaction the action (an SDK action such as `buyPolicy`, which may approve first) sends.
 */

/** One transaction of an action, as the dialog shows it. */
export interface TxStep {
  id: number;
  /** "ClaimsInsurance.buyPolicy", "TestToken.approve". */
  what: string;
  stage: "estimating" | "wallet" | "pending" | "mined" | "failed";
  gas?: bigint;
  /** Estimated cost in wei (gas × max fee per gas). */
  cost?: bigint;
  hash?: string;
  blockNumber?: number;
  gasUsed?: bigint;
  /** Cost paid in wei (gas used × effective gas price). */
  paid?: bigint;
}

let contractsInterface: { iface: Interface; names: Map<string, string> } | undefined;

/** Names a transaction "<Contract>.<function>" from the deployment's addresses and ABIs. */
export function describeTransaction(config: AppConfig, tx: { to?: unknown; data?: string | null }): string {
  contractsInterface ??= (() => {
    const abis = [
      DeviceRegistry__factory.abi,
      OracleCommittee__factory.abi,
      InsurancePool__factory.abi,
      ClaimsInsurance__factory.abi,
      DataMarketplace__factory.abi,
      TestToken__factory.abi,
    ].flat();
    const seen = new Set<string>();
    const fragments = abis.filter((f) => f.type === "function" && !seen.has(f.name) && seen.add(f.name));
    return { iface: new Interface(fragments), names: new Map() };
  })();
  const to = typeof tx.to === "string" ? tx.to.toLowerCase() : "";
  const entries = Object.entries({ ...config.deployment.contracts, Token: config.deployment.token });
  const contract = entries.find(([, address]) => address?.toLowerCase() === to)?.[0] ?? (to ? `${to.slice(0, 8)}…` : "new contract");
  let fn = "call";
  try {
    fn = tx.data && tx.data !== "0x" ? (contractsInterface.iface.parseTransaction({ data: tx.data })?.name ?? fn) : "transfer";
  } catch {
    /* not one of ours */
  }
  return `${contract === "TestToken" ? "Token" : contract}.${fn}`;
}

/** A signer that reports every transaction sent through it (estimate, wallet, sent, mined) and signs as `inner`. */
export class TrackingSigner extends AbstractSigner {
  private next = 0;
  constructor(
    private readonly inner: Signer,
    private readonly config: AppConfig,
    private readonly report: (step: TxStep) => void,
  ) {
    super(inner.provider);
  }
  getAddress(): Promise<string> {
    return this.inner.getAddress();
  }
  connect(provider: Provider | null): Signer {
    return new TrackingSigner(this.inner.connect(provider), this.config, this.report);
  }
  signTransaction(tx: TransactionRequest): Promise<string> {
    return this.inner.signTransaction(tx);
  }
  signMessage(message: string | Uint8Array): Promise<string> {
    return this.inner.signMessage(message);
  }
  signTypedData(domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string> {
    return this.inner.signTypedData(domain, types, value);
  }
  override async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    const id = ++this.next;
    const what = describeTransaction(this.config, { to: tx.to, data: tx.data });
    const step: TxStep = { id, what, stage: "estimating" };
    this.report({ ...step });
    try {
      // The estimate also runs the call: a refusal surfaces here, before the wallet asks anything.
      const gas = tx.gasLimit !== undefined && tx.gasLimit !== null ? BigInt(tx.gasLimit) : await this.inner.estimateGas(tx);
      const fees = await this.inner.provider!.getFeeData();
      Object.assign(step, { gas, cost: gas * (fees.maxFeePerGas ?? fees.gasPrice ?? 0n), stage: "wallet" });
      this.report({ ...step });
      // A margin over the estimate: the state may move between the estimate and the block.
      const sent = await this.inner.sendTransaction({ ...tx, gasLimit: (gas * 12n) / 10n });
      Object.assign(step, { hash: sent.hash, stage: "pending" });
      this.report({ ...step });
      void sent.wait().then(
        (receipt) => {
          if (!receipt) return;
          Object.assign(step, {
            stage: receipt.status === 1 ? "mined" : "failed",
            blockNumber: receipt.blockNumber,
            gasUsed: receipt.gasUsed,
            paid: receipt.gasUsed * receipt.gasPrice,
          });
          this.report({ ...step });
        },
        () => this.report({ ...step, stage: "failed" }),
      );
      return sent;
    } catch (err) {
      this.report({ ...step, stage: "failed" });
      throw err;
    }
  }
}

/** What an action gets: the contracts connected to the tracked signer, the signer and the account. */
export interface TxContext {
  contracts: TriadContracts;
  signer: Signer;
  account: string;
}

export interface TxButtonProps<R> {
  /** The button's text ("Buy policy"). */
  label: string;
  /** The dialog's heading: what the action does, as a sentence ("Buy a 30-day policy for device 0x12…"). */
  title: string;
  /** More about what happens (amounts, deposit at risk…). */
  description?: ReactNode;
  /** The action: SDK actions on `ctx.contracts`; throws a TriadError (or a revert) when refused. */
  run: (ctx: TxContext) => Promise<R>;
  /** Gas of the action, estimated before it runs, for "estimated cost" in the dialog (optional). */
  estimateGas?: (ctx: TxContext) => Promise<bigint>;
  /** The result as a sentence ("Policy 3 bought."). */
  result?: (value: R) => ReactNode;
  /**
   * Called after success when the dialog is closed (reload the page's data there: a reload that re-rendered the
   * page while the dialog is open could unmount the button, and the result with it).
   */
  onDone?: (value: R) => void;
  disabled?: boolean;
  /** Why the button is disabled (shown next to it). */
  disabledReason?: string;
  testId?: string;
  className?: string;
}

type Phase = "closed" | "review" | "running" | "done" | "failed";

const STAGE_TEXT: Record<TxStep["stage"], string> = {
  estimating: "estimating…",
  wallet: "waiting for your wallet…",
  pending: "sent, waiting for a block…",
  mined: "mined",
  failed: "failed",
};

function eth(wei: bigint | undefined): string {
  if (wei === undefined) return "?";
  const text = formatEther(wei);
  const [whole, frac = ""] = text.split(".");
  return `${whole}.${frac.slice(0, 6).padEnd(1, "0")} ETH`.replace(/\.0+ ETH$/, ".0 ETH");
}

/**
 * A button that runs a transaction action through the transaction dialog. Disabled (with the reason) when no
 * wallet is connected or it is on another network. `data-testid`: the button `testId`, the dialog `tx-dialog`,
 * its confirm `tx-confirm`, close `tx-close`, status `tx-status` (data-phase = review | running | done | failed),
 * result `tx-result`, error `tx-error`.
 */
export function TxButton<R>(props: TxButtonProps<R>) {
  const config = useConfig();
  const wallet = useWallet();
  const explain = useExplainContext();
  const dialog = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  const [phase, setPhase] = useState<Phase>("closed");
  const [steps, setSteps] = useState<TxStep[]>([]);
  const [estimate, setEstimate] = useState<{ gas?: bigint; cost?: bigint; error?: string }>();
  const [result, setResult] = useState<ReactNode>();
  const [error, setError] = useState<string>();
  const done = useRef<{ value: R } | undefined>(undefined);
  const onDone = useRef(props.onDone);
  onDone.current = props.onDone;

  const walletReason =
    wallet.status !== "connected"
      ? "connect a wallet first"
      : wallet.wrongNetwork
        ? `switch your wallet to ${config.chainName}`
        : undefined;
  const reason = props.disabled ? props.disabledReason : walletReason;

  const context = useCallback(
    (report: (s: TxStep) => void): TxContext => {
      const signer = new TrackingSigner(wallet.signer!, config, report);
      return { contracts: connectContracts(config, signer), signer, account: wallet.account! };
    },
    [wallet.signer, wallet.account, config],
  );

  const open = () => {
    setPhase("review");
    setSteps([]);
    setResult(undefined);
    setError(undefined);
    setEstimate(undefined);
    if (props.estimateGas && wallet.signer) {
      const ctx = context(() => undefined);
      void (async () => {
        const gas = await props.estimateGas!(ctx);
        const fees = await wallet.signer!.provider!.getFeeData();
        setEstimate({ gas, cost: gas * (fees.maxFeePerGas ?? fees.gasPrice ?? 0n) });
      })().catch((err) => setEstimate({ error: errorSentence(err, explain) }));
    }
  };

  const confirm = async () => {
    setPhase("running");
    const report = (step: TxStep) => setSteps((list) => [...list.filter((s) => s.id !== step.id), step].sort((a, b) => a.id - b.id));
    try {
      const value = await props.run(context(report));
      setResult(props.result ? props.result(value) : "Done.");
      setPhase("done");
      done.current = { value };
    } catch (err) {
      setError(errorSentence(err, explain));
      setPhase("failed");
    }
  };

  const close = () => {
    dialog.current?.close();
  };
  // The dialog exists only while open (one `tx-dialog` in the page at a time): shown modally once mounted.
  const isOpen = phase !== "closed";
  useEffect(() => {
    const d = dialog.current;
    if (!isOpen || !d) return;
    if (!d.open) d.showModal();
    const onClose = () => {
      setPhase("closed");
      const finished = done.current;
      done.current = undefined;
      if (finished) onDone.current?.(finished.value);
    };
    d.addEventListener("close", onClose);
    return () => d.removeEventListener("close", onClose);
  }, [isOpen]);

  const totalPaid = steps.reduce((sum, s) => sum + (s.paid ?? 0n), 0n);
  return (
    <>
      <span className="tx-button">
        <button
          type="button"
          className={props.className ?? "primary"}
          onClick={open}
          disabled={reason !== undefined}
          data-testid={props.testId}
        >
          {props.label}
        </button>
        {reason && <small className="muted"> ({reason})</small>}
      </span>
      {isOpen && (
        <dialog ref={dialog} aria-labelledby={headingId} className="tx-dialog" data-testid="tx-dialog">
          <h2 id={headingId}>{props.title}</h2>
          {props.description && <div className="tx-description">{props.description}</div>}
          <dl className="facts">
            <dt>From</dt>
            <dd>
              <code>{wallet.account}</code>
              {wallet.option?.kind === "local" && " (local test account)"}
            </dd>
            <dt>Estimated cost</dt>
            <dd data-testid="tx-estimate">
              {estimate?.cost !== undefined
                ? `${eth(estimate.cost)} (${estimate.gas} gas)`
                : estimate?.error
                  ? `cannot estimate: ${estimate.error}`
                  : props.estimateGas
                    ? "estimating…"
                    : "shown for each transaction below, before your wallet asks"}
            </dd>
          </dl>
          <div aria-live="polite" data-testid="tx-status" data-phase={phase}>
            {steps.length > 0 && (
              <ol className="tx-steps">
                {steps.map((s) => (
                  <li key={s.id} data-stage={s.stage}>
                    <strong>{s.what}</strong>: {STAGE_TEXT[s.stage]}
                    {s.cost !== undefined && s.stage !== "mined" && ` (estimated ${eth(s.cost)})`}
                    {s.hash && (
                      <>
                        {" "}
                        <code title={s.hash}>{`${s.hash.slice(0, 10)}…`}</code>
                      </>
                    )}
                    {s.stage === "mined" && ` in block ${s.blockNumber}, ${s.gasUsed} gas, ${eth(s.paid)}`}
                  </li>
                ))}
              </ol>
            )}
            {phase === "running" && steps.length === 0 && <p>Preparing…</p>}
            {phase === "done" && (
              <p className="ok" data-testid="tx-result">
                {result}
                {totalPaid > 0n && ` Gas paid: ${eth(totalPaid)}.`}
              </p>
            )}
            {phase === "failed" && (
              <p className="error" role="alert" data-testid="tx-error">
                {error}
              </p>
            )}
          </div>
          <div className="dialog-actions">
            {phase === "review" && (
              <button type="button" className="primary" onClick={() => void confirm()} data-testid="tx-confirm" autoFocus>
                Confirm
              </button>
            )}
            <button type="button" onClick={close} disabled={phase === "running"} data-testid="tx-close">
              {phase === "review" ? "Cancel" : "Close"}
            </button>
          </div>
        </dialog>
      )}
    </>
  );
}
