import type { CommandResult, CommandSpec } from "./lib/command.ts";
import { fail, parseUint } from "./lib/common.ts";
import type { Context } from "./lib/context.ts";

/** Local chains only: chain:advance. */

export async function chainAdvance(ctx: Context, args: { seconds: string }): Promise<CommandResult> {
  const seconds = parseUint(args.seconds, "seconds", { min: 1n, max: 10n * 365n * 86_400n });
  try {
    await ctx.provider.send("evm_increaseTime", [Number(seconds)]);
  } catch {
    // Public nodes do not offer the development methods: that is what tells a local chain from a real one.
    fail(
      `chain:advance only works on a local chain (a Hardhat or Anvil node): network ${ctx.network} (chain ${await ctx.chainId()}) does not answer evm_increaseTime`,
    );
  }
  await ctx.provider.send("evm_mine", []);
  const now = Number(await ctx.latestTimestamp());
  return { data: { seconds, timestamp: now }, lines: [`Chain time is now ${new Date(now * 1000).toISOString()} (${now})`] };
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
