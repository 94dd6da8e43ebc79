/**
 * @triad/cli as a library: `runCli(argv, options)` runs one `triad` command line in-process (tests, scripts), and
 * each command is a function `(ctx, args) => Promise<{ data, lines }>` that can be called directly with a
 * {@link createContext} context.
 */
export { COMMANDS, DEFAULT_RPC_URL, main, runCli, type RunCliOptions } from "./cli.ts";
export { createContext, type AccountChoice, type Context, type ContextParams } from "./lib/context.ts";
export { commandHelp, mainHelp, type CommandResult, type CommandSpec, type OptionSpec } from "./lib/command.ts";
export {
  CliError,
  UsageError,
  checkPrivateKey,
  contractErrors,
  decodeCustomError,
  describeError,
  formatAmount,
  parseAddress,
  parseAmount,
  parsePrivateKey,
  parseUint,
} from "./lib/common.ts";
export { deviceRegister, deviceResume, deviceRevoke, deviceShow, deviceSuspend, readingsAnchor } from "./devices.ts";
export { marketAccess, marketBuy, marketDeliver, marketList, marketRefund, marketWithdraw } from "./market.ts";
export {
  DEFAULT_EVIDENCE_STORE,
  claimAppeal,
  claimFile,
  claimSettle,
  claimShow,
  policyBuy,
  poolCancelWithdrawal,
  poolClaimWithdrawal,
  poolDeposit,
  poolRequestWithdrawal,
  poolShow,
} from "./insurance.ts";
export { evidenceBuild } from "./evidence.ts";
export { chainAdvance } from "./chain.ts";
