/**
 * @triad/sdk/node: everything of `@triad/sdk`, plus what needs Node: deployment records on disk and libsecp256k1's
 * native speed for signature recovery and signing (installed on import when the binding loads).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseDeploymentRecord, type ContractName, type DeploymentRecord } from "./deployments.ts";
import { DeploymentNotFoundError } from "./errors.ts";
import { useNativeSecp256k1, type NativeSecp256k1 } from "./recover.ts";

export * from "./index.ts";
export { startOpsServer, type HealthReport, type MetricsSource, type OpsServer } from "./node/ops-server.ts";
export * from "./node/ipfs.ts";

useNativeSecp256k1(
  (() => {
    try {
      return createRequire(import.meta.url)("secp256k1/bindings") as NativeSecp256k1;
    } catch {
      return undefined; // No binding for this platform: ethers' pure-JavaScript implementation stays in use.
    }
  })(),
);

/**
 * Default folder of deployment records: `$TRIAD_DEPLOYMENTS_DIR`, else `deployments/` in the working directory.
 * (Tests and side by side local chains point the variable at their own folder.)
 */
export function defaultDeploymentsDir(): string {
  return path.resolve(process.env.TRIAD_DEPLOYMENTS_DIR || "deployments");
}

export function deploymentPath(chainId: number | bigint, dir = defaultDeploymentsDir()): string {
  return path.join(dir, `${chainId}.json`);
}

/** Loads the record of `chainId`; `required` names contracts that must be in it. */
export function loadDeployment(
  chainId: number | bigint,
  options: { dir?: string; required?: readonly ContractName[] } = {},
): DeploymentRecord {
  const file = deploymentPath(chainId, options.dir);
  if (!existsSync(file)) {
    throw new DeploymentNotFoundError(`no deployment for chain ${chainId}: ${file} does not exist (run npm run deploy first)`, {
      chainId: Number(chainId),
      file,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new DeploymentNotFoundError(`deployment record ${file} is not valid JSON`, { file });
  }
  return parseDeploymentRecord(value, chainId, { source: file, required: options.required });
}

/** Writes the record atomically (temp file + rename), so a crash never leaves half a file. */
export function saveDeployment(record: DeploymentRecord, dir = defaultDeploymentsDir()): string {
  mkdirSync(dir, { recursive: true });
  const file = deploymentPath(record.chainId, dir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(record, null, 2) + "\n");
  renameSync(tmp, file);
  return file;
}
