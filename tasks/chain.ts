import { task } from "hardhat/config";
import { LOCAL_CHAIN_IDS } from "../scripts/lib/deploy";
import { action, fail, output, parseUint } from "./lib/common";

task("chain:advance", "Local chains only: moves the chain's clock forward and mines a block (skip waiting periods and appeal windows)")
  .addParam("seconds", "How many seconds to advance")
  .addFlag("json", "Print one JSON object instead of human output")
  .setAction(
    action(async (args: { seconds: string; json: boolean }, hre) => {
      const seconds = parseUint(args.seconds, "seconds", { min: 1n, max: 10n * 365n * 86_400n });
      const { chainId } = await hre.ethers.provider.getNetwork();
      if (!LOCAL_CHAIN_IDS.has(Number(chainId))) fail(`chain:advance only works on a local chain, not chain ${chainId}`);
      await hre.network.provider.send("evm_increaseTime", [Number(seconds)]);
      await hre.network.provider.send("evm_mine", []);
      const now = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
      output(args.json, { seconds, timestamp: now }, [`Chain time is now ${new Date(now * 1000).toISOString()} (${now})`]);
    }),
  );
