import { explainContractError, TriadError, type ExplainContext } from "@triad/sdk";

/**
 * Any error as one sentence, the way the CLI maps them (packages/cli/src/lib/common.ts `toCliError`): a revert as its
 * contract error's sentence from the SDK (`explainContractError`: amounts in tokens, "you" for the acting account),
 * our TriadErrors as their message, a wallet refusal, missing gas money, a node that stopped answering, else the
 * library's short message. Never a stack trace.
 */
export function errorSentence(err: unknown, ctx: ExplainContext = {}): string {
  if (err instanceof TriadError) return err.message;
  const contract = explainContractError(err, ctx);
  if (contract) return contract.message;
  const e = err as {
    code?: string | number;
    shortMessage?: string;
    message?: string;
    value?: unknown;
    info?: { error?: { code?: number; message?: string } };
  };
  const walletCode = e?.info?.error?.code ?? e?.code;
  if (walletCode === 4001 || walletCode === "ACTION_REJECTED") return "you declined the request in your wallet";
  if (e?.code === "INSUFFICIENT_FUNDS" || /doesn't have enough funds|insufficient funds/i.test(e?.message ?? "")) {
    return "the account has not enough ETH to pay for gas";
  }
  if (e?.code === "BAD_DATA" && e.value === "0x") {
    return "a contract of the deployment answered nothing: config.json does not match this chain (deploy again, or fix config.json)";
  }
  if (
    e?.code === "NETWORK_ERROR" ||
    e?.code === "TIMEOUT" ||
    e?.code === "SERVER_ERROR" ||
    /failed to fetch|network/i.test(e?.message ?? "")
  ) {
    return `lost the connection to the node: ${e?.shortMessage ?? e?.message ?? String(err)}`;
  }
  const text = e?.shortMessage ?? e?.info?.error?.message ?? e?.message ?? String(err);
  // Keep one line: ethers appends the request and a version after a parenthesis.
  return text
    .split("\n")[0]
    .replace(/ \(action=.*$/, "")
    .replace(/ \(code=.*$/, "");
}
