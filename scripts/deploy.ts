/**
 * `npm run deploy -- --network <name>`: deploys (or resumes) the suite with Ignition, configures it and records the
 * addresses in deployments/<chainId>.json (or $TRIAD_DEPLOYMENTS_DIR/<chainId>.json).
 */
import path from "node:path";
import hre from "hardhat";
import { deploymentPath } from "../sdk";
import { deployTriad } from "./lib/deploy";
import { step } from "./lib/report";

async function main() {
  step(`Deploying Triad to network "${hre.network.name}"`);
  const { record } = await deployTriad(hre);
  for (const [name, address] of Object.entries(record.contracts)) step(`${name.padEnd(16)} ${address}`);
  if (hre.network.name === "hardhat") {
    step("Note: the in-process hardhat network ends with this command; use --network localhost with `npx hardhat node`.");
  } else {
    // $TRIAD_DEPLOYMENTS_DIR, when set, moves the record elsewhere: name the file actually written.
    const file = deploymentPath(record.chainId);
    const relative = path.relative(process.cwd(), file);
    step(`Recorded in ${relative.startsWith("..") ? file : relative}`);
  }
}

main().catch((err) => {
  console.error(`deploy failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
