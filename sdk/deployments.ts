import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DeploymentNotFoundError } from "./errors";

/** Contract names a deployment record may hold. */
export type ContractName =
  | "DeviceRegistry"
  | "OracleCommittee"
  | "InsurancePool"
  | "ClaimsInsurance"
  | "DataMarketplace"
  | "TestToken";

/** What `deployments/<chainId>.json` holds: where the SDK, tasks and oracle find a deployment. */
export interface DeploymentRecord {
  chainId: number;
  /** Block the suite was deployed at: the oracle's default start block. */
  startBlock: number;
  contracts: Partial<Record<ContractName, string>>;
  /** The ERC-20 used for premiums, capital, payouts and marketplace prices. */
  token?: string;
  updatedAt: string;
}

/**
 * Default folder of deployment records: `$TRIAD_DEPLOYMENTS_DIR`, else `<project>/deployments`. (Tests and side by
 * side local chains point the variable at their own folder.)
 */
export function defaultDeploymentsDir(): string {
  return process.env.TRIAD_DEPLOYMENTS_DIR
    ? path.resolve(process.env.TRIAD_DEPLOYMENTS_DIR)
    : path.resolve(__dirname, "..", "deployments");
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
  let record: DeploymentRecord;
  try {
    record = JSON.parse(readFileSync(file, "utf8")) as DeploymentRecord;
  } catch (cause) {
    throw new DeploymentNotFoundError(`deployment record ${file} is not valid JSON`, { file });
  }
  // A record copied from (or saved for) another chain would point at the wrong contracts: refuse it, and anything
  // that is not a record at all, with a clear line rather than a TypeError later.
  if (typeof record !== "object" || record === null || typeof record.contracts !== "object" || record.contracts === null) {
    throw new DeploymentNotFoundError(`deployment record ${file} has no "contracts" object`, { file });
  }
  if (record.chainId !== Number(chainId)) {
    throw new DeploymentNotFoundError(`deployment record ${file} is for chain ${record.chainId}, not ${chainId}`, {
      file,
      chainId: Number(chainId),
      recordChainId: record.chainId,
    });
  }
  const missing = (options.required ?? []).filter((name) => !record.contracts[name]);
  if (missing.length > 0) {
    throw new DeploymentNotFoundError(`deployment record ${file} lacks ${missing.join(", ")}`, { file, missing });
  }
  return record;
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
