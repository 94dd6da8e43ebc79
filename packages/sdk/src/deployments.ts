import { DeploymentNotFoundError } from "./errors.ts";

/** Contract names a deployment record may hold. */
export type ContractName = "DeviceRegistry" | "OracleCommittee" | "InsurancePool" | "ClaimsInsurance" | "DataMarketplace" | "TestToken";

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
 * Checks a parsed deployment record: an object with `contracts`, saved for `chainId`, holding the `required`
 * contracts. `source` names where it came from in the error (a file, a URL). A record copied from (or saved for)
 * another chain would point at the wrong contracts: it is refused with a clear line rather than a TypeError later.
 */
export function parseDeploymentRecord(
  value: unknown,
  chainId: number | bigint,
  options: { source: string; required?: readonly ContractName[] },
): DeploymentRecord {
  const { source } = options;
  const record = value as DeploymentRecord;
  if (typeof record !== "object" || record === null || typeof record.contracts !== "object" || record.contracts === null) {
    throw new DeploymentNotFoundError(`deployment record ${source} has no "contracts" object`, { file: source });
  }
  if (record.chainId !== Number(chainId)) {
    throw new DeploymentNotFoundError(`deployment record ${source} is for chain ${record.chainId}, not ${chainId}`, {
      file: source,
      chainId: Number(chainId),
      recordChainId: record.chainId,
    });
  }
  const missing = (options.required ?? []).filter((name) => !record.contracts[name]);
  if (missing.length > 0) {
    throw new DeploymentNotFoundError(`deployment record ${source} lacks ${missing.join(", ")}`, { file: source, missing });
  }
  return record;
}
