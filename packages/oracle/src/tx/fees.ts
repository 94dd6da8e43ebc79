/**
 * Transaction fees from what the node saw recently, the way careful operators price them:
 *  - EIP-1559 chains: `eth_feeHistory` over the last {@link FEE_HISTORY_BLOCKS} blocks at the
 *    {@link FEE_HISTORY_PERCENTILE}th percentile of priority fees gives the tip (the median over those blocks, at
 *    least {@link MIN_TIP_WEI}); maxFeePerGas = 2 × the next block's base fee + tip, which stays valid through six
 *    full blocks of base-fee rises (each at most +12.5 %);
 *  - chains without a base fee: the node's `eth_gasPrice`.
 * Both are capped at `maxFeeWei` (ORACLE_TX_MAX_FEE_GWEI). {@link bumpFees} prices a replacement.
 */
import type { Provider } from "ethers";
import { classifyRpcError, type Rpc } from "../chain.ts";

/** EIP-1559 fees (type 2) or a legacy gas price (type 0). */
export type Fees = { type: 2; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { type: 0; gasPrice: bigint };

export const FEE_HISTORY_BLOCKS = 5;
export const FEE_HISTORY_PERCENTILE = 50;
/** Tip used when recent blocks paid none (idle or development chains): what ethers and Hardhat default to. */
export const MIN_TIP_WEI = 1_000_000_000n;
/** geth refuses a replacement that does not raise both fees by at least 10 %. */
export const MIN_BUMP_PERCENT = 10;

/** A provider that forwards raw JSON-RPC requests (JsonRpcProvider, Hardhat's provider). */
type Sender = { send(method: string, params: unknown[]): Promise<unknown> };

const hasSend = (p: Provider): p is Provider & Sender => typeof (p as Partial<Sender>).send === "function";

interface FeeHistory {
  baseFeePerGas?: string[];
  reward?: string[][];
}

function median(values: bigint[]): bigint {
  if (values.length === 0) return 0n;
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted[Math.floor(sorted.length / 2)];
}

/** Fees for a transaction sent now, capped at `maxFeeWei`. */
export async function estimateFees(deps: { provider: Provider; rpc: Rpc }, maxFeeWei: bigint): Promise<Fees> {
  const { provider, rpc } = deps;
  const history = hasSend(provider)
    ? ((await rpc
        .call("eth_feeHistory", () =>
          provider.send("eth_feeHistory", [`0x${FEE_HISTORY_BLOCKS.toString(16)}`, "latest", [FEE_HISTORY_PERCENTILE]]),
        )
        .catch((error: unknown) => {
          // A node without eth_feeHistory (method not found): ethers' estimate below. Node trouble is thrown.
          if (classifyRpcError(error) !== "permanent") throw error;
          return undefined;
        })) as FeeHistory | undefined)
    : undefined;
  if (hasSend(provider) && history) {
    const baseFees = history.baseFeePerGas ?? [];
    // The last entry is the next block's base fee (eth_feeHistory returns blockCount + 1 of them).
    const nextBaseFee = baseFees.length > 0 ? BigInt(baseFees[baseFees.length - 1]) : 0n;
    if (nextBaseFee > 0n) {
      const rewards = (history.reward ?? []).map((r) => BigInt(r[0] ?? 0)).filter((r) => r > 0n);
      const tip = rewards.length > 0 ? median(rewards) : MIN_TIP_WEI;
      return capFees({ type: 2, maxFeePerGas: 2n * nextBaseFee + tip, maxPriorityFeePerGas: tip }, maxFeeWei);
    }
    const gasPrice = BigInt((await rpc.call("eth_gasPrice", () => provider.send("eth_gasPrice", []))) as string);
    return capFees({ type: 0, gasPrice }, maxFeeWei);
  }
  // Any other provider: ethers' own estimate (latest block's base fee, 1 gwei tip).
  const data = await rpc.call("eth_getFeeData", () => provider.getFeeData());
  if (data.maxFeePerGas !== null && data.maxPriorityFeePerGas !== null) {
    return capFees({ type: 2, maxFeePerGas: data.maxFeePerGas, maxPriorityFeePerGas: data.maxPriorityFeePerGas }, maxFeeWei);
  }
  return capFees({ type: 0, gasPrice: data.gasPrice ?? MIN_TIP_WEI }, maxFeeWei);
}

/** `fees` with every price at most `maxFeeWei` (and the tip at most the max fee). */
export function capFees(fees: Fees, maxFeeWei: bigint): Fees {
  if (fees.type === 0) return { type: 0, gasPrice: fees.gasPrice > maxFeeWei ? maxFeeWei : fees.gasPrice };
  const maxFeePerGas = fees.maxFeePerGas > maxFeeWei ? maxFeeWei : fees.maxFeePerGas;
  const maxPriorityFeePerGas = fees.maxPriorityFeePerGas > maxFeePerGas ? maxFeePerGas : fees.maxPriorityFeePerGas;
  return { type: 2, maxFeePerGas, maxPriorityFeePerGas };
}

const raise = (value: bigint, percent: number) => value + (value * BigInt(Math.round(percent * 100))) / 10_000n + 1n;
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/**
 * The fees of a replacement for a transaction sent with `previous`: each price raised by `bumpPercent` (at least
 * {@link MIN_BUMP_PERCENT}), or to the current estimate when that is higher, capped at `maxFeeWei`. `capped` says that
 * the cap kept the replacement from raising both prices by the minimum bump: the node would refuse it as
 * underpriced, so the caller sends the old transaction again instead (and alerts).
 */
export function bumpFees(previous: Fees, current: Fees, bumpPercent: number, maxFeeWei: bigint): { fees: Fees; capped: boolean } {
  const percent = Math.max(bumpPercent, MIN_BUMP_PERCENT);
  if (previous.type === 0) {
    const wanted = max(raise(previous.gasPrice, percent), current.type === 0 ? current.gasPrice : current.maxFeePerGas);
    const fees = capFees({ type: 0, gasPrice: wanted }, maxFeeWei) as Extract<Fees, { type: 0 }>;
    return { fees, capped: fees.gasPrice < raise(previous.gasPrice, MIN_BUMP_PERCENT) };
  }
  const now = current.type === 2 ? current : { maxFeePerGas: current.gasPrice, maxPriorityFeePerGas: current.gasPrice };
  const fees = capFees(
    {
      type: 2,
      maxFeePerGas: max(raise(previous.maxFeePerGas, percent), now.maxFeePerGas),
      maxPriorityFeePerGas: max(raise(previous.maxPriorityFeePerGas, percent), now.maxPriorityFeePerGas),
    },
    maxFeeWei,
  ) as Extract<Fees, { type: 2 }>;
  const capped =
    fees.maxFeePerGas < raise(previous.maxFeePerGas, MIN_BUMP_PERCENT) ||
    fees.maxPriorityFeePerGas < raise(previous.maxPriorityFeePerGas, MIN_BUMP_PERCENT);
  return { fees, capped };
}

/** The most a transaction with `fees` and `gasLimit` can cost (what the node checks the balance against). */
export function maxCost(fees: Fees, gasLimit: bigint): bigint {
  return gasLimit * (fees.type === 0 ? fees.gasPrice : fees.maxFeePerGas);
}
