import { formatDuration, formatTimestamp } from "@triad/sdk";
import type { CommandResult, CommandSpec } from "./lib/command.ts";
import { CliError, fail, parseUint } from "./lib/common.ts";
import type { Context } from "./lib/context.ts";

/** Local chains only: chain:advance. */

export async function chainAdvance(ctx: Context, args: { seconds: string }): Promise<CommandResult> {
  const seconds = parseUint(args.seconds, "seconds", { min: 1n, max: 10n * 365n * 86_400n });
  // Moving the clock of a chain that holds no Triad deployment (a fresh node, a node restarted since the deploy,
  // the wrong --rpc-url) would "succeed" and change nothing the user cares about: refuse, saying why.
  try {
    await ctx.deployment(["ClaimsInsurance"]);
  } catch (err) {
    if (err instanceof CliError && (err.code === "NO_DEPLOYMENT" || err.code === "STALE_DEPLOYMENT")) {
      fail(`chain:advance would move the clock of a chain with no Triad deployment: ${err.message}`, err.code, err.details);
    }
    throw err;
  }
  const before = await ctx.latestTimestamp();
  try {
    await ctx.provider.send("evm_increaseTime", [Number(seconds)]);
  } catch {
    // Public nodes do not offer the development methods: that is what tells a local chain from a real one.
    fail(
      `chain:advance only works on a local chain (a Hardhat or Anvil node): network ${ctx.network} (chain ${await ctx.chainId()}) does not answer evm_increaseTime`,
      "NOT_A_LOCAL_CHAIN",
    );
  }
  await ctx.provider.send("evm_mine", []);
  const now = Number(await ctx.latestTimestamp());
  return {
    data: { seconds, timestamp: now },
    lines: [`Chain time is now ${formatTimestamp(now)} (${now}), ${formatDuration(BigInt(now) - before)} later`],
  };
}

export const chainCommands: CommandSpec[] = [
  {
    name: "chain:advance",
    group: "Local chains",
    summary: "Local chains only: moves the chain's clock forward and mines a block (skip waiting periods and appeal windows)",
    options: [{ name: "seconds", value: "<n>", description: "How many seconds to advance", required: true }],
    run: chainAdvance,
  },
];
