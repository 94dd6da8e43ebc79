/**
 * `npm run deploy -- --network <name>`: deploys (or resumes) the suite with Ignition, configures it and records the
 * addresses in deployments/<chainId>.json (or $TRIAD_DEPLOYMENTS_DIR/<chainId>.json).
 */
import path from "node:path";
import { deploymentPath } from "@triad/sdk/node";
import { deployTriad } from "./deploy.ts";
import { connection, inProcess } from "./network.ts";

try {
  console.log(`Deploying Triad to network "${connection.networkName}"`);
  const { record } = await deployTriad();
  for (const [name, address] of Object.entries(record.contracts)) console.log(`  ${name.padEnd(16)} ${address}`);
  if (inProcess) {
    console.log("Note: the in-process chain ends with this command; use --network localhost with `npx hardhat node`.");
  } else {
    // $TRIAD_DEPLOYMENTS_DIR, when set, moves the record elsewhere: name the file actually written.
    const file = deploymentPath(record.chainId);
    const relative = path.relative(process.cwd(), file);
    console.log(`Recorded in ${relative.startsWith("..") ? file : relative}`);
  }
} catch (err) {
  console.error(`error: deploy failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
