/**
 * @triad/cli as a library: `runCli(argv, options)` runs one `triad` command line in-process (tests, scripts), and
 * each command is a function `(ctx, args) => Promise<{ data, lines }>` that can be called directly with a
 * {@link createContext} context.
 */
export { COMMANDS, DEFAULT_RPC_URL, main, runCli, type RunCliOptions } from "./cli.ts";
export { createContext, type AccountChoice, type Context, type ContextParams, type ProgressOutput } from "./lib/context.ts";
export { commandHelp, mainHelp, type CommandResult, type CommandSpec, type OptionSpec } from "./lib/command.ts";
export {
  CliError,
  EXIT_CODES,
  UsageError,
  checkPrivateKey,
  describeError,
  toCliError,
  formatAmount,
  parseAddress,
  parseAmount,
  parsePrivateKey,
  parseUint,
} from "./lib/common.ts";
export {
  deviceGateway,
  deviceList,
  deviceRegister,
  deviceResume,
  deviceRevoke,
  deviceShow,
  deviceSuspend,
  readingsAnchor,
  readingsList,
} from "./devices.ts";
export {
  marketAccess,
  marketBuy,
  marketDeliver,
  marketList,
  marketListings,
  marketPurchases,
  marketRefund,
  marketShow,
  marketWithdraw,
} from "./market.ts";
export {
  DEFAULT_EVIDENCE_STORE,
  claimAppeal,
  claimFile,
  claimList,
  claimSettle,
  claimShow,
  policyBuy,
  policyList,
  policyShow,
  poolCancelWithdrawal,
  poolClaimWithdrawal,
  poolDeposit,
  poolRequestWithdrawal,
  poolShow,
} from "./insurance.ts";
export { evidenceBuild, shippedModelWindow, type EvidenceBuildArgs, type EvidenceWindow } from "./evidence.ts";
export { claimCheck, type ClaimCheckArgs } from "./claim-check.ts";
export { chainAdvance } from "./chain.ts";
